# Render the virtual host's nginx server block(s) and enable them; nginx -t before the
# reload, the previous site kept when nginx rejects the new one (see lib/nginx.sh).
dv_log "virtual host $DEVOPNESS_VH_NAME (${DEVOPNESS_VH_TYPE:-name-based})"
config=$(dv_vh_render) || { printf '%s\n' "$config"; exit 1; }
webroot=$(dv_acme_webroot)
dv_as_owner "$webroot" mkdir -p -- "$webroot/.well-known/acme-challenge"
dv_vh_install "$DEVOPNESS_VH_ID" <<<"$config"
dv_result site "$(dv_nginx_dir)/sites-available/$(dv_vh_site_name "$DEVOPNESS_VH_ID")"
