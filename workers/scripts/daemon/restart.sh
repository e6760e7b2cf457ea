# Restart every process of the daemon (new processes, same definition).
dv_sup_init
dv_daemon_params
dv_daemon_require_installed
case "$DV_D_WITH" in
  supervisor) dv_sup_ensure_running; dv_sup_ctl restart "$DV_D_UNIT:*" || true ;;
  systemd)
    for i in $(seq 1 "$DV_D_COUNT"); do dv_root systemctl restart "$DV_D_UNIT@$i.service"; done
    sleep 1 ;;
esac
dv_daemon_report "$DV_D_WITH" || dv_fail "the daemon did not restart: $(_dv_daemon_log_tail "$DV_D_WITH")"
