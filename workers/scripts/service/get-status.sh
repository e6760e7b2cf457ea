# The service's state (active, inactive, failed...), whether it starts at boot, and its
# package version (read-only; fails only when the service is not installed).
dv_service_params
dv_service_require_installed
DV_S_PKGS=()
first=${DEVOPNESS_SERVICE_PACKAGES%% *}
for alt in ${first//|/ }; do dv_pkg_installed "$alt" && { DV_S_PKGS=("$alt"); break; }; done
dv_service_report
