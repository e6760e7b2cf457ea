# Application deploy, step 2: make sure the application's engine version (language and
# engine_version) is installed for the deploy user under
# $HOME/.devopness/runtimes/<language>/<version>/ (workers/scripts/lib/runtime.sh). The
# steps after this one run with its bin directory first on PATH. A rollback needs it too:
# it is only skipped when already there, like any deploy.
finish() {
  local status=$?
  [ -z "$DV_RUNTIME_WORK" ] || rm -rf -- "$DV_RUNTIME_WORK"
  if [ "$status" -ne 0 ] && [ "$DEVOPNESS_DEPLOY_TYPE" != rollback ]; then
    # Like a failed build: the new release (the one the fetch step claimed) goes, the live
    # one stays.
    dv_release_of_action
    if [ -n "$DV_RELEASE" ]; then
      dv_release_remove "$DV_RELEASE"
      dv_log "release $DV_RELEASE removed; the live release is unchanged"
    fi
  fi
  return "$status"
}
trap finish EXIT

language=${DEVOPNESS_APP_LANGUAGE:-}
version=${DEVOPNESS_APP_ENGINE_VERSION:-}
[ -z "${DEVOPNESS_APP_RUNTIME_PROBLEM:-}" ] || dv_fail "$DEVOPNESS_APP_RUNTIME_PROBLEM"
bin=$(dv_runtime_bin)
if [ -z "$bin" ]; then
  dv_log "no runtime needed (${language:-no language}${version:+ $version})"
  exit 0
fi
dv_log "runtime: $(dv_runtime_human "$language") $version in ${bin%/bin} (source: $DEVOPNESS_RUNTIME_MIRROR, setting $DEVOPNESS_RUNTIME_MIRROR_SETTING)"
declare -F "dv_runtime_source_$language" >/dev/null \
  || dv_fail "there is no runtime source for the language '$language'"
dv_runtime_ensure "$language" "$version" "${bin%/bin}"
