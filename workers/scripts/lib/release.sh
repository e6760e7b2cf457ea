# Release folders of an application (workers/scripts/application/*.sh).
#
# <app>/releases/<YYYY-MM-DD HH:MM:SS>: named by the deploy's UTC time, so the name holds a
# space (quote every use, never split a list of names on blanks). Servers deployed before
# hold releases named by the deploy action's id (digits only): those count as older than
# any timestamped one.
# A timestamped release is a link to <app>/.releases/<YYYYMMDDTHHMMSSZ>-<action id>, where
# its files are: toolchains refuse or mangle a working directory with a `:` in its path
# (Python's venv will not create one there; npm puts the cwd's node_modules/.bin on PATH,
# which `:` splits), and what runs in a release works in its real path (`pwd -P`). The link
# names the action that made the release from the moment it exists.
# What a deploy's steps share lives in <app>/.devopness:
#   actions/<action id>      the release that action's fetch step claimed
#   releases/<name>.commit   the commit it holds; releases/<name>.ready once it is built
#   previous                 the activate step's last switch (dv_release_record_*)

# The deploy's steps run on every server of every deploy: these helpers start no process
# where bash can do the work itself (no `$(...)` subshells, basename, date or sort); the
# `*_set` forms put their answer in a variable.

# dv_release_key NAME: a number that orders releases oldest first (legacy ids below every
# timestamp); fails for a name that is no release of ours. dv_release_key_set sets DV_KEY.
dv_release_key_set() {
  DV_KEY=""
  case $1 in
    [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\ [0-9][0-9]:[0-9][0-9]:[0-9][0-9])
      local digits=${1//[!0-9]/}
      DV_KEY=$((1000000000000000000 + 10#$digits)) ;;
    '' | *[!0-9]*) return 1 ;;
    *)
      [ "${#1}" -le 18 ] || return 1
      DV_KEY=$((10#$1)) ;;
  esac
}
dv_release_key() {
  dv_release_key_set "$1" || return 1
  printf '%s\n' "$DV_KEY"
}

# dv_release_older A B: A is a release older than release B.
dv_release_older() {
  local a
  dv_release_key_set "$1" || return 1
  a=$DV_KEY
  dv_release_key_set "$2" && [ "$a" -lt "$DV_KEY" ]
}

# dv_release_ready: sets DV_READY to the application's finished releases (built, folder
# present), oldest first. An insertion sort: an application keeps a handful of releases.
dv_release_ready() {
  local marker name i keys=()
  DV_READY=()
  dv_app_dir_set
  for marker in "$DV_APP_DIR/.devopness/releases"/*.ready; do
    [ -e "$marker" ] || continue
    name=${marker##*/}
    name=${name%.ready}
    [ -d "$DV_APP_DIR/releases/$name" ] && dv_release_key_set "$name" || continue
    i=${#DV_READY[@]}
    while [ "$i" -gt 0 ] && [ "${keys[i - 1]}" -gt "$DV_KEY" ]; do
      keys[i]=${keys[i - 1]}; DV_READY[i]=${DV_READY[i - 1]}
      i=$((i - 1))
    done
    keys[i]=$DV_KEY; DV_READY[i]=$name
  done
}

# dv_release_live: sets DV_LIVE to the release `current` points to ("" when none). The
# release whose folder is the one `current` leads to (`-ef`: two stat calls, where
# `readlink` is a process); `readlink` only when none is (a dangling `current`, or one
# pointing outside releases/).
dv_release_live() {
  DV_LIVE=""
  local target entry
  dv_app_dir_set
  [ -L "$DV_APP_DIR/current" ] || return 0
  for entry in "$DV_APP_DIR"/releases/*; do
    if [ "$DV_APP_DIR/current" -ef "$entry" ]; then
      DV_LIVE=${entry##*/}
      return 0
    fi
  done
  target=$(readlink -- "$DV_APP_DIR/current")
  DV_LIVE=${target##*/}
}

# dv_release_of_action: sets DV_RELEASE to the release this action (DEVOPNESS_ACTION_ID)
# claimed, "" when it has none; a release named by the action's id is its own too (fetched
# before the server's releases were named by time).
dv_release_of_action() {
  local record
  dv_app_dir_set
  record="$DV_APP_DIR/.devopness/actions/${DEVOPNESS_ACTION_ID:?}"
  DV_RELEASE=""
  if [ -f "$record" ]; then
    IFS= read -r DV_RELEASE <"$record" || true
  elif [ -d "$DV_APP_DIR/releases/$DEVOPNESS_ACTION_ID" ]; then
    DV_RELEASE=$DEVOPNESS_ACTION_ID
  fi
}

# dv_release_dir NAME: the real path of release NAME (where its files are).
dv_release_dir() {
  (cd -P -- "$(dv_app_dir)/releases/$1" && pwd -P)
}

# dv_release_owner_set NAME [TARGET]: sets DV_OWNER to the id of the action that made
# release NAME (a legacy release is named by it; TARGET is its link's target when the
# caller read it already); fails when unknown. dv_release_owner prints it.
dv_release_owner_set() {
  local link target
  DV_OWNER=""
  dv_app_dir_set
  link="$DV_APP_DIR/releases/$1"
  if [ -n "${2:-}" ]; then
    target=${2##*-}
  elif [ -L "$link" ]; then
    target=$(readlink -- "$link")
    target=${target##*-}
  else
    target=$1
  fi
  case $target in '' | *[!0-9]*) return 1 ;; esac
  DV_OWNER=$target
}
dv_release_owner() {
  dv_release_owner_set "$1" || return 1
  printf '%s\n' "$DV_OWNER"
}

# dv_release_claim SECONDS [FOLDER...]: claim the release of that UTC second (epoch
# SECONDS) for this action, or of the next free second: creating the link releases/<name>
# fails when the name exists, so of two deploys of the same second each gets a release of
# its own. Then the record the action's later steps read; sets DV_RELEASE, and
# DV_RELEASE_DIR to its folder, which the caller makes (the fetch step's `tar` makes it as
# it extracts the release into it: one process fewer). The FOLDERs are made too where
# missing, with the releases' own (one mkdir on a first deploy).
dv_release_claim() {
  local app_dir meta t=$1 name stamp store tries=0 dir missing=() entry newest=0 newest_name=""
  dv_app_dir_set
  app_dir=$DV_APP_DIR
  meta="$app_dir/.devopness"
  case $t in '' | *[!0-9]*) dv_fail "bad release time '$t'" ;; esac
  shift
  for dir in "$app_dir/releases" "$app_dir/.releases" "$meta/releases" "$meta/actions" "$@"; do
    [ -d "$dir" ] || missing+=("$dir")
  done
  [ "${#missing[@]}" -eq 0 ] || mkdir -p -- "${missing[@]}"
  # Names order the releases (rollback, pruning, leftovers), so a new one sorts after every
  # release there is: a name of this second may be free again (its release pruned by the
  # deploy before, all within one second) and the clock may have gone back (one `date`,
  # only then).
  for entry in "$app_dir"/releases/*; do
    dv_release_key_set "${entry##*/}" || continue
    [ "$DV_KEY" -le "$newest" ] || { newest=$DV_KEY newest_name=${entry##*/}; }
  done
  while :; do
    TZ=UTC0 printf -v name '%(%Y-%m-%d %H:%M:%S)T' "$t"
    dv_release_key_set "$name"
    if [ "$DV_KEY" -le "$newest" ]; then
      t=$(TZ=UTC0 date -d "$newest_name" +%s) || dv_fail "bad release name '$newest_name'"
      t=$((t + 1))
      continue
    fi
    TZ=UTC0 printf -v stamp '%(%Y%m%dT%H%M%SZ)T' "$t"
    store="$stamp-${DEVOPNESS_ACTION_ID:?}"
    if ln -s -T -- "../.releases/$store" "$app_dir/releases/$name" 2>/dev/null; then break; fi
    [ -e "$app_dir/releases/$name" ] || [ -L "$app_dir/releases/$name" ] \
      || dv_fail "could not create the release releases/$name"
    tries=$((tries + 1))
    [ "$tries" -lt 86400 ] || dv_fail "no free release name in the day after $name"
    t=$((t + 1))
  done
  # Written in place, not renamed into place (a process): only this action's own later
  # steps rely on it, and a record cut short (the server stopped mid-write) reads as no
  # claim, so a rerun of the fetch claims a new release and this one is a leftover.
  printf '%s\n' "$name" >"$meta/actions/$DEVOPNESS_ACTION_ID"
  DV_RELEASE=$name
  DV_RELEASE_DIR="$app_dir/.releases/$store"
}

# dv_release_remove NAME: remove a release (its real folder first: an interruption leaves
# a dangling link, which the next deploy removes as a leftover), what .devopness knows of
# it and its action's record; one `rm`, which removes its arguments in order.
dv_release_remove() {
  local app_dir meta link target="" claimed="" gone=()
  [ -n "$1" ] || return 0
  dv_app_dir_set
  app_dir=$DV_APP_DIR
  meta="$app_dir/.devopness"
  link="${app_dir:?}/releases/$1"
  if [ -L "$link" ]; then
    target=$(readlink -- "$link")
    case ${target#../.releases/} in
      "$target" | '' | . | .. | */*) ;;  # not one of ours: only the link goes
      *) gone+=("$app_dir/.releases/${target#../.releases/}") ;;
    esac
  fi
  gone+=("$link")
  if dv_release_owner_set "$1" "$target" && [ -f "$meta/actions/$DV_OWNER" ]; then
    IFS= read -r claimed <"$meta/actions/$DV_OWNER" || true
    if [ "$claimed" = "$1" ]; then gone+=("$meta/actions/$DV_OWNER"); fi
  fi
  for target in "$meta/releases/$1".*; do
    if [ -e "$target" ] || [ -L "$target" ]; then gone+=("$target"); fi
  done
  rm -rf -- "${gone[@]}"
}

# dv_release_record_write BEFORE LIVE: the activate step's record of the switch it is about
# to make, written before it (so no switch goes unrecorded): the release live before, the
# one it makes live and its action. dv_release_record_read sets DV_RECORD_BEFORE,
# DV_RECORD_LIVE and DV_RECORD_ACTION from it ("" for what it does not hold: a record of an
# older version of the scripts names no action, the oldest no release made live).
dv_release_record_write() {
  dv_app_dir_set
  local meta="$DV_APP_DIR/.devopness"
  printf '%s\n%s\n%s\n' "$1" "$2" "${DEVOPNESS_ACTION_ID:?}" >"$meta/previous.devopness-new"
  mv -f -- "$meta/previous.devopness-new" "$meta/previous"
}

dv_release_record_read() {
  dv_app_dir_set
  DV_RECORD_BEFORE="" DV_RECORD_LIVE="" DV_RECORD_ACTION=""
  { IFS= read -r DV_RECORD_BEFORE && IFS= read -r DV_RECORD_LIVE \
      && IFS= read -r DV_RECORD_ACTION; } 2>/dev/null <"$DV_APP_DIR/.devopness/previous" || true
}

# dv_release_lock: one switch of the application's `current` at a time (the activate step,
# the health check's switch back): two deploys finishing together would each restart the
# daemons in their own release and race on the link. Held until the script ends; what the
# script starts gets the lock's descriptor (7) closed (`7>&-`), or a daemon would hold it.
dv_release_lock() {
  local meta
  dv_has flock || return 0
  dv_app_dir_set
  meta="$DV_APP_DIR/.devopness"
  [ -d "$meta" ] || mkdir -p -- "$meta"
  exec 7>>"$meta/switch.lock"
  flock -w 600 7 || dv_fail "another deploy of this application is still switching its release (waited 600s)"
}

# dv_release_switch NAME: make releases/NAME live, atomically: a link made beside `current`
# and renamed over it, so a request never finds `current` missing or half-made. An empty
# NAME removes `current` (no release was live before). Callers hold dv_release_lock.
dv_release_switch() {
  dv_app_dir_set
  if [ -z "$1" ]; then rm -f -- "$DV_APP_DIR/current"; return 0; fi
  ln -s -f -T -- "releases/$1" "$DV_APP_DIR/.current.devopness-new"
  mv -T -f -- "$DV_APP_DIR/.current.devopness-new" "$DV_APP_DIR/current"
}
