# Power the machine off. A self-hosted machine cannot be powered on again from here: its
# start operation only checks that it is back.
dv_root true
dv_log "powering off $(hostname) in 3 seconds"
if [ "$(dv_init_system)" = systemd ] && dv_has systemd-run; then
  dv_root systemd-run --quiet --on-active=3 --unit="devopness-poweroff-$DEVOPNESS_ACTION_ID" /bin/systemctl poweroff
else
  dv_root sh -c 'nohup sh -c "sleep 3; poweroff" >/dev/null 2>&1 &'
fi
