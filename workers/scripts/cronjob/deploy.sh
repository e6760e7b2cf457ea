# Cron job: our entry in the run-as user's crontab (workers/scripts/lib/cronjob.sh). An
# application's job needs a live release of the application on this server.
dv_cronjob_install
