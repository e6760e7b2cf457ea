# Helpers shared by every built-in script (loaded before the script; bash, set -euo pipefail).
# Scripts must be idempotent: running one twice leaves the server in the same state.

dv_log() { printf '==> %s\n' "$*"; }
dv_warn() { printf 'warning: %s\n' "$*"; }
dv_fail() { printf 'error: %s\n' "$*"; exit 1; }
dv_has() { command -v "$1" >/dev/null 2>&1; }
# dv_noop SCRIPT: the engine does not run built-in script SCRIPT in this action, having
# found it has nothing to do (DEVOPNESS_NOOP_SCRIPTS, app/applications/deploy_context.py).
dv_noop() { case $'\n'"${DEVOPNESS_NOOP_SCRIPTS:-}" in *$'\n'"$1 "*) return 0 ;; esac; return 1; }

# dv_result KEY VALUE [KEY VALUE]...: report values to the control plane (the deployed
# commit, the OS...), one line each. The line carries this run's token (an unexported shell
# variable set by the engine): output of anything the script runs cannot forge one. A value
# stays on one line. One printf for all of them: bash's output is line-buffered, so a
# printf a line is a write a line, and each write travels as an SSH packet of its own that
# sshd sends and the engine reads, decrypts and scans.
dv_result() {
  local lines=""
  [ $(($# % 2)) -eq 0 ] || dv_fail "dv_result: no value for '${*: -1}'"
  while [ "$#" -gt 0 ]; do
    printf -v lines '%s##devopness-result %s %s=%s\n' "$lines" "${DV_RESULT_TOKEN:-}" "$1" "${2//[$'\n\r']/ }"
    shift 2
  done
  printf '%s' "$lines"
}

# dv_run_helper CMD...: CMD in a subshell with errexit in force (the helpers exit on
# failure; bash ignores errexit in anything run from an `if`, `&&` or `||`, so this is only
# ever called as a plain command), its stdin empty and the release lock's descriptor (7)
# closed; its exit status goes to DV_HELPER_STATUS.
dv_run_helper() {
  set +e
  (set -e; "$@") </dev/null 7>&-
  DV_HELPER_STATUS=$?
  set -e
}

# dv_decode TEXT: TEXT (base64) decoded, as the engine passes values that may hold any byte.
dv_decode() { printf '%s' "$1" | base64 -d; }

# dv_app_dir: the directory of the application named by DEVOPNESS_APPLICATION_DIR_NAME
# (its deploy's releases, its daemons' and cron jobs' working directory). dv_app_dir_set
# puts it in DV_APP_DIR instead (no subshell: the deploy's steps ask for it often).
dv_app_dir() {
  printf '%s/%s' "${DEVOPNESS_APPLICATIONS_DIR:-${DEVOPNESS_APPS_DIR:-$HOME}}" "${DEVOPNESS_APPLICATION_DIR_NAME:?}"
}
dv_app_dir_set() {
  DV_APP_DIR=${DEVOPNESS_APPLICATIONS_DIR:-${DEVOPNESS_APPS_DIR:-$HOME}}/${DEVOPNESS_APPLICATION_DIR_NAME:?}
}
