# Daemon supervision helpers (owned by the daemons family; used by application deploys).
# dv_daemon_restart ID: restart the supervised daemon whose id is ID, if it is installed.
dv_daemon_restart() { dv_warn "daemon supervision is not available yet (daemon $1 not restarted)"; }
