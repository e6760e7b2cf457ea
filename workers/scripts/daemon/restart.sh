# Restart every process of the daemon (new processes, same definition).
dv_daemon_run restart
