# Reboot the machine. The reboot is scheduled a few seconds ahead so this step can report
# success before the connection drops; the next step waits for the server to come back.
dv_root true
dv_log "rebooting $(hostname) in 3 seconds"
if [ "$(dv_init_system)" = systemd ] && dv_has systemd-run; then
  dv_root systemd-run --quiet --on-active=3 --unit="devopness-reboot-$DEVOPNESS_ACTION_ID" /bin/systemctl reboot
else
  dv_root sh -c 'nohup sh -c "sleep 3; reboot" >/dev/null 2>&1 &'
fi
