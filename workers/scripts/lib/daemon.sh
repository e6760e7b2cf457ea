# Daemon supervision helpers (owned by the daemons family; application deploys call
# dv_daemon_restart). A daemon is supervised in one of two ways:
# - systemd (machines that run it, with root): a template unit
#   ${DEVOPNESS_SYSTEMD_DIR:-/etc/systemd/system}/devopness-daemon-<id>@.service whose
#   instances 1..process_count are enabled;
# - supervisor (containers without systemd, or no root): one program
#   [program:devopness-daemon-<id>] with numprocs=process_count. With root it goes to the
#   system supervisord (/etc/supervisor/conf.d); without, to a supervisord of the SSH user's
#   own in ${DEVOPNESS_SUPERVISOR_DIR:-~/.config/devopness/supervisor}, started on demand.
# DEVOPNESS_DAEMON_SUPERVISOR=systemd|supervisor overrides the choice (default auto).

dv_daemon_unit_name() { printf 'devopness-daemon-%s' "$1"; }

# Root directly or through passwordless sudo (dv_root's own test, without failing).
_dv_daemon_can_root() { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }

# dv_daemon_mechanism: sets DV_D_MECHANISM to "systemd" or "supervisor" for this server.
dv_daemon_mechanism() {
  case "${DEVOPNESS_DAEMON_SUPERVISOR:-auto}" in
    systemd | supervisor) DV_D_MECHANISM=$DEVOPNESS_DAEMON_SUPERVISOR ;;
    auto | "")
      if [ "$(dv_init_system)" = systemd ] && _dv_daemon_can_root; then DV_D_MECHANISM=systemd
      else DV_D_MECHANISM=supervisor; fi ;;
    *) dv_fail "DEVOPNESS_DAEMON_SUPERVISOR must be systemd, supervisor or auto, not '$DEVOPNESS_DAEMON_SUPERVISOR'" ;;
  esac
}

# --- supervisor ---------------------------------------------------------------------------

# Sets DV_SUP_SYSTEM (1: the system supervisord, written as root), DV_SUP_CONF (its main
# configuration), DV_SUP_PROGRAMS (where program files go) and DV_SUP_LOGS.
dv_sup_init() {
  local dir=${DEVOPNESS_SUPERVISOR_DIR:-}
  if [ -z "$dir" ]; then
    if _dv_daemon_can_root; then dir=/etc/supervisor/conf.d
    else dir=${HOME:?}/.config/devopness/supervisor; fi
  fi
  dir=${dir%/}
  case "$dir" in
    /*) ;;
    *) dv_fail "DEVOPNESS_SUPERVISOR_DIR must be an absolute path, not '$dir'" ;;
  esac
  case "$dir" in *%*) dv_fail "DEVOPNESS_SUPERVISOR_DIR must not contain '%'" ;; esac
  DV_SUP_DIR=$dir
  if [ "$dir" = /etc/supervisor/conf.d ]; then
    DV_SUP_SYSTEM=1
    DV_SUP_CONF=/etc/supervisor/supervisord.conf
    DV_SUP_PROGRAMS=$dir
    DV_SUP_LOGS=/var/log/supervisor
  else
    DV_SUP_SYSTEM=0
    DV_SUP_CONF=$dir/supervisord.conf
    DV_SUP_PROGRAMS=$dir/conf.d
    DV_SUP_LOGS=$dir/logs
  fi
}

# Run as root for the system supervisord, as ourselves for our own.
_dv_sup() { if [ "$DV_SUP_SYSTEM" = 1 ]; then dv_root "$@"; else "$@"; fi; }

dv_sup_ctl() { _dv_sup supervisorctl -c "$DV_SUP_CONF" "$@"; }

dv_sup_running() { dv_sup_ctl pid >/dev/null 2>&1; }

dv_sup_program_file() { printf '%s/%s.conf' "$DV_SUP_PROGRAMS" "$(dv_daemon_unit_name "$1")"; }

# Start supervisord when it does not answer (installing it as root when missing).
dv_sup_ensure_running() {
  dv_sup_running && return 0
  if ! dv_has supervisord; then
    if [ "$DV_SUP_SYSTEM" = 1 ]; then
      dv_log "installing supervisor"
      dv_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q supervisor >/dev/null
    else
      dv_fail "supervisord is not installed: install the 'supervisor' package (needs root) or connect as a user with root"
    fi
  fi
  if [ "$DV_SUP_SYSTEM" = 1 ]; then
    if [ "$(dv_init_system)" = systemd ]; then dv_root systemctl enable --now supervisor >/dev/null
    else dv_root service supervisor start >/dev/null || true; fi
  else
    mkdir -p -- "$DV_SUP_PROGRAMS" "$DV_SUP_LOGS"
    chmod 700 -- "$DV_SUP_DIR"
    dv_put_file "$DV_SUP_CONF" 600 >/dev/null <<EOF
; Managed by Devopness: the supervisord that runs $(id -un)'s daemons.
[unix_http_server]
file=$DV_SUP_DIR/supervisor.sock
chmod=0700

[supervisord]
logfile=$DV_SUP_DIR/supervisord.log
pidfile=$DV_SUP_DIR/supervisord.pid
childlogdir=$DV_SUP_LOGS

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$DV_SUP_DIR/supervisor.sock

[include]
files = $DV_SUP_PROGRAMS/*.conf
EOF
    dv_log "starting supervisord ($DV_SUP_CONF)"
    supervisord -c "$DV_SUP_CONF"
    # Our own supervisord has no init system behind it: start it again at boot.
    if dv_has crontab; then
      local current entry
      current=$(mktemp)
      crontab -l >"$current" 2>/dev/null || true
      entry="@reboot $(command -v supervisord) -c $DV_SUP_CONF"
      dv_block_replace "$current" supervisord <<<"$entry" >"$current.new"
      cmp -s "$current" "$current.new" || crontab "$current.new" || dv_warn "could not add supervisord to the crontab for reboots"
      rm -f -- "$current" "$current.new"
    fi
  fi
  local i
  for i in $(seq 1 50); do
    dv_sup_running && return 0
    sleep 0.2
  done
  dv_fail "supervisord ($DV_SUP_CONF) did not start"
}

# dv_sup_settle ID: wait while any of the program's processes is still starting (or
# backing off between tries), so that the count below is the outcome.
dv_sup_settle() {
  local i
  for i in $(seq 1 100); do
    # supervisorctl exits non-zero while a process is not running: read its output
    # whatever its status, then decide.
    local out
    out=$(dv_sup_ctl status "$(dv_daemon_unit_name "$1"):*" 2>&1 || true)
    awk '$2 == "STARTING" || $2 == "BACKOFF" || $2 == "STOPPING" { busy = 1 } END { exit !busy }' \
      <<<"$out" || return 0
    sleep 0.2
  done
}

# dv_sup_count ID: number of the program's processes in state RUNNING.
dv_sup_count() {
  local out
  out=$(dv_sup_ctl status "$(dv_daemon_unit_name "$1"):*" 2>&1) || true
  printf '%s\n' "$out" | awk '$2 == "RUNNING" { n++ } END { print n + 0 }'
}

# --- systemd ------------------------------------------------------------------------------

dv_systemd_dir() { printf '%s' "${DEVOPNESS_SYSTEMD_DIR:-/etc/systemd/system}"; }

dv_systemd_unit_file() { printf '%s/%s@.service' "$(dv_systemd_dir)" "$(dv_daemon_unit_name "$1")"; }

# dv_systemd_instances ID: the instance numbers enabled or loaded now, one a line.
dv_systemd_instances() {
  local unit
  unit=$(dv_daemon_unit_name "$1")
  {
    systemctl list-units --all --plain --no-legend "$unit@*.service" 2>/dev/null | awk '{print $1}'
    ls -1 "$(dv_systemd_dir)"/*.wants/ 2>/dev/null | grep "^$unit@" || true
  } | sed -n "s/^$unit@\([0-9][0-9]*\)\.service\$/\1/p" | sort -nu
}

# dv_systemd_count ID COUNT: how many of the instances 1..COUNT are active.
dv_systemd_count() {
  local unit i n=0
  unit=$(dv_daemon_unit_name "$1")
  for i in $(seq 1 "$2"); do
    [ "$(systemctl is-active "$unit@$i.service" 2>/dev/null || true)" = active ] && n=$((n + 1))
  done
  echo "$n"
}

# --- both ---------------------------------------------------------------------------------

# dv_daemon_installed_with ID: "systemd", "supervisor" or "" (not installed here).
dv_daemon_installed_with() {
  if [ -f "$(dv_systemd_unit_file "$1")" ]; then echo systemd; return; fi
  dv_sup_init
  if [ -f "$(dv_sup_program_file "$1")" ]; then echo supervisor; return; fi
  echo ""
}

# dv_daemon_restart ID: restart the supervised daemon ID when it is installed here
# (application deploys call it for their linked daemons).
dv_daemon_restart() {
  local id=$1 unit
  unit=$(dv_daemon_unit_name "$id")
  case "$(dv_daemon_installed_with "$id")" in
    systemd)
      dv_log "restarting $unit (systemd)"
      dv_root systemctl restart "$unit@*.service" ;;
    supervisor)
      dv_log "restarting $unit (supervisor)"
      dv_sup_init
      dv_sup_ensure_running
      dv_sup_ctl restart "$unit:*" ;;
    *) dv_warn "daemon $id is not installed on this server (deploy it first): not restarted" ;;
  esac
}

# --- what an application's daemons and cron jobs run with ---------------------------------

# dv_sq VALUE: VALUE single-quoted for sh (any byte, newlines included, read back as is).
dv_sq() { local q="'\\''"; printf "'%s'" "${1//\'/$q}"; }

# dv_app_release_root: the root directory of the application's live release, through
# `current` (a process started there after a switch runs in the new release).
dv_app_release_root() {
  printf '%s/current%s' "$(dv_app_dir)" "${DEVOPNESS_APP_ROOT_DIRECTORY:+/$DEVOPNESS_APP_ROOT_DIRECTORY}"
}

# dv_app_require_release WHAT: fails when the application has no live release here.
dv_app_require_release() {
  [ -L "$(dv_app_dir)/current" ] || dv_fail "$1 runs in the live release of application '$DEVOPNESS_APPLICATION_DIR_NAME', which has none on this server yet: deploy the application (its deploy installs and starts $1)"
}

# dv_app_process_env USER: write the environment file the application's daemons and cron
# jobs load (its os-env-var variables, from DEVOPNESS_APP_ENV, and PATH with its runtime's
# bin directory first, a Python application's .venv/bin before that). Readable only by
# USER (through root when USER is not us). Sets DV_APP_ENV_FILE and DV_APP_ENV_CHANGED.
dv_app_process_env() {
  local user=$1 me meta key value_b64 value path="" content
  me=$(id -un)
  meta="$(dv_app_dir)/.devopness"
  content="# Managed by Devopness: the environment of the application's daemons and cron jobs."
  while read -r key value_b64; do
    [ -n "$key" ] || continue
    value=$(printf '%s' "$value_b64" | base64 -d; printf x)
    content+=$'\n'"export $key=$(dv_sq "${value%x}")"
  done <<<"${DEVOPNESS_APP_ENV:-}"
  if [ "${DEVOPNESS_APP_LANGUAGE:-}" = python ]; then path="$(dv_app_release_root)/.venv/bin"; fi
  if [ -n "${DEVOPNESS_APP_RUNTIME_BIN:-}" ]; then path="${path:+$path:}$HOME/$DEVOPNESS_APP_RUNTIME_BIN"; fi
  if [ -n "$path" ]; then content+=$'\n'"PATH=$(dv_sq "$path"):\"\$PATH\"; export PATH"; fi
  mkdir -p -- "$meta"
  if [ "$user" = "$me" ]; then
    DV_APP_ENV_FILE="$meta/process.env"
    DV_APP_ENV_CHANGED=$(printf '%s\n' "$content" | dv_put_file "$DV_APP_ENV_FILE" 600)
  else
    DV_APP_ENV_FILE="$meta/process-$user.env"
    DV_APP_ENV_CHANGED=$(printf '%s\n' "$content" | DV_AS_ROOT=1 dv_put_file "$DV_APP_ENV_FILE" 600)
    dv_root chown -- "$user" "$DV_APP_ENV_FILE"
  fi
}

# dv_daemon_params: checks the DEVOPNESS_DAEMON_* parameters and sets DV_D_ID, DV_D_UNIT,
# DV_D_USER, DV_D_COUNT, DV_D_COMMAND and DV_D_DIR. A daemon of an application
# (DEVOPNESS_DAEMON_APPLICATION=1) runs in the root of the application's live release by
# default, a relative working directory is resolved against it.
dv_daemon_params() {
  DV_D_ID=${DEVOPNESS_DAEMON_ID:?}
  DV_D_UNIT=$(dv_daemon_unit_name "$DV_D_ID")
  DV_D_USER=${DEVOPNESS_DAEMON_USER:-$(id -un)}
  DV_D_COUNT=${DEVOPNESS_DAEMON_PROCESS_COUNT:-1}
  DV_D_COMMAND=${DEVOPNESS_DAEMON_COMMAND:-}
  DV_D_APP=${DEVOPNESS_DAEMON_APPLICATION:-}
  case "$DV_D_COUNT" in ''|*[!0-9]*) dv_fail "process count must be a number, not '$DV_D_COUNT'" ;; esac
  [ "$DV_D_COUNT" -ge 1 ] || dv_fail "process count must be at least 1"
  DV_D_DIR=${DEVOPNESS_DAEMON_WORKING_DIRECTORY:-}
  if [ -n "$DV_D_APP" ] && [ "${DV_D_DIR#/}" = "$DV_D_DIR" ]; then
    DV_D_DIR=$(dv_app_release_root)/${DV_D_DIR#./}
    DV_D_DIR=${DV_D_DIR%/}
    DV_D_DIR=${DV_D_DIR%/.}
  elif [ -n "$DV_D_DIR" ] && [ "${DV_D_DIR#/}" = "$DV_D_DIR" ]; then
    dv_fail "working directory '$DV_D_DIR' is relative but the daemon has no application"
  fi
  if [ -z "$DV_D_DIR" ]; then DV_D_DIR=$(_dv_daemon_home "$DV_D_USER"); fi
  # What the supervisor runs: an application's daemon loads its environment first.
  DV_D_RUN=$DV_D_COMMAND
  DV_APP_ENV_CHANGED=unchanged
}

_dv_daemon_home() { getent passwd "$1" | cut -d: -f6; }

# Checks before installing: the command fits on one line, the user exists (and may be
# used), the working directory exists.
dv_daemon_check() {
  local me
  me=$(id -un)
  [ -n "$DV_D_COMMAND" ] || dv_fail "the daemon has no command"
  case "$DV_D_COMMAND" in *$'\n'*|*$'\r'*) dv_fail "the daemon's command must be a single line" ;; esac
  id -u "$DV_D_USER" >/dev/null 2>&1 || dv_fail "user '$DV_D_USER' does not exist on this server"
  if [ "$DV_D_USER" != "$me" ] && ! _dv_daemon_can_root; then
    dv_fail "running the daemon as '$DV_D_USER' needs root: connect as root, give $me passwordless sudo, or run it as $me"
  fi
  if [ -n "$DV_D_APP" ]; then
    dv_app_require_release "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID}"
    dv_app_process_env "$DV_D_USER"
    DV_D_RUN=". $(dv_sq "$DV_APP_ENV_FILE"); $DV_D_COMMAND"
  fi
  [ -d "$DV_D_DIR" ] || dv_fail "working directory '$DV_D_DIR' does not exist on this server"
}

# Quoting for ExecStart= (systemd) and command= (supervisor): /bin/sh -c 'COMMAND'.
_dv_systemd_quote() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\'/\\\'}; s=${s//%/%%}; s=${s//\$/\$\$}
  printf "'%s'" "$s"
}
# (supervisor's configuration parser cuts a value at " #" or " ;": those characters are
# quoted apart, 'a '"#"' b', which the shell reads back as one word.)
_dv_sup_quote() {
  local s=$1
  s=${s//\'/\'\\\'\'}; s=${s//%/%%}; s=${s//#/\'\"#\"\'}; s=${s//;/\'\";\"\'}
  printf "'%s'" "$s"
}

# --- operations, per mechanism (after dv_daemon_params) -----------------------------------

# A running daemon restarts when its environment changed, or when asked to
# (DV_D_RESTART=1: an application deploy switched the release it runs in).
_dv_daemon_must_restart() { [ "${DV_D_RESTART:-0}" = 1 ] || [ "$DV_APP_ENV_CHANGED" = changed ]; }

# The last lines the daemon's first process wrote (for failure messages).
_dv_daemon_log_tail() {
  case "$1" in
    supervisor)
      dv_sup_ctl status "$DV_D_UNIT:*" 2>&1 || true
      if [ "$DV_SUP_SYSTEM" = 0 ]; then
        grep -F "$DV_D_UNIT" "$DV_SUP_DIR/supervisord.log" 2>/dev/null | tail -n 3 || true
      fi
      _dv_sup tail -n 15 -- "$DV_SUP_LOGS/${DV_D_UNIT}_00.log" 2>/dev/null || true ;;
    systemd) dv_root journalctl -n 15 --no-pager -u "$DV_D_UNIT@1.service" 2>/dev/null || true ;;
  esac
}

dv_sup_write_program() {
  local file=$1 user_line home
  home=$(_dv_daemon_home "$DV_D_USER")
  user_line="; runs as $DV_D_USER, the user of its supervisord"
  if [ "$DV_SUP_SYSTEM" = 1 ] || [ "$(id -u)" -eq 0 ]; then user_line="user=$DV_D_USER"; fi
  DV_AS_ROOT=$DV_SUP_SYSTEM dv_put_file "$file" 644 <<EOC
; Managed by Devopness: daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} (id $DV_D_ID). Changes here are overwritten.
[program:$DV_D_UNIT]
command=/bin/sh -c $(_dv_sup_quote "$DV_D_RUN")
directory=$DV_D_DIR
numprocs=$DV_D_COUNT
process_name=%(program_name)s_%(process_num)02d
$user_line
environment=HOME="$home",USER="$DV_D_USER",DEVOPNESS_DAEMON_PROCESS="%(process_num)d"
autostart=true
autorestart=true
startsecs=1
startretries=3
stopasgroup=true
killasgroup=true
stopwaitsecs=10
redirect_stderr=true
stdout_logfile=$DV_SUP_LOGS/${DV_D_UNIT}_%(process_num)02d.log
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=3
EOC
}

# Apply the program files to the running supervisord: only a changed program restarts.
_dv_sup_apply() {
  dv_sup_ctl reread >/dev/null
  dv_sup_ctl update "$DV_D_UNIT" || true
}

dv_sup_deploy() {
  dv_sup_init
  # Our own supervisord runs as the SSH user: it cannot switch users.
  if [ "$DV_SUP_SYSTEM" = 0 ] && [ "$(id -u)" -ne 0 ] && [ "$DV_D_USER" != "$(id -un)" ]; then
    dv_fail "running the daemon as '$DV_D_USER' needs root: the supervisord in $DV_SUP_DIR runs as $(id -un)"
  fi
  dv_sup_ensure_running
  local file backup="" changed running
  file=$(dv_sup_program_file "$DV_D_ID")
  if [ -f "$file" ]; then backup=$(mktemp); cat -- "$file" >"$backup"; fi
  changed=$(dv_sup_write_program "$file")
  dv_log "program $DV_D_UNIT in $file: $changed"
  _dv_sup_apply
  dv_sup_ctl start "$DV_D_UNIT:*" >/dev/null 2>&1 || true
  if [ "$changed" = unchanged ] && _dv_daemon_must_restart; then
    dv_log "restarting $DV_D_UNIT (supervisor)"
    dv_sup_ctl restart "$DV_D_UNIT:*" >/dev/null 2>&1 || true
  fi
  dv_sup_settle "$DV_D_ID"
  running=$(dv_sup_count "$DV_D_ID")
  if [ "$running" -ne "$DV_D_COUNT" ]; then
    local tail
    tail=$(_dv_daemon_log_tail supervisor)
    # Put the previous definition back (or none), so a bad deploy leaves what ran before.
    if [ -n "$backup" ]; then
      _dv_sup install -m 644 -- "$backup" "$file"
    else
      _dv_sup rm -f -- "$file"
    fi
    _dv_sup_apply >/dev/null 2>&1 || true
    [ -n "$backup" ] && { dv_sup_ctl start "$DV_D_UNIT:*" >/dev/null 2>&1 || true; rm -f -- "$backup"; }
    dv_fail "the daemon did not start: $running of $DV_D_COUNT processes running; the previous definition was restored. Its last output:
$tail"
  fi
  [ -z "$backup" ] || rm -f -- "$backup"
}

dv_sup_remove() {
  dv_sup_init
  local file
  file=$(dv_sup_program_file "$DV_D_ID")
  if dv_sup_running; then dv_sup_ctl stop "$DV_D_UNIT:*" >/dev/null 2>&1 || true; fi
  _dv_sup rm -f -- "$file"
  if dv_sup_running; then _dv_sup_apply; fi
  _dv_sup rm -f -- "$DV_SUP_LOGS/${DV_D_UNIT}_"*.log* 2>/dev/null || true
}

dv_systemd_write_unit() {
  local wd=${DV_D_DIR//%/%%}
  DV_AS_ROOT=1 dv_put_file "$1" 644 <<EOC
# Managed by Devopness: daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} (id $DV_D_ID). Changes here are overwritten.
[Unit]
Description=Devopness daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} (id $DV_D_ID), process %i
After=network.target

[Service]
Type=simple
User=$DV_D_USER
WorkingDirectory=$wd
Environment=DEVOPNESS_DAEMON_PROCESS=%i
ExecStart=/bin/sh -c $(_dv_systemd_quote "$DV_D_RUN")
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
EOC
}

# Enable and start instances 1..COUNT (restarting them when the unit changed), disable and
# stop the others (a smaller process count).
_dv_systemd_converge() {
  local count=$1 restart=$2 keep=$3 i
  for i in $(seq 1 "$count"); do
    dv_root systemctl enable --quiet "$DV_D_UNIT@$i.service"
    if [ "$restart" = changed ]; then dv_root systemctl restart "$DV_D_UNIT@$i.service"
    else dv_root systemctl start "$DV_D_UNIT@$i.service"; fi
  done
  for i in $keep; do
    [ "$i" -gt "$count" ] && dv_root systemctl disable --now --quiet "$DV_D_UNIT@$i.service"
  done
  return 0
}

dv_systemd_deploy() {
  local file backup="" changed old running
  file=$(dv_systemd_unit_file "$DV_D_ID")
  old=$(dv_systemd_instances "$DV_D_ID" | tr '\n' ' ')
  if [ -f "$file" ]; then backup=$(mktemp); cat -- "$file" >"$backup"; fi
  changed=$(dv_systemd_write_unit "$file")
  dv_log "unit $file: $changed"
  if _dv_daemon_must_restart; then changed=changed; fi
  dv_root systemctl daemon-reload
  _dv_systemd_converge "$DV_D_COUNT" "$changed" "$old"
  # A command that exits at once still reads "active" for a moment: give it time to fail.
  sleep 2
  running=$(dv_systemd_count "$DV_D_ID" "$DV_D_COUNT")
  if [ "$running" -ne "$DV_D_COUNT" ]; then
    local tail i
    tail=$(_dv_daemon_log_tail systemd)
    for i in $(seq 1 "$DV_D_COUNT"); do
      dv_root systemctl disable --now --quiet "$DV_D_UNIT@$i.service" || true
    done
    if [ -n "$backup" ]; then
      dv_root install -m 644 -- "$backup" "$file"
      dv_root systemctl daemon-reload
      for i in $old; do dv_root systemctl enable --now --quiet "$DV_D_UNIT@$i.service" || true; done
      rm -f -- "$backup"
    else
      dv_root rm -f -- "$file"
      dv_root systemctl daemon-reload
    fi
    dv_fail "the daemon did not start: $running of $DV_D_COUNT processes running; the previous definition was restored. Its last output:
$tail"
  fi
  [ -z "$backup" ] || rm -f -- "$backup"
}

dv_systemd_remove() {
  local i file
  file=$(dv_systemd_unit_file "$DV_D_ID")
  for i in $(dv_systemd_instances "$DV_D_ID"); do
    dv_root systemctl disable --now --quiet "$DV_D_UNIT@$i.service" || true
  done
  dv_root rm -f -- "$file"
  dv_root systemctl daemon-reload
}

# dv_daemon_count MECHANISM: processes running now.
dv_daemon_count() {
  case "$1" in
    supervisor) dv_sup_settle "$DV_D_ID"; dv_sup_count "$DV_D_ID" ;;
    systemd) dv_systemd_count "$DV_D_ID" "$DV_D_COUNT" ;;
  esac
}

# dv_daemon_report MECHANISM: log and report the running count; fails when not all run.
dv_daemon_report() {
  local running
  running=$(dv_daemon_count "$1")
  dv_result running "$running" process_count "$DV_D_COUNT" supervisor "$1"
  if [ "$running" -eq "$DV_D_COUNT" ]; then
    dv_log "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID}: all $running processes running ($1)"
  else
    dv_log "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID}: $running of $DV_D_COUNT processes running ($1)"
    return 1
  fi
}

# dv_daemon_require_installed: sets DV_D_WITH to the mechanism the daemon is installed
# with, or fails.
dv_daemon_require_installed() {
  DV_D_WITH=$(dv_daemon_installed_with "$DV_D_ID")
  [ -n "$DV_D_WITH" ] || dv_fail "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} is not deployed on this server: deploy it first"
}

# dv_daemon_run start|restart: start (those already running keep running) or restart every
# process of the installed daemon (daemon/start.sh, daemon/restart.sh); fails with the
# daemon's last output when not all of them run.
dv_daemon_run() {
  local verb=$1 i
  dv_sup_init
  dv_daemon_params
  dv_daemon_require_installed
  case "$DV_D_WITH" in
    supervisor) dv_sup_ensure_running; dv_sup_ctl "$verb" "$DV_D_UNIT:*" || true ;;
    systemd)
      for i in $(seq 1 "$DV_D_COUNT"); do dv_root systemctl "$verb" "$DV_D_UNIT@$i.service"; done
      sleep 1 ;;
  esac
  dv_daemon_report "$DV_D_WITH" || dv_fail "the daemon did not $verb: $(_dv_daemon_log_tail "$DV_D_WITH")"
}

# dv_daemon_install: install (or update) the daemon described by DEVOPNESS_DAEMON_* and
# check that all its processes run (daemon/deploy.sh; application deploys call it for their
# daemons with DV_D_RESTART=1). A daemon that does not start fails with its last output
# and its previous definition restored.
dv_daemon_install() {
  local previous
  dv_sup_init
  dv_daemon_params
  dv_daemon_check
  dv_daemon_mechanism
  previous=$(dv_daemon_installed_with "$DV_D_ID")
  if [ -n "$previous" ] && [ "$previous" != "$DV_D_MECHANISM" ]; then
    dv_log "moving the daemon from $previous to $DV_D_MECHANISM"
    "dv_${previous/supervisor/sup}_remove"
  fi
  dv_log "deploying daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID}: $DV_D_COUNT x '$DV_D_COMMAND' as $DV_D_USER in $DV_D_DIR ($DV_D_MECHANISM)"
  "dv_${DV_D_MECHANISM/supervisor/sup}_deploy"
  dv_daemon_report "$DV_D_MECHANISM" || dv_fail "not every process of the daemon is running"
}

# dv_daemon_uninstall: stop and remove the daemon DEVOPNESS_DAEMON_ID when installed here.
dv_daemon_uninstall() {
  local with
  dv_sup_init
  dv_daemon_params
  with=$(dv_daemon_installed_with "$DV_D_ID")
  if [ -z "$with" ]; then
    dv_log "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} is not installed on this server: nothing to remove"
    return 0
  fi
  "dv_${with/supervisor/sup}_remove"
  dv_log "daemon ${DEVOPNESS_DAEMON_NAME:-$DV_D_ID} removed ($with)"
}
