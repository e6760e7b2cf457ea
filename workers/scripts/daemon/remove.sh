# Stop the daemon and delete its unit or program (nothing to do when it is not installed).
dv_sup_init
dv_daemon_params
with=$(dv_daemon_installed_with "$DV_D_ID")
if [ -z "$with" ]; then
  dv_log "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} is not installed on this server: nothing to remove"
  exit 0
fi
"dv_${with/supervisor/sup}_remove"
dv_log "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} removed ($with)"
