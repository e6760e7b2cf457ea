# What an application's own commands run with (its build, its health check command). A
# family of its own: the fetch and activate steps of every deploy never call it.

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
