# Disable and delete the virtual host's site; nginx -t, then reload.
dv_vh_uninstall "$DEVOPNESS_VH_ID"
