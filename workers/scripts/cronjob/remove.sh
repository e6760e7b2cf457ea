# Cron job removal: take our block ("# BEGIN devopness cronjob <id>" ... "# END ...") out
# of the run-as user's crontab; every other line stays as it is. Nothing to do when the
# block (or the user) is already gone.
id=${DEVOPNESS_CRONJOB_ID:?}
user=${DEVOPNESS_CRONJOB_USER:?}
[[ $id =~ ^[0-9]+$ ]] || dv_fail "invalid cron job id '$id'"
[[ $user =~ ^[a-z_][a-z0-9_.-]*\$?$ ]] || dv_fail "invalid user name '$user'"

if [ "$user" != "$(id -un)" ] && ! id -u -- "$user" >/dev/null 2>&1; then
  dv_log "user '$user' does not exist on this server: no crontab to clean"
  exit 0
fi
dv_crontab_of "$user"

dv_crontab_read "$user"
if [ -n "$DV_CRONTAB_NONE" ]; then
  dv_log "$user has no crontab: cron job $id is not installed"
  exit 0
fi
if ! grep -qxF "# BEGIN devopness cronjob $id" "$work/current"; then
  dv_log "cron job $id is not in the crontab of $user (nothing to remove)"
  exit 0
fi

awk -v begin="# BEGIN devopness cronjob $id" -v end="# END devopness cronjob $id" '
  $0 == begin { skip = 1; next }
  $0 == end && skip { skip = 0; next }
  !skip { print }
' "$work/current" >"$work/next"

if [ -s "$work/next" ]; then
  chmod 644 "$work/next"
  "${cron[@]}" "$work/next" >"$work/err" 2>&1 \
    || dv_fail "crontab refused the change for $user (nothing changed): $(cat "$work/err")"
else
  # Ours was the only entry: leave the user without a crontab, as before the deploy.
  "${cron[@]}" -r >"$work/err" 2>&1 || dv_fail "cannot remove the crontab of $user: $(cat "$work/err")"
fi
dv_log "removed cron job $id from the crontab of $user"
