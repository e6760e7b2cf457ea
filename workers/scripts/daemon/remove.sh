# Stop the daemon and delete its unit or program (nothing to do when it is not installed).
dv_daemon_uninstall
