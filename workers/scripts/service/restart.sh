# Restart the service: stop, then start.
dv_service_params
dv_service_require_installed
dv_service_need_root "restarting $DV_S_LABEL"
dv_service_run restart
dv_service_wait active
dv_service_report
