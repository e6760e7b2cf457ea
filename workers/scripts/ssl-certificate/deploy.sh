# Install the virtual host's certificate and serve the host over TLS (HTTP redirects to
# HTTPS, ACME challenges still answered over HTTP).
#   custom:       the uploaded certificate and key go to $DEVOPNESS_SSL_DIR/<id>/ once
#                 openssl agrees they belong together.
#   lets-encrypt: certbot obtains the certificate over HTTP-01 (webroot) from
#                 $DEVOPNESS_ACME_DIRECTORY; a managed crontab entry renews it and a
#                 certbot deploy hook reloads nginx after each renewal.
# When nginx rejects the new site, the previous site and certificate files are put back.
id=$DEVOPNESS_SSL_ID name=$DEVOPNESS_VH_NAME
export DEVOPNESS_VH_SSL_ID=$id DEVOPNESS_VH_SSL_ISSUER=$DEVOPNESS_SSL_ISSUER
# The key is only needed by this shell: keep it out of every child's environment.
private_key=${DEVOPNESS_SSL_PRIVATE_KEY:-}
unset DEVOPNESS_SSL_PRIVATE_KEY
dv_has openssl || dv_fail "openssl is not installed"
# Globals: the EXIT trap (cleanup, rollback) reads them.
staging="" cert_dir="" had_previous=0 run=()
cleanup() {
  [ -n "$staging" ] && rm -rf -- "$staging"
  return 0
}
trap cleanup EXIT

# dv_cert_dates FILE: report the certificate's validity (the control plane stores it).
dv_cert_dates() {
  local file=$1 end start
  end=$(dv_as_owner "$(dirname -- "$file")" openssl x509 -in "$file" -noout -enddate | cut -d= -f2-)
  start=$(dv_as_owner "$(dirname -- "$file")" openssl x509 -in "$file" -noout -startdate | cut -d= -f2-)
  dv_log "certificate for $name valid from $start until $end"
  dv_result expires_at "$(date -u -d "$end" +%Y-%m-%dT%H:%M:%SZ)" \
    not_before "$(date -u -d "$start" +%Y-%m-%dT%H:%M:%SZ)"
}

# dv_enable_tls: render the host's site with the certificate and install it.
dv_enable_tls() {
  local config
  config=$(dv_vh_render) || { printf '%s\n' "$config"; exit 1; }
  grep -q 'ssl_certificate ' <<<"$config" || dv_fail "the certificate files of $name are missing on this server"
  dv_vh_install "$DEVOPNESS_VH_ID" <<<"$config"
}

restore_certificate() {
  local f
  if [ "$had_previous" = 1 ]; then
    for f in fullchain.pem privkey.pem; do "${run[@]}" mv -f -- "$cert_dir/$f.devopness-prev" "$cert_dir/$f"; done
  else
    "${run[@]}" rm -rf -- "$cert_dir"
  fi
  dv_log "previous certificate files of $name put back"
}

deploy_custom() {
  local state=unchanged f cert_pub key_pub
  [ -n "${DEVOPNESS_SSL_CERTIFICATE:-}" ] || dv_fail "certificate $id has no certificate to install"
  [ -n "$private_key" ] || dv_fail "certificate $id has no private key to install"
  cert_dir=$(dv_ssl_cert_dir "$id" custom)
  dv_require_root_for "$cert_dir"
  dv_require_root_for "$(dv_nginx_dir)"
  dv_nginx_lock
  dv_writable "$cert_dir" || run=(dv_root)
  staging=$(mktemp -d)
  printf '%s\n' "$DEVOPNESS_SSL_CERTIFICATE" >"$staging/fullchain.pem"
  (umask 077; printf '%s\n' "$private_key" >"$staging/privkey.pem")
  cert_pub=$(openssl x509 -in "$staging/fullchain.pem" -noout -pubkey 2>/dev/null) \
    || dv_fail "the certificate of $name is not a PEM encoded X.509 certificate; nothing was changed"
  key_pub=$(openssl pkey -in "$staging/privkey.pem" -pubout 2>/dev/null) \
    || dv_fail "the private key of $name cannot be read (not an unencrypted PEM key); nothing was changed"
  [ "$cert_pub" = "$key_pub" ] \
    || dv_fail "the private key does not match the certificate of $name; nothing was changed"
  openssl x509 -in "$staging/fullchain.pem" -noout -checkend 0 >/dev/null \
    || dv_warn "the certificate of $name has expired"

  for f in fullchain.pem privkey.pem; do
    "${run[@]}" cmp -s -- "$staging/$f" "$cert_dir/$f" 2>/dev/null || state=changed
  done
  if [ "$state" = changed ]; then
    "${run[@]}" mkdir -p -m 700 -- "$cert_dir"
    if "${run[@]}" test -f "$cert_dir/fullchain.pem"; then
      had_previous=1
      for f in fullchain.pem privkey.pem; do
        "${run[@]}" cp -p -- "$cert_dir/$f" "$cert_dir/$f.devopness-prev"
      done
    fi
    # Until nginx accepts the site, any failure puts the previous files back.
    trap 'restore_certificate; cleanup' EXIT
    "${run[@]}" install -m 644 -- "$staging/fullchain.pem" "$cert_dir/fullchain.pem.devopness-new"
    "${run[@]}" install -m 600 -- "$staging/privkey.pem" "$cert_dir/privkey.pem.devopness-new"
    for f in fullchain.pem privkey.pem; do
      "${run[@]}" mv -f -- "$cert_dir/$f.devopness-new" "$cert_dir/$f"
    done
  fi
  dv_log "certificate files in $cert_dir $state"
  dv_enable_tls
  trap cleanup EXIT
  "${run[@]}" rm -f -- "$cert_dir/fullchain.pem.devopness-prev" "$cert_dir/privkey.pem.devopness-prev"
  dv_cert_dates "$cert_dir/fullchain.pem"
}

# A path as one word of a crontab line: single-quoted (no backslashes: they do not
# survive the managed-block rewrite), and without `%`, which cron reads as a newline.
cron_word() {
  case $1 in *"'"* | *%* | *[[:cntrl:]]*) dv_fail "'$1' cannot be used in a crontab line (it contains ', % or a control character)" ;; esac
  printf "'%s'" "$1"
}

# certbot runs every executable of renewal-hooks/deploy/ after it renewed a certificate,
# whoever started it (our crontab entry, or the certbot package's own timer): reload the
# nginx that serves the certificates there.
install_reload_hook() {
  local hook bin
  hook="$(dv_certbot_dir)/renewal-hooks/deploy/devopness-nginx-reload"
  bin=$(dv_nginx_bin)
  {
    printf '#!/bin/sh\n# Managed by Devopness: reload nginx after a certificate renewal.\nexec'
    printf ' %q' "$bin"
    [ -n "${DEVOPNESS_NGINX_PREFIX:-}" ] && printf ' -p %q' "$DEVOPNESS_NGINX_PREFIX"
    [ -n "${DEVOPNESS_NGINX_ERROR_LOG:-}" ] && printf ' -e %q' "$DEVOPNESS_NGINX_ERROR_LOG"
    printf ' -c %q -s reload\n' "$(dv_nginx_conf)"
  } | DV_AS_ROOT=$(dv_writable "$(dv_certbot_dir)" && echo 0 || echo 1) dv_put_file "$hook" 755 >/dev/null
  dv_log "renewals reload nginx ($hook)"
}

# The crontab line that renews every certificate of this certbot directory twice a day.
# Absolute paths: cron's PATH is minimal.
renewal_entry() {
  local arg
  printf '17 3,15 * * *'
  # A private ACME CA is trusted at renewal as it was at issuance.
  [ -n "${REQUESTS_CA_BUNDLE:-}" ] && printf ' REQUESTS_CA_BUNDLE=%s' "$(cron_word "$REQUESTS_CA_BUNDLE")"
  printf ' %s renew --quiet' "$(cron_word "$(command -v certbot)")"
  dv_certbot_dirs
  for arg in "${DV_CERTBOT_DIRS[@]}"; do
    case $arg in --*) printf ' %s' "$arg" ;; *) printf ' %s' "$(cron_word "$arg")" ;; esac
  done
  printf '\n'
}

schedule_renewal() {
  local current updated entry cron=()
  install_reload_hook
  dv_writable "$(dv_certbot_dir)" || cron=(dv_root)
  entry=$(renewal_entry) || { printf '%s\n' "$entry"; exit 1; }
  dv_crontab_lock
  current=$(mktemp); updated=$(mktemp)
  "${cron[@]}" crontab -l >"$current" 2>/dev/null || true
  dv_block_replace "$current" certbot-renew <<<"$entry" >"$updated"
  if cmp -s "$current" "$updated"; then
    dv_log "renewal already scheduled"
  else
    "${cron[@]}" crontab "$updated"
    dv_log "renewal scheduled in the crontab of $("${cron[@]}" id -un): $entry"
  fi
  rm -f "$current" "$updated"
}

deploy_lets_encrypt() {
  local webroot config email_args=()
  case $name in
    \*.*) dv_fail "Let's Encrypt issues wildcard certificates ($name) only through DNS-01 validation, which is not supported here: upload the certificate as a custom one" ;;
  esac
  dv_has certbot || dv_fail "certbot is not installed: install it (apt-get install certbot) to obtain Let's Encrypt certificates"
  webroot=$(dv_acme_webroot)
  dv_require_root_for "$webroot"
  dv_require_root_for "$(dv_certbot_dir)"
  dv_as_owner "$webroot" mkdir -p -- "$webroot/.well-known/acme-challenge"
  # The CA asks http://<name>/.well-known/acme-challenge/...: the site must answer first.
  dv_log "making sure the site of $name answers ACME challenges from $webroot"
  config=$(dv_vh_render) || { printf '%s\n' "$config"; exit 1; }
  dv_vh_install "$DEVOPNESS_VH_ID" <<<"$config"

  if [ -n "${DEVOPNESS_ACME_EMAIL:-}" ]; then email_args=(-m "$DEVOPNESS_ACME_EMAIL")
  else email_args=(--register-unsafely-without-email); fi
  local directory=${DEVOPNESS_ACME_DIRECTORY:-https://acme-v02.api.letsencrypt.org/directory}
  dv_log "requesting a certificate for $name from $directory"
  # --keep-until-expiring: a second deploy keeps a valid certificate (idempotent, and
  # within the CA's rate limits).
  if ! dv_certbot certonly --webroot -w "$webroot" -d "$name" --cert-name "devopness-$id" \
      --server "$directory" --non-interactive --agree-tos "${email_args[@]}" \
      --keep-until-expiring 2>&1; then
    dv_fail "certbot could not obtain a certificate for $name (see its output above); the site was left without TLS"
  fi
  dv_enable_tls
  schedule_renewal
  dv_cert_dates "$(dv_ssl_cert_dir "$id" lets-encrypt)/fullchain.pem"
}

case $DEVOPNESS_SSL_ISSUER in
  custom) deploy_custom ;;
  lets-encrypt) deploy_lets_encrypt ;;
  *) dv_fail "unknown certificate issuer '$DEVOPNESS_SSL_ISSUER'" ;;
esac
