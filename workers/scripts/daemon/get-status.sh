# How many of the daemon's processes run (read-only). Fails when not all of them do, so
# the action tells at a glance; the counts are in the log either way.
dv_sup_init
dv_daemon_params
dv_daemon_require_installed
if [ "$DV_D_WITH" = supervisor ] && ! dv_sup_running; then
  dv_result running 0
  dv_fail "supervisord ($DV_SUP_CONF) is not running: none of the daemon's $DV_D_COUNT processes runs"
fi
if [ "$DV_D_WITH" = supervisor ]; then dv_sup_ctl status "$DV_D_UNIT:*" || true
else systemctl list-units --all --plain --no-legend "$DV_D_UNIT@*.service" || true; fi
dv_daemon_report "$DV_D_WITH" || dv_fail "not every process of the daemon is running"
