# Application deploy, step 3: make a release live. `current` is switched atomically (a new
# link renamed over the old one), then the application's daemons are installed or updated
# and restarted in it, nginx reloads when virtual hosts serve it and its cron jobs are
# installed; when a daemon does not start (its last output is in the log) or nginx refuses,
# `current` switches back and the daemons restart in the previous release. Old releases beyond
# `deployments_keep` are removed (never the live one, nor the one live before it).
# devopness: helpers daemon service system reload only when DEVOPNESS_APP_DAEMONS
# devopness: helpers cronjob system reload only when DEVOPNESS_APP_CRONJOBS
# devopness: helpers nginx service system reload only when DEVOPNESS_APP_RELOAD_NGINX=1
dv_app_dir_set
app_dir=$DV_APP_DIR
meta="$app_dir/.devopness"
dv_release_lock
# The release this action's fetch step claimed ("" for a rollback).
dv_release_of_action
action_release=$DV_RELEASE
dv_release_live
live_id=$DV_LIVE
# The release to switch back to when this one is refused (here or by the health check).
before=$live_id
# A retry of an action lost after its own switch (the record below names that action and
# the release it made live, still live): that release was never checked, so the one live
# before it stays the one to go back to, and a rollback has already happened.
switched=""
if [ -n "${DEVOPNESS_RETRY_OF:-}" ] && [ -n "$live_id" ]; then
  dv_release_record_read
  if [ "$DV_RECORD_ACTION" = "$DEVOPNESS_RETRY_OF" ] && [ "$DV_RECORD_LIVE" = "$live_id" ]; then
    before=$DV_RECORD_BEFORE switched=1
    dv_log "action $DV_RECORD_ACTION was lost after it made release $live_id live: release ${before:-none} is the one live before"
  fi
fi

if [ "$DEVOPNESS_DEPLOY_TYPE" = rollback ] && [ -n "$switched" ]; then
  target=$live_id
  dv_log "the rollback to release $target was made by action $DEVOPNESS_RETRY_OF; completing it"
elif [ "$DEVOPNESS_DEPLOY_TYPE" = rollback ]; then
  [ -n "$live_id" ] || dv_fail "there is no live release to roll back from"
  target=""
  dv_release_ready
  for name in "${DV_READY[@]}"; do
    if dv_release_older "$name" "$live_id"; then target=$name; fi
  done
  [ -n "$target" ] || dv_fail "there is no release older than the live release $live_id to roll back to"
  dv_log "rolling back from release $live_id to release $target"
else
  target=$action_release
  [ -n "$target" ] && [ -d "$app_dir/releases/$target" ] && [ -e "$meta/releases/$target.ready" ] \
    || dv_fail "release ${target:-of this deploy} was not built: nothing to activate"
fi

# Whether anything takes up the live release (daemons, virtual hosts, cron jobs): only then
# are the reload helpers (lib/reload.sh) parsed, and called.
reloads=""
if [ -n "${DEVOPNESS_APP_DAEMONS:-}${DEVOPNESS_APP_CRONJOBS:-}" ] \
  || [ "${DEVOPNESS_APP_RELOAD_NGINX:-0}" = 1 ]; then reloads=1; fi
DV_RELOAD_FAILED=0

# The record of this switch, for this deploy's health check to switch back (health-check.sh)
# and for a retry (above): written only when the health check has work or for a rollback (a
# `mv` fewer on every server otherwise).
if [ "$DEVOPNESS_DEPLOY_TYPE" = rollback ] || ! dv_noop application/health-check; then
  dv_release_record_write "$before" "$target"
fi
dv_release_switch "$target"
dv_log "current -> releases/$target"
[ -z "$reloads" ] || dv_reload_users
if [ "$DV_RELOAD_FAILED" = 1 ]; then
  dv_release_switch "$before"
  dv_reload_users
  if [ "$target" = "$action_release" ]; then dv_release_remove "$target"; fi
  dv_fail "the application's daemons, virtual hosts or cron jobs did not take release $target; current switched back to ${before:-nothing}"
fi
if [ "$DEVOPNESS_DEPLOY_TYPE" = rollback ]; then
  commit=""
  { IFS= read -r commit || true; } <"$meta/releases/$target.commit" || true
  # The action that deployed the release (a legacy release is named by it): the control
  # plane copies the commit's details from it.
  dv_release_owner_set "$target" || true
  dv_result release "$target" commit "$commit" clone_url "$DEVOPNESS_GIT_URL" \
    release_action "$DV_OWNER"
else
  dv_result release "$target"
fi

# Keep the newest `deployments_keep` releases, the live one and the ones live before it.
keep=${DEVOPNESS_APP_KEEP:-5}
dv_release_ready
releases=("${DV_READY[@]}")
count=0
for ((i = ${#releases[@]} - 1; i >= 0; i--)); do
  name=${releases[i]}
  count=$((count + 1))
  [ "$count" -le "$keep" ] && continue
  [ "$name" = "$target" ] || [ "$name" = "$live_id" ] || [ "$name" = "$before" ] && continue
  dv_release_remove "$name"
  dv_log "removed old release $name"
done
