# Cron job removal: take our block ("# BEGIN devopness cronjob <id>" ... "# END ...") out
# of the run-as user's crontab; every other line stays as it is. Nothing to do when the
# block (or the user) is already gone.
id=${DEVOPNESS_CRONJOB_ID:?}
user=${DEVOPNESS_CRONJOB_USER:?}
[[ $id =~ ^[0-9]+$ ]] || dv_fail "invalid cron job id '$id'"
[[ $user =~ ^[a-z_][a-z0-9_.-]*\$?$ ]] || dv_fail "invalid user name '$user'"

me=$(id -un)
if [ "$user" = "$me" ]; then
  cron=(crontab)
else
  if ! id -u -- "$user" >/dev/null 2>&1; then
    dv_log "user '$user' does not exist on this server: no crontab to clean"
    exit 0
  fi
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    dv_fail "the cron job runs as '$user': editing another user's crontab needs root; connect as root or give $me passwordless sudo"
  fi
  cron=(dv_root crontab -u "$user")
fi

# Two jobs deployed at once must not both read the old crontab and lose one another.
if dv_has flock; then
  exec 9>>"/tmp/devopness-crontab-$(id -u).lock"
  flock -w 120 9 || dv_fail "another crontab change is still running (waited 120s)"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
if ! "${cron[@]}" -l >"$work/current" 2>"$work/err"; then
  grep -qi 'no crontab' "$work/err" || dv_fail "cannot read the crontab of $user: $(cat "$work/err")"
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
