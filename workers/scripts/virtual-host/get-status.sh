# Is the virtual host's site installed and enabled, does nginx accept the configuration,
# and what does nginx answer for it (when nginx runs)? Read-only.
dir=$(dv_nginx_dir); site=$(dv_vh_site_name "$DEVOPNESS_VH_ID")
avail="$dir/sites-available/$site"; enabled="$dir/sites-enabled/$site"
[ -f "$avail" ] || dv_fail "virtual host $DEVOPNESS_VH_NAME is not deployed on this server ($avail is missing)"
[ -L "$enabled" ] && [ "$(readlink -f -- "$enabled")" = "$(readlink -f -- "$avail")" ] \
  || dv_fail "virtual host $DEVOPNESS_VH_NAME is not enabled ($enabled does not link to $avail)"
dv_log "site $avail is enabled"
if ! err=$(dv_nginx_test 2>&1); then
  dv_fail "nginx rejects its configuration: $err"
fi
dv_log "nginx configuration test passed"
dv_result enabled yes config_valid yes
if ! pid=$(dv_nginx_pid); then
  dv_log "nginx is not running"
  dv_result nginx_running no
  exit 0
fi
dv_result nginx_running yes
host=$DEVOPNESS_VH_NAME port=${DEVOPNESS_NGINX_HTTP_PORT:-80} address=127.0.0.1
if [ "${DEVOPNESS_VH_TYPE:-}" = ip-based ]; then
  [ "${host%%:*}" != "$host" ] && port=${host##*:}
  host=${host%%:*}
  # Bound to that address when it is this machine's (see dv_vh_render).
  if dv_ip_is_local "$host"; then address=$host; fi
fi
if dv_has curl; then
  code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -H "Host: $host" "http://$address:$port/" || true)
  dv_log "nginx (pid $pid) answers HTTP ${code:-000} for http://$host:$port/"
  dv_result http_status "${code:-000}"
else
  dv_log "nginx runs (pid $pid); curl is not installed, the site was not requested"
fi
