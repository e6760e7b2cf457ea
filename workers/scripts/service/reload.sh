# Reload the service's configuration (a restart for services that cannot reload).
dv_service_params
dv_service_require_installed
dv_service_need_root "reloading $DV_S_LABEL"
dv_service_run reload
dv_service_wait active
dv_service_report
