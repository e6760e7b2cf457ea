# Cron job helpers (owned by the cron jobs family; application deploys call
# dv_cronjob_install for their linked cron jobs). A job is our entry in the run-as user's
# crontab, between the marker lines "# BEGIN devopness cronjob <id>" and
# "# END devopness cronjob <id>". Every other line of the crontab is kept byte for byte;
# installing twice leaves the same crontab.

# dv_crontab_of USER: set `cron` (the caller's) to the command that reads and writes USER's
# crontab: plain `crontab` for the SSH user's own, through root for another user's.
dv_crontab_of() {
  local user=$1 me
  me=$(id -un)
  if [ "$user" = "$me" ]; then
    cron=(crontab)
  else
    id -u -- "$user" >/dev/null 2>&1 || dv_fail "user '$user' does not exist on this server"
    if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
      dv_fail "the cron job runs as '$user': editing another user's crontab needs root; connect as root or give $me passwordless sudo"
    fi
    cron=(dv_root crontab -u "$user")
  fi
}

# dv_crontab_read USER: take the crontab lock (held until the script ends), then copy
# USER's crontab (through `cron`) to "$work/current", in a fresh directory $work removed on
# exit. A user without a crontab gets an empty copy and DV_CRONTAB_NONE=1.
dv_crontab_read() {
  # Two jobs deployed at once must not both read the old crontab and lose one another.
  if dv_has flock; then
    exec 9>>"/tmp/devopness-crontab-$(id -u).lock"
    flock -w 120 9 || dv_fail "another crontab change is still running (waited 120s)"
  fi

  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chmod 755 "$work"
  DV_CRONTAB_NONE=""
  if ! "${cron[@]}" -l >"$work/current" 2>"$work/err"; then
    grep -qi 'no crontab' "$work/err" || dv_fail "cannot read the crontab of $1: $(cat "$work/err")"
    : >"$work/current"
    DV_CRONTAB_NONE=1
  fi
}

# dv_cronjob_install: install (or update) the job described by DEVOPNESS_CRONJOB_*.
dv_cronjob_install() {
  local id user pattern command name fields f plain cron prefix
  id=${DEVOPNESS_CRONJOB_ID:?}
  user=${DEVOPNESS_CRONJOB_USER:?}
  pattern=${DEVOPNESS_CRONJOB_PATTERN:?}
  command=${DEVOPNESS_CRONJOB_COMMAND:?}
  name=${DEVOPNESS_CRONJOB_NAME:-}

  [[ $id =~ ^[0-9]+$ ]] || dv_fail "invalid cron job id '$id'"
  [[ $user =~ ^[a-z_][a-z0-9_.-]*\$?$ ]] || dv_fail "invalid user name '$user'"

  # Validate before touching the crontab: five fields or a @keyword, one line of command.
  read -r -a fields <<<"$pattern"
  if [ "${#fields[@]}" -eq 1 ] \
     && [[ ${fields[0]} =~ ^@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)$ ]]; then
    :
  elif [ "${#fields[@]}" -eq 5 ]; then
    for f in "${fields[@]}"; do
      [[ $f =~ ^[0-9A-Za-z*/,-]+$ ]] || dv_fail "invalid cron pattern '$pattern': bad field '$f'"
    done
  else
    dv_fail "invalid cron pattern '$pattern': it needs 5 fields (minute hour day month weekday) or a @keyword such as @daily"
  fi
  pattern="${fields[*]}"
  [[ $command == *[$'\n\r']* ]] && dv_fail "the cron job command must be a single line"
  plain=${command//$'\t'/ }
  [[ $plain =~ [[:cntrl:]] ]] && dv_fail "the cron job command contains control characters"
  # cron turns an unescaped % into a newline: escape them so the command runs as written
  # (an already escaped \% stays as it is).
  command=${command//\\%/$'\x01'}
  command=${command//%/\\%}
  command=${command//$'\x01'/\\%}
  name=${name//[$'\n\r']/ }
  # The name is a comment inside our block: never one that reads as a marker line (of this
  # job, another job, or another block in the crontab such as the certificate renewal).
  case $name in "BEGIN devopness"* | "END devopness"*) name="name: $name" ;; esac

  dv_crontab_of "$user"

  if [ -n "${DEVOPNESS_CRONJOB_APPLICATION:-}" ]; then
    # An application's job runs in the root of its live release, with its variables and
    # runtime first on PATH (the environment file its daemons load too).
    dv_app_require_release "cron job ${name:-$id}"
    dv_app_process_env "$user"
    prefix="cd $(dv_sq "$(dv_app_release_root)") && . $(dv_sq "$DV_APP_ENV_FILE") && "
    command="${prefix//%/\\%}$command"
  fi

  dv_crontab_read "$user"

  # The block goes through the environment, not `awk -v`, so backslashes stay as written.
  DV_BLOCK="# $name
$pattern $command" awk -v begin="# BEGIN devopness cronjob $id" -v end="# END devopness cronjob $id" '
    $0 == begin { skip = 1; if (!done) { print begin; print ENVIRON["DV_BLOCK"]; print end }; done = 1; next }
    $0 == end && skip { skip = 0; next }
    !skip { print }
    END { if (!done) { print begin; print ENVIRON["DV_BLOCK"]; print end } }
  ' "$work/current" >"$work/next"

  if cmp -s "$work/current" "$work/next"; then
    dv_log "cron job $id is already installed in the crontab of $user (unchanged)"
    return 0
  fi
  chmod 644 "$work/next"
  # crontab(1) checks the whole file and swaps it in one go: when it refuses, the installed
  # crontab is the one we read.
  "${cron[@]}" "$work/next" >"$work/err" 2>&1 \
    || dv_fail "crontab refused the new entry for $user (nothing changed): $(cat "$work/err")"
  grep -qxF "# BEGIN devopness cronjob $id" <<<"$("${cron[@]}" -l 2>/dev/null || true)" \
    || dv_fail "cron job $id is missing from the crontab of $user after installing it"
  dv_log "installed cron job $id in the crontab of $user: $pattern $command"
}
