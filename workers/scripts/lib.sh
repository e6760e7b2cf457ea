# Helpers shared by every built-in script (loaded before the script; bash, set -euo pipefail).
# Scripts must be idempotent: running one twice leaves the server in the same state.

dv_log() { printf '==> %s\n' "$*"; }
dv_warn() { printf 'warning: %s\n' "$*"; }
dv_fail() { printf 'error: %s\n' "$*"; exit 1; }
dv_has() { command -v "$1" >/dev/null 2>&1; }
# dv_noop SCRIPT: the engine does not run built-in script SCRIPT in this action, having
# found it has nothing to do (DEVOPNESS_NOOP_SCRIPTS, app/applications/deploy_context.py).
dv_noop() { case $'\n'"${DEVOPNESS_NOOP_SCRIPTS:-}" in *$'\n'"$1 "*) return 0 ;; esac; return 1; }

# Report a value to the control plane (the deployed commit, the OS...). The line carries
# this run's token (an unexported shell variable set by the engine): output of anything
# the script runs cannot forge one. The value stays on one line.
dv_result() { printf '##devopness-result %s %s=%s\n' "${DV_RESULT_TOKEN:-}" "$1" "${2//[$'\n\r']/ }"; }

# Run a command as root: directly when we are root, else through passwordless sudo.
dv_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@";
  elif sudo -n true 2>/dev/null; then sudo -n -- "$@";
  else dv_fail "'$1' needs root: connect as root or give $(id -un) passwordless sudo"; fi
}

# dv_put_file DEST MODE: install stdin at DEST atomically (temporary file in the same
# directory, then rename), only when the content differs. Prints "changed" or "unchanged".
# DV_AS_ROOT=1 writes through dv_root.
dv_put_file() {
  local dest=$1 mode=$2 tmp dir run=()
  [ "${DV_AS_ROOT:-0}" = 1 ] && run=(dv_root)
  dir=$(dirname -- "$dest")
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"; echo unchanged; return 0
  fi
  "${run[@]}" mkdir -p -- "$dir"
  "${run[@]}" install -m "$mode" -- "$tmp" "$dest.devopness-new"
  "${run[@]}" mv -f -- "$dest.devopness-new" "$dest"
  rm -f "$tmp"
  echo changed
}

# dv_block_replace FILE MARKER: print FILE with the block between
# "# BEGIN devopness MARKER" and "# END devopness MARKER" replaced by stdin (appended when
# absent; removed when stdin is empty). Lines outside our markers are kept as they are.
dv_block_replace() {
  local file=$1 marker=$2
  # The body reaches awk through the environment: `-v` would interpret its backslashes.
  DV_BLOCK_BODY=$(cat)
  export DV_BLOCK_BODY
  local body=$DV_BLOCK_BODY
  awk -v begin="# BEGIN devopness $marker" -v end="# END devopness $marker" '
    BEGIN { body = ENVIRON["DV_BLOCK_BODY"] }
    $0 == begin { skip = 1; if (body != "") { print begin; print body; print end }; done = 1; next }
    $0 == end && skip { skip = 0; next }
    !skip { print }
    END { if (!done && body != "") { print begin; print body; print end } }
  ' "$file" 2>/dev/null || {
    if [ -n "$body" ]; then printf '# BEGIN devopness %s\n%s\n# END devopness %s\n' "$marker" "$body" "$marker"; fi
  }
}

# dv_app_dir: the directory of the application named by DEVOPNESS_APPLICATION_DIR_NAME
# (its deploy's releases, its daemons' and cron jobs' working directory). dv_app_dir_set
# puts it in DV_APP_DIR instead (no subshell: the deploy's steps ask for it often).
dv_app_dir() {
  printf '%s/%s' "${DEVOPNESS_APPLICATIONS_DIR:-${DEVOPNESS_APPS_DIR:-$HOME}}" "${DEVOPNESS_APPLICATION_DIR_NAME:?}"
}
dv_app_dir_set() {
  DV_APP_DIR=${DEVOPNESS_APPLICATIONS_DIR:-${DEVOPNESS_APPS_DIR:-$HOME}}/${DEVOPNESS_APPLICATION_DIR_NAME:?}
}

# The init system in charge: systemd when it runs, else SysV-style `service` scripts
# (containers and WSL without systemd).
dv_init_system() {
  if [ -d /run/systemd/system ]; then echo systemd; else echo sysv; fi
}

# dv_app_command_env [RUNTIME_BIN]: in the subshell that runs one of the application's
# commands, export its variables (DEVOPNESS_APP_ENV: one "KEY base64(value)" a line), put
# RUNTIME_BIN first on PATH even when a variable sets PATH, and drop the deploy's own
# DEVOPNESS_* parameters (tokens, keys) so the command never sees them.
dv_app_command_env() {
  local _dv_k _dv_b _dv_v
  while read -r _dv_k _dv_b; do
    [ -n "$_dv_k" ] || continue
    _dv_v=$(printf '%s' "$_dv_b" | base64 -d; printf x)
    export "$_dv_k=${_dv_v%x}"
  done <<<"${DEVOPNESS_APP_ENV:-}"
  if [ -n "${1:-}" ]; then export PATH="$1:$PATH"; fi
  for _dv_k in $(compgen -e); do
    case $_dv_k in DEVOPNESS_*) unset "$_dv_k" ;; esac
  done
}
