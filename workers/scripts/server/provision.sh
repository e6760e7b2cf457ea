# Prepare a freshly connected server: base packages, the applications directory, and the
# services of its blueprint. Idempotent: only what is missing is installed.
. /etc/os-release 2>/dev/null || true
case "${ID:-}:${ID_LIKE:-}" in
  debian:*|ubuntu:*|*:*debian*) ;;
  *) dv_fail "provisioning supports Debian and Ubuntu; this server runs ${PRETTY_NAME:-an unknown OS}" ;;
esac

packages=(${DEVOPNESS_BASE_PACKAGES:-ca-certificates curl git unzip rsync acl cron})
missing=()
for pkg in "${packages[@]}"; do
  [[ $pkg =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || dv_fail "'$pkg' is not a package name"
  dv_pkg_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  dv_log "installing base packages: ${missing[*]}"
  dv_apt_refresh
  dv_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  dv_log "base packages present: ${packages[*]}"
fi

apps_dir=${DEVOPNESS_APPS_DIR:-$HOME}
mkdir -p -- "$apps_dir"
dv_log "applications directory: $apps_dir"

# One line per blueprint service, from app/servers/remote.py:
# type:version:auto_start:initial_state:unit:version_package:packages
if [ -n "${DEVOPNESS_BLUEPRINT_SERVICES:-}" ]; then
  # Read on fd 3: apt and the init scripts must not swallow the remaining lines.
  while IFS=: read -r -u 3 type version auto_start initial_state unit version_package service_packages; do
    [ -n "$type" ] || continue
    dv_log "blueprint service: $type $version"
    (
      export DEVOPNESS_SERVICE_TYPE="$type" DEVOPNESS_SERVICE_VERSION="$version" \
        DEVOPNESS_SERVICE_AUTO_START="$auto_start" DEVOPNESS_SERVICE_INITIAL_STATE="$initial_state" \
        DEVOPNESS_SERVICE_UNIT="$unit" DEVOPNESS_SERVICE_VERSION_PACKAGE="$version_package" \
        DEVOPNESS_SERVICE_PACKAGES="$service_packages"
      dv_service_deploy
    )
  done 3<<< "$DEVOPNESS_BLUEPRINT_SERVICES"
else
  dv_log "the blueprint lists no services"
fi
dv_log "server provisioned"
