# Application deploy, step 2: make sure the application's engine version (language and
# engine_version) is installed for the deploy user under
# $HOME/.devopness/runtimes/<language>/<version>/ (workers/scripts/lib/runtime.sh). The
# steps after this one run with its bin directory first on PATH. A rollback needs it too:
# it is only skipped when already there, like any deploy.
app_dir="${DEVOPNESS_APPLICATIONS_DIR:-${DEVOPNESS_APPS_DIR:-$HOME}}/$DEVOPNESS_APPLICATION_DIR_NAME"
release_id=$DEVOPNESS_ACTION_ID
finish() {
  local status=$?
  [ -z "$DV_RUNTIME_WORK" ] || rm -rf -- "$DV_RUNTIME_WORK"
  if [ "$status" -ne 0 ] && [ "$DEVOPNESS_DEPLOY_TYPE" != rollback ]; then
    # Like a failed build: the new release goes, the live one stays.
    rm -rf -- "$app_dir/releases/$release_id" "$app_dir/.devopness/releases/$release_id".*
    dv_log "release $release_id removed; the live release is unchanged"
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
