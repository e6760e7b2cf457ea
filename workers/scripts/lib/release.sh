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

# dv_release_key NAME: a number that orders releases oldest first (legacy ids below every
# timestamp); fails for a name that is no release of ours.
dv_release_key() {
  case $1 in
    [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\ [0-9][0-9]:[0-9][0-9]:[0-9][0-9])
      local digits=${1//[!0-9]/}
      printf '%s\n' "$((1000000000000000000 + 10#$digits))" ;;
    '' | *[!0-9]*) return 1 ;;
    *)
      [ "${#1}" -le 18 ] || return 1
      printf '%s\n' "$((10#$1))" ;;
  esac
}

# dv_release_older A B: A is a release older than release B.
dv_release_older() {
  local a b
  a=$(dv_release_key "$1") && b=$(dv_release_key "$2") && [ "$a" -lt "$b" ]
}

# dv_release_sort: the release names on stdin (one a line), oldest first; other names
# are left out.
dv_release_sort() {
  local name key
  while IFS= read -r name; do
    if key=$(dv_release_key "$name"); then printf '%s\t%s\n' "$key" "$name"; fi
  done | sort -t $'\t' -k1,1n | cut -f2-
}

# dv_release_ready: the application's finished releases (built, folder present), oldest
# first.
dv_release_ready() {
  local app_dir marker name
  app_dir=$(dv_app_dir)
  for marker in "$app_dir/.devopness/releases"/*.ready; do
    [ -e "$marker" ] || continue
    name=$(basename -- "$marker" .ready)
    if [ -d "$app_dir/releases/$name" ]; then printf '%s\n' "$name"; fi
  done | dv_release_sort
}

# dv_release_live: sets DV_LIVE to the release `current` points to ("" when none).
dv_release_live() {
  DV_LIVE=""
  local link
  link="$(dv_app_dir)/current"
  if [ -L "$link" ]; then DV_LIVE=$(basename -- "$(readlink -- "$link")"); fi
}

# dv_release_of_action: sets DV_RELEASE to the release this action (DEVOPNESS_ACTION_ID)
# claimed, "" when it has none; a release named by the action's id is its own too (fetched
# before the server's releases were named by time).
dv_release_of_action() {
  local app_dir record
  app_dir=$(dv_app_dir)
  record="$app_dir/.devopness/actions/${DEVOPNESS_ACTION_ID:?}"
  DV_RELEASE=""
  if [ -f "$record" ]; then
    IFS= read -r DV_RELEASE <"$record" || true
  elif [ -d "$app_dir/releases/$DEVOPNESS_ACTION_ID" ]; then
    DV_RELEASE=$DEVOPNESS_ACTION_ID
  fi
}

# dv_release_dir NAME: the real path of release NAME (where its files are).
dv_release_dir() {
  (cd -P -- "$(dv_app_dir)/releases/$1" && pwd -P)
}

# dv_release_owner NAME: the id of the action that made release NAME (a legacy release is
# named by it); fails when unknown.
dv_release_owner() {
  local link target
  link="$(dv_app_dir)/releases/$1"
  if [ -L "$link" ]; then
    target=$(readlink -- "$link")
    target=${target##*-}
  else
    target=$1
  fi
  case $target in '' | *[!0-9]*) return 1 ;; esac
  printf '%s\n' "$target"
}

# dv_release_claim SECONDS: claim the release of that UTC second (epoch SECONDS) for this
# action, or of the next free second: creating the link releases/<name> fails when the name
# exists, so of two deploys of the same second each gets a release of its own. Then its
# folder, and the record the action's later steps read; sets DV_RELEASE.
dv_release_claim() {
  local app_dir meta t=$1 name store tries=0
  app_dir=$(dv_app_dir)
  meta="$app_dir/.devopness"
  case $t in '' | *[!0-9]*) dv_fail "bad release time '$t'" ;; esac
  mkdir -p -- "$app_dir/releases" "$app_dir/.releases" "$meta/releases" "$meta/actions"
  while :; do
    name=$(date -u -d "@$t" '+%Y-%m-%d %H:%M:%S')
    store="$(date -u -d "@$t" '+%Y%m%dT%H%M%SZ')-${DEVOPNESS_ACTION_ID:?}"
    if ln -s -T -- "../.releases/$store" "$app_dir/releases/$name" 2>/dev/null; then break; fi
    [ -e "$app_dir/releases/$name" ] || [ -L "$app_dir/releases/$name" ] \
      || dv_fail "could not create the release releases/$name"
    tries=$((tries + 1))
    [ "$tries" -lt 86400 ] || dv_fail "no free release name in the day after $name"
    t=$((t + 1))
  done
  mkdir -p -- "$app_dir/.releases/$store"
  printf '%s\n' "$name" >"$meta/actions/$DEVOPNESS_ACTION_ID.new"
  mv -f -- "$meta/actions/$DEVOPNESS_ACTION_ID.new" "$meta/actions/$DEVOPNESS_ACTION_ID"
  DV_RELEASE=$name
}

# dv_release_remove NAME: remove a release (its real folder first: an interruption leaves
# a dangling link, which the next deploy removes as a leftover), what .devopness knows of
# it and its action's record.
dv_release_remove() {
  local app_dir meta link target action claimed=""
  [ -n "$1" ] || return 0
  app_dir=$(dv_app_dir)
  meta="$app_dir/.devopness"
  link="${app_dir:?}/releases/$1"
  action=$(dv_release_owner "$1") || action=""
  if [ -L "$link" ]; then
    target=$(readlink -- "$link")
    case ${target#../.releases/} in
      "$target" | '' | . | .. | */*) ;;  # not one of ours: only the link goes
      *) rm -rf -- "$app_dir/.releases/${target#../.releases/}" ;;
    esac
    rm -f -- "$link"
  else
    rm -rf -- "$link"
  fi
  if [ -n "$action" ] && [ -f "$meta/actions/$action" ]; then
    IFS= read -r claimed <"$meta/actions/$action" || true
    if [ "$claimed" = "$1" ]; then rm -f -- "$meta/actions/$action"; fi
  fi
  rm -f -- "$meta/releases/$1".*
}

# dv_release_lock: one switch of the application's `current` at a time (the activate step,
# the health check's switch back): two deploys finishing together would each restart the
# daemons in their own release and race on the link. Held until the script ends; what the
# script starts gets the lock's descriptor (7) closed (`7>&-`), or a daemon would hold it.
dv_release_lock() {
  local meta
  dv_has flock || return 0
  meta="$(dv_app_dir)/.devopness"
  mkdir -p -- "$meta"
  exec 7>>"$meta/switch.lock"
  flock -w 600 7 || dv_fail "another deploy of this application is still switching its release (waited 600s)"
}
