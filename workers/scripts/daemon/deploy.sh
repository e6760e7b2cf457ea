# Install the daemon as a supervised unit running process_count processes, and start them.
# Idempotent: an unchanged daemon keeps its processes, a changed one restarts; when the new
# processes do not start, the previous definition is put back.
dv_sup_init
dv_daemon_params
dv_daemon_check
dv_daemon_mechanism
previous=$(dv_daemon_installed_with "$DV_D_ID")
if [ -n "$previous" ] && [ "$previous" != "$DV_D_MECHANISM" ]; then
  dv_log "moving the daemon from $previous to $DV_D_MECHANISM"
  "dv_${previous/supervisor/sup}_remove"
fi
dv_log "deploying daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID}: $DV_D_COUNT x '$DV_D_COMMAND' as $DV_D_USER in $DV_D_DIR ($DV_D_MECHANISM)"
"dv_${DV_D_MECHANISM/supervisor/sup}_deploy"
dv_daemon_report "$DV_D_MECHANISM" || dv_fail "not every process of the daemon is running"
