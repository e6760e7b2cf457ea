# Install the daemon as a supervised unit running process_count processes, and start them.
# Idempotent: an unchanged daemon keeps its processes, a changed one (definition or, for an
# application's daemon, the application's variables) restarts; when the new processes do
# not start, the previous definition is put back. An application's daemon needs a live
# release of the application on this server.
dv_daemon_install
