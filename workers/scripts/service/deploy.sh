# Install and configure the service: see dv_service_deploy in lib/service.sh.
dv_service_deploy
