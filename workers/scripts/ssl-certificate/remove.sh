# Serve the virtual host without TLS again (when its site is on this server), then delete
# the certificate's files; a Let's Encrypt certificate is deleted from certbot, and the
# renewal entry goes once certbot has no certificate left. Idempotent.
id=$DEVOPNESS_SSL_ID name=$DEVOPNESS_VH_NAME
site="$(dv_nginx_dir)/sites-available/$(dv_vh_site_name "$DEVOPNESS_VH_ID")"
if [ -f "$site" ]; then
  export DEVOPNESS_VH_SSL_ID=""
  config=$(dv_vh_render) || { printf '%s\n' "$config"; exit 1; }
  dv_vh_install "$DEVOPNESS_VH_ID" <<<"$config"
  dv_log "the site of $name is served without TLS"
else
  dv_log "the site of $name is not on this server"
fi

case $DEVOPNESS_SSL_ISSUER in
  custom)
    dir=$(dv_ssl_cert_dir "$id" custom)
    if [ -e "$dir" ]; then
      dv_as_owner "$(dirname -- "$dir")" rm -rf -- "$dir"
      dv_log "removed $dir"
    else
      dv_log "no certificate files in $dir"
    fi
    ;;
  lets-encrypt)
    base=$(dv_certbot_dir)
    if dv_as_owner "$base" test -e "$base/renewal/devopness-$id.conf"; then
      dv_certbot delete --cert-name "devopness-$id" --non-interactive 2>&1
      dv_log "certbot deleted certificate devopness-$id"
    else
      dv_log "certbot has no certificate devopness-$id"
    fi
    if [ -z "$(dv_as_owner "$base" find "$base/renewal" -maxdepth 1 -name '*.conf' 2>/dev/null || true)" ]; then
      cron=(); dv_writable "$base" || cron=(dv_root)
      dv_crontab_lock
      current=$(mktemp); updated=$(mktemp)
      "${cron[@]}" crontab -l >"$current" 2>/dev/null || true
      dv_block_replace "$current" certbot-renew </dev/null >"$updated"
      if ! cmp -s "$current" "$updated"; then
        "${cron[@]}" crontab "$updated"
        dv_log "no certificate left to renew: renewal entry removed"
      fi
      rm -f "$current" "$updated"
    fi
    ;;
  *) dv_fail "unknown certificate issuer '$DEVOPNESS_SSL_ISSUER'" ;;
esac
