# Stop the daemon's processes; they stay installed (deploy or start brings them back, and
# a reboot starts them again).
dv_sup_init
dv_daemon_params
dv_daemon_require_installed
case "$DV_D_WITH" in
  supervisor)
    if dv_sup_running; then dv_sup_ctl stop "$DV_D_UNIT:*"
    else dv_log "supervisord is not running: nothing to stop"; fi ;;
  systemd)
    for i in $(dv_systemd_instances "$DV_D_ID"); do dv_root systemctl stop "$DV_D_UNIT@$i.service"; done ;;
esac
running=$(dv_daemon_count "$DV_D_WITH")
dv_result running "$running"
[ "$running" -eq 0 ] || dv_fail "$running processes of the daemon are still running"
dv_log "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} stopped"
