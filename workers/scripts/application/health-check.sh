# Application deploy, step 4 (beyond the reference): check the live release with the
# application variable DEVOPNESS_HEALTH_CHECK_URL (curl) or DEVOPNESS_HEALTH_CHECK_COMMAND
# (run in the release). When it fails, `current` switches back to the release live before
# this deploy, daemons and nginx pick that one up again, and a release made by this deploy
# is removed.
app_dir=$(dv_app_dir)
url=${DEVOPNESS_HEALTH_CHECK_URL:-}
command=${DEVOPNESS_HEALTH_CHECK_COMMAND:-}
if [ -z "$url" ] && [ -z "$command" ]; then
  dv_log "no health check configured (application variable DEVOPNESS_HEALTH_CHECK_URL or DEVOPNESS_HEALTH_CHECK_COMMAND)"
  exit 0
fi
dv_release_live
live_id=$DV_LIVE
[ -n "$live_id" ] || dv_fail "the application has no live release"
release=$(dv_release_dir "$live_id") || dv_fail "the live release $live_id is missing"
retries=${DEVOPNESS_HEALTH_CHECK_RETRIES:-5}
timeout=${DEVOPNESS_HEALTH_CHECK_TIMEOUT:-10}
case $retries in '' | *[!0-9]*) retries=5 ;; esac
case $timeout in '' | *[!0-9]*) timeout=10 ;; esac
[ "$retries" -ge 1 ] || retries=1

app_root="$release${DEVOPNESS_APP_ROOT_DIRECTORY:+/$DEVOPNESS_APP_ROOT_DIRECTORY}"
runtime_bin=$(dv_runtime_bin)
[ -z "$runtime_bin" ] || export PATH="$runtime_bin:$PATH"
check_once() {
  if [ -n "$url" ]; then
    curl -fsS -o /dev/null --max-time "$timeout" -- "$url" </dev/null 2>&1 || return 1
  fi
  if [ -n "$command" ]; then
    (
      cd -- "$app_root" || exit 1
      dv_app_command_env "$runtime_bin"
      export APP_DIR="$app_dir" APP_SHARED_DIR="$app_dir/shared" APP_RELEASE_DIR="$release"
      exec timeout "$timeout" /bin/bash -c "$command" </dev/null
    ) 2>&1 || return 1
  fi
}

what=${url:+"$url"}${url:+${command:+ and }}${command:+"the health check command"}
attempt=1
while :; do
  if out=$(check_once); then
    [ -n "$out" ] && printf '%s\n' "$out"
    dv_log "health check passed: $what (release $live_id)"
    exit 0
  fi
  [ -n "$out" ] && printf '%s\n' "$out"
  [ "$attempt" -ge "$retries" ] && break
  dv_log "health check attempt $attempt of $retries failed; retrying in 3 seconds"
  attempt=$((attempt + 1))
  sleep 3
done

failed="health check failed after $retries attempt(s): $what (release $live_id)"
dv_release_lock
# The release live before the one checked: the activate step wrote it with the release it
# made live; one recorded for another release is not this deploy's (a file of an older
# version of the scripts names none).
dv_release_record_read
previous=$DV_RECORD_BEFORE made_live=$DV_RECORD_LIVE
if [ -n "$made_live" ] && [ "$made_live" != "$live_id" ]; then
  dv_fail "$failed; the release live before it is not known (the record names release $made_live), so current was left at release $live_id"
fi
if [ -n "$previous" ] && { [ "$previous" = "$live_id" ] || [ ! -d "$app_dir/releases/$previous" ]; }; then
  # Never `rm current` for a release that is known but cannot be switched to.
  dv_fail "$failed; release $previous, live before it, cannot be switched back to, so current was left at release $live_id"
fi
dv_release_switch "$previous"
back=${previous:+"release $previous"}
back=${back:-"no release (there was none before)"}
# Daemons and nginx go back to that release too (helpers in subshells with errexit in
# force: they exit on failure, and a failure here must not stop the switch back).
for id in ${DEVOPNESS_APP_DAEMON_IDS:-}; do
  dv_run_helper dv_daemon_restart "$id"
  [ "$DV_HELPER_STATUS" -eq 0 ] || dv_warn "daemon $id did not restart"
done
if [ "${DEVOPNESS_APP_RELOAD_NGINX:-0}" = 1 ]; then
  dv_run_helper dv_nginx_reload
  [ "$DV_HELPER_STATUS" -eq 0 ] || dv_warn "nginx did not reload"
fi
# The release this deploy made goes (not a rollback's target: it was there before).
dv_release_of_action
if [ -n "$DV_RELEASE" ] && [ "$live_id" = "$DV_RELEASE" ]; then dv_release_remove "$live_id"; fi
dv_fail "$failed; current switched back to $back"
