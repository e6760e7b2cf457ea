# nginx helpers (owned by the virtual hosts family; used by application deploys).
# dv_nginx_reload: validate the configuration (nginx -t) and reload nginx when it runs.
dv_nginx_reload() { dv_warn "nginx reload is not available yet"; }
