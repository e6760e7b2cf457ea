# Application deploy, step 2: run the install dependencies and build commands in the new
# release (its root directory), as the SSH user. A failure removes the new release:
# `current` and the live release stay as they were. With no command to run it does not
# run at all: the engine completes it and fetch.sh marks the release built
# (DEVOPNESS_NOOP_SCRIPTS, app/applications/deploy_context.py).
app_dir=$(dv_app_dir)
meta="$app_dir/.devopness"

if [ "$DEVOPNESS_DEPLOY_TYPE" = rollback ]; then
  dv_log "rollback: nothing to build"
  exit 0
fi
# The release this action's fetch step claimed (workers/scripts/lib/release.sh).
dv_release_of_action
release_id=$DV_RELEASE
[ -n "$release_id" ] && [ -d "$app_dir/releases/$release_id" ] \
  && [ -e "$meta/releases/$release_id.commit" ] \
  || dv_fail "the release of this deploy is missing: the fetch step did not complete"
release=$(dv_release_dir "$release_id")

built=0
finish() {
  local status=$?
  if [ "$built" != 1 ]; then
    dv_release_remove "$release_id"
    dv_log "release $release_id removed; the live release is unchanged"
  fi
  return "$status"
}
trap finish EXIT

app_root="$release${DEVOPNESS_APP_ROOT_DIRECTORY:+/$DEVOPNESS_APP_ROOT_DIRECTORY}"

# The application's engine version (installed by the "Install runtime" step) comes first.
runtime_bin=$(dv_runtime_bin)
if [ -n "$runtime_bin" ]; then
  [ -d "$runtime_bin" ] \
    || dv_fail "the runtime $runtime_bin is missing: the Install runtime step did not complete"
  export PATH="$runtime_bin:$PATH"
  dv_log "runtime on PATH: $runtime_bin ($(dv_runtime_version "$DEVOPNESS_APP_LANGUAGE" "$runtime_bin" 2>&1))"
fi

# run_app_command NAME COMMAND: COMMAND in the release's root directory with the
# application's environment variables, none of the deploy's own parameters (tokens,
# keys) and no stdin (stdin is this script).
run_app_command() {
  local name=$1 command=$2 status=0
  dv_log "$name: $command"
  (
    cd -- "$app_root" || exit 1
    # The runtime stays first even when a variable of the application sets PATH.
    dv_app_command_env "$runtime_bin"
    export APP_DIR="$app_dir" APP_SHARED_DIR="$app_dir/shared" APP_RELEASE_DIR="$release"
    exec /bin/bash -c "$command" </dev/null
  ) || status=$?
  [ "$status" -eq 0 ] || dv_fail "$name failed (exit code $status); the live release is unchanged"
}

# The labels say when a command is the stack's default (app/static_options/stacks.py).
if [ -n "$DEVOPNESS_APP_INSTALL_COMMAND" ]; then
  run_app_command "${DEVOPNESS_APP_INSTALL_LABEL:-install dependencies}" "$DEVOPNESS_APP_INSTALL_COMMAND"
else
  dv_log "no install dependencies command"
fi
if [ -n "$DEVOPNESS_APP_BUILD_COMMAND" ]; then
  run_app_command "${DEVOPNESS_APP_BUILD_LABEL:-build}" "$DEVOPNESS_APP_BUILD_COMMAND"
else
  dv_log "no build command"
fi

cp -- "$meta/releases/$release_id.commit" "$meta/releases/$release_id.ready"
built=1
dv_log "release $release_id is ready"
