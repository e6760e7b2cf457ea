# Install the service's packages (apt), then make it start at boot or not (auto_start) and
# leave it started or stopped (initial_state). Idempotent: installed packages are left as
# they are, and only a state that differs is changed. Everything is checked (root, the
# packages and version on offer) before anything is installed.
dv_service_params
dv_service_need_root "installing $DV_S_LABEL"
dv_apt_refresh
dv_service_resolve
dv_service_check_version
missing=()
for pkg in "${DV_S_PKGS[@]}"; do dv_pkg_installed "$pkg" || missing+=("$pkg"); done
if [ "${#missing[@]}" -eq 0 ]; then
  dv_log "$DV_S_LABEL: ${DV_S_PKGS[*]} already installed"
else
  dv_log "installing ${missing[*]}"
  dv_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" \
    || dv_fail "installing ${missing[*]} failed (see the apt output above)"
fi
dv_service_require_installed

if [ "$(dv_service_enabled)" = "$( [ "${DEVOPNESS_SERVICE_AUTO_START:-true}" = true ] && echo enabled || echo disabled)" ]; then
  dv_log "start at boot: $(dv_service_enabled) already"
else
  dv_service_set_boot "${DEVOPNESS_SERVICE_AUTO_START:-true}"
  dv_log "start at boot: $(dv_service_enabled)"
fi

state=$(dv_service_state)
case "${DEVOPNESS_SERVICE_INITIAL_STATE:-started}" in
  started)
    if [ "$state" != active ]; then dv_log "starting $DV_S_UNIT"; dv_service_run start; fi
    dv_service_wait active ;;
  stopped)
    if [ "$state" = active ]; then dv_log "stopping $DV_S_UNIT"; dv_service_run stop; fi
    dv_service_wait inactive ;;
  *) dv_fail "initial state must be started or stopped, not '$DEVOPNESS_SERVICE_INITIAL_STATE'" ;;
esac
dv_service_report
