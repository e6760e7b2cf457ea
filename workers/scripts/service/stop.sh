# Stop the service (nothing to do when it is stopped); whether it starts at boot is unchanged.
dv_service_params
dv_service_require_installed
dv_service_need_root "stopping $DV_S_LABEL"
[ "$(dv_service_state)" = inactive ] || dv_service_run stop
dv_service_wait inactive
dv_service_report
