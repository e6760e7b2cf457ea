# Start the daemon's processes (those already running keep running).
dv_daemon_run start
