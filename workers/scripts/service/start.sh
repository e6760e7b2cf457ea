# Start the service (nothing to do when it runs).
dv_service_params
dv_service_require_installed
dv_service_need_root "starting $DV_S_LABEL"
[ "$(dv_service_state)" = active ] || dv_service_run start
dv_service_wait active
dv_service_report
