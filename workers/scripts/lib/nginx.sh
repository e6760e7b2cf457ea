# nginx helpers (owned by the virtual hosts family; dv_nginx_reload is also used by
# application deploys).
#
# Paths, overridable per server (layout settings an operator stores as server variables; see
# app/variables/reserved.py) so that a non-root layout works too:
#   DEVOPNESS_NGINX_DIR        /etc/nginx (holds sites-available/ and sites-enabled/)
#   DEVOPNESS_NGINX_CONF       $DEVOPNESS_NGINX_DIR/nginx.conf
#   DEVOPNESS_NGINX_PREFIX     nginx -p (optional)
#   DEVOPNESS_NGINX_ERROR_LOG  nginx -e (optional; the error log used before the
#                              configuration is read)
#   DEVOPNESS_NGINX_HTTP_PORT / DEVOPNESS_NGINX_HTTPS_PORT  80 / 443
#   DEVOPNESS_NGINX_IPV6       1: also listen on [::] (default: when the kernel has IPv6)
#   DEVOPNESS_SSL_DIR          /etc/ssl/devopness (custom certificates, <id>/...)
#   DEVOPNESS_ACME_WEBROOT     /var/www/devopness-acme (HTTP-01 challenge files)
#   DEVOPNESS_CERTBOT_DIR      /etc/letsencrypt (certbot's config; work and logs beside)
#   DEVOPNESS_APPLICATIONS_DIR $HOME (an application lives in <dir>/<name>/current)

dv_nginx_dir() { printf '%s' "${DEVOPNESS_NGINX_DIR:-/etc/nginx}"; }
dv_nginx_conf() { printf '%s' "${DEVOPNESS_NGINX_CONF:-$(dv_nginx_dir)/nginx.conf}"; }
dv_ssl_dir() { printf '%s' "${DEVOPNESS_SSL_DIR:-/etc/ssl/devopness}"; }
dv_acme_webroot() { printf '%s' "${DEVOPNESS_ACME_WEBROOT:-/var/www/devopness-acme}"; }
dv_certbot_dir() { printf '%s' "${DEVOPNESS_CERTBOT_DIR:-/etc/letsencrypt}"; }

# certbot's directories: its defaults, or all three under DEVOPNESS_CERTBOT_DIR.
dv_certbot_dirs() {
  local base=$(dv_certbot_dir)
  if [ -n "${DEVOPNESS_CERTBOT_DIR:-}" ]; then
    DV_CERTBOT_DIRS=(--config-dir "$base" --work-dir "$base/work" --logs-dir "$base/logs")
  else
    DV_CERTBOT_DIRS=(--config-dir "$base" --work-dir /var/lib/letsencrypt --logs-dir /var/log/letsencrypt)
  fi
}

# dv_certbot ARGS...: certbot on this server's directories, as root unless they are ours.
dv_certbot() {
  dv_certbot_dirs
  dv_as_owner "$(dv_certbot_dir)" certbot "$@" "${DV_CERTBOT_DIRS[@]}"
}

# dv_writable DIR: 0 when we can write DIR, or create it (its nearest existing parent is
# writable). Decides whether a path needs root.
dv_writable() {
  local dir=$1
  while [ ! -e "$dir" ]; do dir=$(dirname -- "$dir"); done
  [ -w "$dir" ]
}

# dv_as_owner DIR CMD...: run CMD directly when DIR is ours, else as root. A system layout
# (/etc/nginx) needs root; a layout an operator pointed at their own directories does not.
dv_as_owner() {
  local dir=$1; shift
  if dv_writable "$dir"; then "$@"; else dv_root "$@"; fi
}

# dv_require_root_for DIR: fail clearly, before changing anything, when DIR needs root
# and root is out of reach.
dv_require_root_for() {
  dv_writable "$1" && return 0
  [ "$(id -u)" -eq 0 ] && return 0
  sudo -n true 2>/dev/null && return 0
  dv_fail "$1 is not writable by $(id -un): connect as root, give $(id -un) passwordless sudo, or point the DEVOPNESS_* path variables at directories it owns"
}

# The nginx binary, from the usual places only (never named by a variable: it runs as
# root). A non-root login's PATH often lacks /usr/sbin.
dv_nginx_find() {
  local candidate
  for candidate in /usr/sbin/nginx /usr/local/sbin/nginx /usr/local/nginx/sbin/nginx \
      /usr/bin/nginx; do
    if command -v "$candidate" 2>/dev/null; then return 0; fi
  done
  return 1
}
dv_nginx_bin() {
  dv_nginx_find || dv_fail "nginx is not installed (install the nginx service first)"
}
dv_nginx_require() { dv_nginx_find >/dev/null || dv_fail "nginx is not installed (install the nginx service first)"; }

# dv_nginx CMD-ARGS...: nginx with this server's configuration, prefix and error log.
dv_nginx() {
  local bin cmd
  bin=$(dv_nginx_bin) || { printf '%s\n' "$bin"; exit 1; }
  cmd=("$bin")
  [ -n "${DEVOPNESS_NGINX_PREFIX:-}" ] && cmd+=(-p "$DEVOPNESS_NGINX_PREFIX")
  [ -n "${DEVOPNESS_NGINX_ERROR_LOG:-}" ] && cmd+=(-e "$DEVOPNESS_NGINX_ERROR_LOG")
  cmd+=(-c "$(dv_nginx_conf)")
  dv_as_owner "$(dv_nginx_dir)" "${cmd[@]}" "$@"
}

# dv_nginx_test: nginx -t; prints nginx's own message on failure (exit status non-zero).
dv_nginx_test() {
  local out
  if out=$(dv_nginx -t -q 2>&1); then return 0; fi
  printf '%s\n' "$out" | grep -v '^nginx: configuration file .* test failed$' >&2 || true
  return 1
}

# The pid of the nginx that runs this configuration, if it runs.
dv_nginx_pid() {
  local conf pidfile pid
  conf=$(dv_nginx_conf)
  pidfile=${DEVOPNESS_NGINX_PID:-}
  if [ -z "$pidfile" ] && [ -r "$conf" ]; then
    pidfile=$(sed -n 's/^[[:space:]]*pid[[:space:]]\{1,\}\([^;]*\);.*/\1/p' "$conf")
    pidfile=${pidfile%%$'\n'*}
  fi
  pidfile=${pidfile:-/run/nginx.pid}
  [ -r "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  printf '%s' "$pid"
}

# dv_nginx_reload: validate the configuration (nginx -t) and reload nginx when it runs.
dv_nginx_reload() {
  local err
  if ! dv_nginx_find >/dev/null; then
    dv_warn "nginx is not installed: nothing to reload"
    return 0
  fi
  dv_require_root_for "$(dv_nginx_dir)"
  if ! err=$(dv_nginx_test 2>&1); then
    dv_fail "nginx configuration test failed, nginx not reloaded: $err"
  fi
  local pid workers i
  if ! pid=$(dv_nginx_pid); then
    dv_log "nginx is not running: the configuration is used when it starts"
    return 0
  fi
  workers=$(dv_nginx_workers "$pid")
  if [ -z "${DEVOPNESS_NGINX_CONF:-}" ] && [ -z "${DEVOPNESS_NGINX_DIR:-}" ] \
    && [ "$(dv_init_system)" = systemd ] && systemctl is-active --quiet nginx 2>/dev/null; then
    dv_root systemctl reload nginx
  else
    dv_nginx -s reload
  fi
  # A reload only signals the master: wait (briefly) until workers with the new
  # configuration run and the old ones are gone (an old worker that has not yet handled
  # its signal still accepts connections and answers with the old configuration), so that
  # what runs next (a health check, a test) sees it.
  # (The list is read first and tested on its own: `producer | grep -q` fails with
  # SIGPIPE under pipefail once grep stops reading, and the loop would run every try.)
  local now
  for i in $(seq 50); do
    now=$(dv_nginx_workers "$pid")
    if [ -n "$now" ] && grep -qvxF -e "${workers:-none}" <<<"$now" \
      && ! grep -qxF -e "${workers:-none}" <<<"$now"; then
      break
    fi
    sleep 0.1
  done
  dv_log "nginx reloaded"
}

# dv_nginx_workers PID: the children of PID, one per line. Shell builtins only: this runs
# in a wait loop, and one program per process on the machine took seconds per call.
dv_nginx_workers() {
  local children="/proc/$1/task/$1/children" child key value kids=()
  if [ -r "$children" ]; then
    read -r -a kids <"$children" || true
    [ "${#kids[@]}" -eq 0 ] || printf '%s\n' "${kids[@]}"
    return 0
  fi
  for child in /proc/[0-9]*; do
    while read -r key value; do
      if [ "$key" = PPid: ]; then
        [ "$value" = "$1" ] && printf '%s\n' "${child#/proc/}"
        break
      fi
    done 2>/dev/null <"$child/status" || true
  done
  return 0
}

# dv_nginx_quote VALUE: VALUE as an nginx string ("..."), so that a path or an address
# is read as one value and never as more directives.
dv_nginx_quote() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

dv_vh_site_name() { printf 'devopness-vh-%s.conf' "$1"; }

# The certificate files a virtual host's certificate uses on this server ("" when the
# host has none). Custom certificates live under DEVOPNESS_SSL_DIR, Let's Encrypt ones
# where certbot keeps (and renews) them.
dv_ssl_cert_dir() {
  local id=$1 issuer=$2
  if [ "$issuer" = lets-encrypt ]; then
    printf '%s/live/devopness-%s' "$(dv_certbot_dir)" "$id"
  else
    printf '%s/%s' "$(dv_ssl_dir)" "$id"
  fi
}

# dv_ip_is_local ADDRESS: the IPv4 address is assigned to this machine (loopback included).
dv_ip_is_local() {
  local address=$1 listed
  case "$address" in 127.*) return 0 ;; 0.0.0.0) return 1 ;; esac
  listed=$(ip -o -4 addr show 2>/dev/null || true)
  [ -n "$listed" ] || listed=$(hostname -I 2>/dev/null || true)
  listed=" $(printf '%s' "$listed" | tr '\n/' '  ') "
  [[ "$listed" == *" $address "* ]]
}

# dv_vh_render: the server blocks of the virtual host described by DEVOPNESS_VH_*; TLS
# when DEVOPNESS_VH_SSL_ID names a certificate whose files are on this server.
dv_vh_render() {
  local id=$DEVOPNESS_VH_ID name=$DEVOPNESS_VH_NAME kind=${DEVOPNESS_VH_TYPE:-name-based}
  local http_port=${DEVOPNESS_NGINX_HTTP_PORT:-80} https_port=${DEVOPNESS_NGINX_HTTPS_PORT:-443}
  local server_name=$name root="" proxy=${DEVOPNESS_VH_PROXY:-} cert_dir="" ssl=0 redirect
  local ipv6=${DEVOPNESS_NGINX_IPV6:-}
  # [::] only where the kernel has IPv6: nginx -t accepts it anyway, but nginx would
  # then fail to bind when it (re)starts.
  if [ -z "$ipv6" ]; then if [ -e /proc/net/if_inet6 ]; then ipv6=1; else ipv6=0; fi; fi
  local bind=""
  if [ "$kind" = ip-based ]; then
    # "203.0.113.7:8080": requests to that address and port, bound to that address when
    # it is one of this machine's (a public address behind NAT is not: every interface).
    server_name=${name%%:*}
    [ "$name" != "$server_name" ] && http_port=${name##*:}
    if dv_ip_is_local "$server_name"; then bind="$server_name:"; fi
  fi
  if [ -n "${DEVOPNESS_VH_SSL_ID:-}" ]; then
    cert_dir=$(dv_ssl_cert_dir "$DEVOPNESS_VH_SSL_ID" "${DEVOPNESS_VH_SSL_ISSUER:-custom}")
    if dv_as_owner "$(dirname -- "$cert_dir")" test -r "$cert_dir/fullchain.pem"; then ssl=1; fi
  fi
  if [ -z "$proxy" ]; then
    if [ -n "${DEVOPNESS_VH_APPLICATION:-}" ]; then
      root="${DEVOPNESS_APPLICATIONS_DIR:-${DEVOPNESS_APPS_DIR:-$HOME}}/$DEVOPNESS_VH_APPLICATION/current"
      [ -n "${DEVOPNESS_VH_ROOT:-}" ] && root="$root/${DEVOPNESS_VH_ROOT#./}"
    else
      root=${DEVOPNESS_VH_ROOT:-}
    fi
    [ -n "$root" ] || dv_fail "virtual host $name has neither a root directory, an application nor an application listen address"
  fi
  # `listen ... http2` rather than `http2 on` (nginx >= 1.25): Debian 12 and Ubuntu 24.04
  # ship older versions.
  local listen_http="    listen $bind$http_port;" listen_https="    listen $bind$https_port ssl http2;"
  if [ "$ipv6" = 1 ] && [ -z "$bind" ]; then
    listen_http+=$'\n'"    listen [::]:$http_port;"
    listen_https+=$'\n'"    listen [::]:$https_port ssl http2;"
  fi
  local acme
  acme=$(cat <<EOF
    # Let's Encrypt HTTP-01 challenges (issuance and renewals).
    location ^~ /.well-known/acme-challenge/ {
        root $(dv_nginx_quote "$(dv_acme_webroot)");
        default_type text/plain;
        try_files \$uri =404;
    }
EOF
)
  local content
  if [ -n "$proxy" ]; then
    case $proxy in unix:*) proxy="http://$proxy:" ;; esac
    content=$(cat <<EOF
    location / {
        proxy_pass $(dv_nginx_quote "$proxy");
        proxy_http_version 1.1;
        proxy_set_header Host \$host;
        proxy_set_header X-Real-IP \$remote_addr;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_set_header X-Forwarded-Host \$host;
        proxy_set_header Upgrade \$http_upgrade;
        proxy_set_header Connection \$http_connection;
        proxy_read_timeout 300s;
    }
EOF
)
  else
    content=$(cat <<EOF
    root $(dv_nginx_quote "$root");
    index index.html index.htm index.php;

    location / {
        try_files \$uri \$uri/ =404;
    }
EOF
)
  fi
  printf '# Managed by Devopness: virtual host %s (%s). Changes here are overwritten.\n' "$id" "$name"
  if [ "$ssl" = 1 ]; then
    redirect='https://$host$request_uri'
    [ "$https_port" != 443 ] && redirect="https://\$host:$https_port\$request_uri"
    cat <<EOF
server {
$listen_http
    server_name $server_name;

$acme

    location / {
        return 301 $redirect;
    }
}

server {
$listen_https
    server_name $server_name;

    ssl_certificate $(dv_nginx_quote "$cert_dir/fullchain.pem");
    ssl_certificate_key $(dv_nginx_quote "$cert_dir/privkey.pem");
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:devopness_ssl:10m;
    ssl_session_timeout 1d;

$content
}
EOF
  else
    cat <<EOF
server {
$listen_http
    server_name $server_name;

$acme

$content
}
EOF
  fi
}

# dv_nginx_lock: one site change at a time on this server (two deploys at once would
# each test, and could restore, the other's half-made change). Held until the script ends.
dv_nginx_lock() {
  [ -n "${DV_NGINX_LOCKED:-}" ] && return 0
  dv_has flock || return 0
  exec 9>>"${TMPDIR:-/tmp}/devopness-nginx-$(id -u).lock"
  flock -w 300 9 || dv_fail "another change of the nginx configuration is still running"
  DV_NGINX_LOCKED=1
}

# dv_crontab_lock: the lock the cron jobs family takes around crontab changes (the
# renewal entry shares the crontab with them).
dv_crontab_lock() {
  dv_has flock || return 0
  exec 8>>"/tmp/devopness-crontab-$(id -u).lock"
  flock -w 120 8 || dv_fail "another crontab change is still running (waited 120s)"
}

# dv_vh_install ID: install stdin as the site of virtual host ID (sites-available plus
# its sites-enabled link), test the whole configuration and reload nginx. When nginx
# rejects it, the previous site (or none) is put back and the step fails with nginx's
# message: a bad change never reaches the running nginx nor the next restart.
dv_vh_install() {
  local id=$1 dir avail enabled site backup="" had_link=0 before err state tmp
  dir=$(dv_nginx_dir); site=$(dv_vh_site_name "$id")
  avail="$dir/sites-available/$site"; enabled="$dir/sites-enabled/$site"
  local run=(); dv_writable "$dir" || run=(dv_root)
  dv_nginx_require
  dv_require_root_for "$dir"
  dv_nginx_lock
  if ! err=$(dv_nginx_test 2>&1); then
    dv_fail "the nginx configuration is already invalid before this change (fix it first): $err"
  fi
  tmp=$(mktemp); cat >"$tmp"
  "${run[@]}" mkdir -p -- "$dir/sites-available" "$dir/sites-enabled"
  if [ -f "$avail" ] && cmp -s "$tmp" "$avail" && [ -L "$enabled" ]; then
    rm -f "$tmp"; dv_log "site $site unchanged"; dv_nginx_reload; return 0
  fi
  if [ -f "$avail" ]; then
    backup="$avail.devopness-prev"
    "${run[@]}" cp -p -- "$avail" "$backup"
  fi
  [ -L "$enabled" ] && had_link=1
  state=$(DV_AS_ROOT=$([ ${#run[@]} -gt 0 ] && echo 1 || echo 0) dv_put_file "$avail" 644 <"$tmp")
  rm -f "$tmp"
  "${run[@]}" ln -sfn -- "../sites-available/$site" "$enabled"
  if ! err=$(dv_nginx_test 2>&1); then
    if [ -n "$backup" ]; then
      "${run[@]}" mv -f -- "$backup" "$avail"
    else
      "${run[@]}" rm -f -- "$avail"
    fi
    [ "$had_link" = 1 ] || "${run[@]}" rm -f -- "$enabled"
    dv_fail "nginx rejected the new configuration of virtual host ${DEVOPNESS_VH_NAME:-$id}; the previous configuration was kept: $err"
  fi
  [ -n "$backup" ] && "${run[@]}" rm -f -- "$backup"
  dv_log "site $site $state ($avail)"
  dv_nginx_reload
}

# dv_vh_uninstall ID: remove the site of virtual host ID; put it back when nginx no
# longer accepts its configuration without it.
dv_vh_uninstall() {
  local id=$1 dir avail enabled site backup err
  dir=$(dv_nginx_dir); site=$(dv_vh_site_name "$id")
  avail="$dir/sites-available/$site"; enabled="$dir/sites-enabled/$site"
  local run=(); dv_writable "$dir" || run=(dv_root)
  dv_require_root_for "$dir"
  dv_nginx_lock
  if [ ! -e "$avail" ] && [ ! -L "$enabled" ]; then
    dv_log "site $site is not installed"; return 0
  fi
  backup=$(mktemp)
  [ -f "$avail" ] && cat -- "$avail" >"$backup"
  "${run[@]}" rm -f -- "$enabled" "$avail"
  if ! err=$(dv_nginx_test 2>&1); then
    DV_AS_ROOT=$([ ${#run[@]} -gt 0 ] && echo 1 || echo 0) dv_put_file "$avail" 644 <"$backup" >/dev/null
    "${run[@]}" ln -sfn -- "../sites-available/$site" "$enabled"
    rm -f "$backup"
    dv_fail "nginx does not accept its configuration without site $site; it was put back: $err"
  fi
  rm -f "$backup"
  dv_log "site $site removed"
  dv_nginx_reload
}
