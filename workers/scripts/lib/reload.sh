# The application's daemons, nginx and cron jobs taking up its live release: the deploy's
# activate step (workers/scripts/application/activate.sh) calls dv_reload_users after each
# switch of `current`. A family of its own, parsed only for an application that has
# daemons, virtual hosts or cron jobs (its directives there): the others' deploys skip 2 KB
# of parsing on every server.

# dv_reload_daemon ROW...: install or update one of the application's daemons
# (DEVOPNESS_APP_DAEMONS: id name command user working-directory count, text base64) and
# restart it in the live release (dv_run_helper's subshell keeps the exports to itself).
dv_reload_daemon() {
  export DEVOPNESS_DAEMON_ID=$1 DEVOPNESS_DAEMON_USER=$4 DEVOPNESS_DAEMON_PROCESS_COUNT=$6
  DEVOPNESS_DAEMON_NAME=$(dv_decode "$2"); DEVOPNESS_DAEMON_COMMAND=$(dv_decode "$3")
  DEVOPNESS_DAEMON_WORKING_DIRECTORY=$(dv_decode "$5")
  export DEVOPNESS_DAEMON_NAME DEVOPNESS_DAEMON_COMMAND DEVOPNESS_DAEMON_WORKING_DIRECTORY
  export DEVOPNESS_DAEMON_APPLICATION=1 DV_D_RESTART=1
  if [ -n "${no_release:-}" ]; then dv_daemon_uninstall; else dv_daemon_install; fi
}

# dv_reload_cronjob ROW...: the same for a cron job (id name pattern command user).
dv_reload_cronjob() {
  export DEVOPNESS_CRONJOB_ID=$1 DEVOPNESS_CRONJOB_USER=$5 DEVOPNESS_CRONJOB_APPLICATION=1
  DEVOPNESS_CRONJOB_NAME=$(dv_decode "$2"); DEVOPNESS_CRONJOB_PATTERN=$(dv_decode "$3")
  DEVOPNESS_CRONJOB_COMMAND=$(dv_decode "$4")
  export DEVOPNESS_CRONJOB_NAME DEVOPNESS_CRONJOB_PATTERN DEVOPNESS_CRONJOB_COMMAND
  dv_cronjob_install
}

# The application's daemons (installed when new, updated, restarted in the live release),
# nginx and cron jobs pick up the live release; DV_RELOAD_FAILED=1 when one did not. With no
# live release left (a first deploy switched back), its daemons are removed instead.
dv_reload_users() {
  local row
  DV_RELOAD_FAILED=0
  no_release=""
  dv_app_dir_set
  [ -L "$DV_APP_DIR/current" ] || no_release=1
  while read -r -a row; do
    [ "${#row[@]}" -gt 0 ] || continue
    dv_run_helper dv_reload_daemon "${row[@]}"
    if [ "$DV_HELPER_STATUS" -ne 0 ]; then dv_warn "daemon ${row[0]} did not start in the live release"; DV_RELOAD_FAILED=1; fi
  done <<<"${DEVOPNESS_APP_DAEMONS:-}"
  if [ "${DEVOPNESS_APP_RELOAD_NGINX:-0}" = 1 ]; then
    dv_run_helper dv_nginx_reload
    if [ "$DV_HELPER_STATUS" -ne 0 ]; then dv_warn "nginx did not reload"; DV_RELOAD_FAILED=1; fi
  fi
  [ "$DV_RELOAD_FAILED" = 0 ] && [ -z "$no_release" ] || return 0
  while read -r -a row; do
    [ "${#row[@]}" -gt 0 ] || continue
    dv_run_helper dv_reload_cronjob "${row[@]}"
    if [ "$DV_HELPER_STATUS" -ne 0 ]; then dv_warn "cron job ${row[0]} was not installed"; DV_RELOAD_FAILED=1; fi
  done <<<"${DEVOPNESS_APP_CRONJOBS:-}"
}
