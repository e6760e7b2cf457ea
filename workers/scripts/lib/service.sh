# Service helpers (owned by the services family): apt packages and init units.
# Parameters (from app/services/remote.py): DEVOPNESS_SERVICE_TYPE, _VERSION, _PACKAGES
# (space separated; "a|b" = the first of them that apt offers), _UNIT (the systemd unit
# and SysV script name), _VERSION_PACKAGE, _AUTO_START (true/false), _INITIAL_STATE.

# dv_service_params: sets DV_S_LABEL ("redis 7"), DV_S_UNIT and DV_S_INIT.
dv_service_params() {
  DV_S_LABEL="${DEVOPNESS_SERVICE_TYPE:?} ${DEVOPNESS_SERVICE_VERSION:-latest}"
  DV_S_LABEL=${DV_S_LABEL% latest}
  DV_S_UNIT=${DEVOPNESS_SERVICE_UNIT:?}
  DV_S_INIT=$(dv_init_system)
}

# dv_service_need_root WHAT: fail at once, before changing anything, without root.
dv_service_need_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  sudo -n true 2>/dev/null && return 0
  dv_fail "$1 needs root: connect as root or give $(id -un) passwordless sudo"
}

# The version apt would install (empty when no apt source offers the package).
dv_apt_candidate() {
  local policy
  policy=$(apt-cache policy -- "$1" 2>/dev/null || true)
  awk '$1 == "Candidate:" && $2 != "(none)" && !found { print $2; found = 1 }' <<<"$policy"
}

dv_pkg_installed() {
  [ "$(dpkg-query -W -f '${Status}' -- "$1" 2>/dev/null || true)" = "install ok installed" ]
}

dv_pkg_version() { dpkg-query -W -f '${Version}' -- "$1" 2>/dev/null || true; }

# dv_apt_refresh: `apt-get update` when the package lists are missing or older than
# DEVOPNESS_APT_MAX_AGE seconds (default a day). A failed refresh with lists at hand only
# warns: installing may still work from them.
dv_apt_refresh() {
  local lists=/var/lib/apt/lists newest age max=${DEVOPNESS_APT_MAX_AGE:-86400}
  newest=$(find "$lists" -maxdepth 1 -name '*_Packages*' -printf '%T@\n' 2>/dev/null | sort -n | tail -n 1)
  if [ -n "$newest" ]; then
    age=$(( $(date +%s) - ${newest%.*} ))
    [ "$age" -le "$max" ] && return 0
  fi
  dv_log "refreshing the apt package lists"
  if ! dv_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null; then
    [ -n "$newest" ] || dv_fail "apt-get update failed and there are no package lists"
    dv_warn "apt-get update failed: installing from the package lists at hand"
  fi
}

# dv_service_resolve: sets DV_S_PKGS (array), the first package of each "a|b" group that
# is installed or that apt offers; fails naming what is missing.
dv_service_resolve() {
  local group alt chosen
  DV_S_PKGS=()
  for group in ${DEVOPNESS_SERVICE_PACKAGES:?}; do
    chosen=""
    for alt in ${group//|/ }; do
      if dv_pkg_installed "$alt" || [ -n "$(dv_apt_candidate "$alt")" ]; then chosen=$alt; break; fi
    done
    [ -n "$chosen" ] || dv_fail "$DV_S_LABEL needs the package ${group//|/ or }, which this server's apt sources do not offer: add a repository that provides it or choose another version"
    DV_S_PKGS+=("$chosen")
  done
}

# dv_service_check_version: for types whose package name has no version, the packaged
# upstream version must start with the one asked for (redis 7 -> 5:7.0.15-1 is fine).
dv_service_check_version() {
  local group=${DEVOPNESS_SERVICE_VERSION_PACKAGE:-} alt version="" upstream
  [ -n "$group" ] || return 0
  for alt in ${group//|/ }; do
    version=$(dv_pkg_version "$alt")
    [ -n "$version" ] || version=$(dv_apt_candidate "$alt")
    [ -n "$version" ] && break
  done
  [ -n "$version" ] || return 0
  upstream=${version#*:}
  case "$upstream" in
    "$DEVOPNESS_SERVICE_VERSION" | "$DEVOPNESS_SERVICE_VERSION".* | "$DEVOPNESS_SERVICE_VERSION"-*) ;;
    *) dv_fail "$DV_S_LABEL is not available here: this server's apt sources offer $alt $version" ;;
  esac
}

# dv_service_unit_exists: the unit (systemd) or init script (SysV) is there.
dv_service_unit_exists() {
  if [ "$DV_S_INIT" = systemd ]; then
    [ -n "$(systemctl list-unit-files --no-legend "$DV_S_UNIT.service" 2>/dev/null || true)" ]
  else
    [ -x "/etc/init.d/$DV_S_UNIT" ]
  fi
}

# dv_service_require_installed: one package of each group is installed, and the unit is
# there (a unit name like "postgresql" is shared by every version).
dv_service_require_installed() {
  local group alt found
  for group in ${DEVOPNESS_SERVICE_PACKAGES:?}; do
    found=""
    for alt in ${group//|/ }; do dv_pkg_installed "$alt" && { found=$alt; break; }; done
    [ -n "$found" ] || dv_fail "$DV_S_LABEL is not installed on this server (no package ${group//|/ or }): deploy the service first"
  done
  dv_service_unit_exists \
    || dv_fail "$DV_S_LABEL is not installed on this server ($DV_S_UNIT not found): deploy the service first"
}

# dv_service_state: active, inactive, failed, activating... (systemd's words; SysV status
# exit codes mapped onto them).
dv_service_state() {
  if [ "$DV_S_INIT" = systemd ]; then
    systemctl is-active "$DV_S_UNIT" 2>/dev/null || true
    return 0
  fi
  local rc=0
  _dv_service_sysv status >/dev/null 2>&1 || rc=$?
  if [ "$rc" -eq 4 ] && [ "$(id -u)" -ne 0 ] && sudo -n true 2>/dev/null; then
    rc=0; dv_root "/etc/init.d/$DV_S_UNIT" status >/dev/null 2>&1 || rc=$?
  fi
  case "$rc" in
    0) echo active ;;
    1 | 2) echo failed ;;
    3) echo inactive ;;
    *) echo unknown ;;
  esac
}

# dv_service_enabled: "enabled" or "disabled" at boot.
dv_service_enabled() {
  if [ "$DV_S_INIT" = systemd ]; then
    if systemctl is-enabled --quiet "$DV_S_UNIT" 2>/dev/null; then echo enabled; else echo disabled; fi
  elif ls /etc/rc[2345].d/S[0-9][0-9]"$DV_S_UNIT" >/dev/null 2>&1; then echo enabled
  else echo disabled; fi
}

_dv_service_sysv() {
  if dv_has service; then service "$DV_S_UNIT" "$@"; else "/etc/init.d/$DV_S_UNIT" "$@"; fi
}

# dv_service_run VERB: start, stop, restart or reload the unit as root. Reload falls back
# to a restart for units that cannot reload (systemd reload-or-restart; LSB force-reload).
dv_service_run() {
  local verb=$1
  if [ "$DV_S_INIT" = systemd ]; then
    [ "$verb" = reload ] && verb=reload-or-restart
    dv_root systemctl "$verb" "$DV_S_UNIT"
  else
    if [ "$verb" = reload ]; then
      if grep -q 'force-reload' "/etc/init.d/$DV_S_UNIT"; then verb=force-reload; else verb=restart; fi
    fi
    if dv_has service; then dv_root service "$DV_S_UNIT" "$verb"
    else dv_root "/etc/init.d/$DV_S_UNIT" "$verb"; fi
  fi
}

# dv_service_wait STATE: wait up to 30 s for the unit to reach STATE; fails with the
# state it is in.
dv_service_wait() {
  local want=$1 state i
  for i in $(seq 1 60); do
    state=$(dv_service_state)
    [ "$state" = "$want" ] && return 0
    sleep 0.5
  done
  dv_fail "$DV_S_LABEL ($DV_S_UNIT) is $state, not $want"
}

# dv_service_set_boot true|false: start at boot or not.
dv_service_set_boot() {
  local enable=$1
  if [ "$DV_S_INIT" = systemd ]; then
    if [ "$enable" = true ]; then dv_root systemctl enable --quiet "$DV_S_UNIT"
    else dv_root systemctl disable --quiet "$DV_S_UNIT"; fi
  elif dv_has update-rc.d; then
    if [ "$enable" = true ]; then
      # A script installed with no links yet gets its default ones first.
      ls /etc/rc[2345].d/[SK][0-9][0-9]"$DV_S_UNIT" >/dev/null 2>&1 || dv_root update-rc.d "$DV_S_UNIT" defaults >/dev/null
      dv_root update-rc.d "$DV_S_UNIT" enable >/dev/null
    else
      dv_root update-rc.d "$DV_S_UNIT" disable >/dev/null
    fi
  else
    dv_warn "cannot change whether $DV_S_UNIT starts at boot: neither systemd nor update-rc.d is here"
  fi
}

# dv_service_report: log and report state, boot and version (read-only).
dv_service_report() {
  local state enabled version
  state=$(dv_service_state)
  enabled=$(dv_service_enabled)
  version=$(dv_pkg_version "${DV_S_PKGS[0]:-${DEVOPNESS_SERVICE_PACKAGES%% *}}")
  dv_result state "$state" enabled "$enabled" version "${version:-unknown}"
  dv_log "$DV_S_LABEL ($DV_S_UNIT): $state, $enabled at boot, package version ${version:-unknown} ($DV_S_INIT)"
}

# dv_service_deploy: install the service's packages (apt), then make it start at boot or
# not (auto_start) and leave it started or stopped (initial_state). Idempotent: installed
# packages are left as they are, and only a state that differs is changed. Everything is
# checked (root, the packages and version on offer) before anything is installed. Used by
# service/deploy.sh and, per blueprint service, by server/provision.sh.
dv_service_deploy() {
  local missing pkg state
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
}
