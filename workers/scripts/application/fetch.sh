# Application deploy, step 1: claim the new release, releases/<YYYY-MM-DD HH:MM:SS> (the
# deploy's UTC time, workers/scripts/lib/release.sh), export the requested source into it
# and write the application's variables there (see app/applications/remote.py).
# Any failure removes the new release: `current` and the live release stay as they were.
dv_app_dir_set
app_dir=$DV_APP_DIR
meta="$app_dir/.devopness"
mirror="$app_dir/repo.git"

if [ "$DEVOPNESS_DEPLOY_TYPE" = rollback ]; then
  dv_log "rollback: nothing to fetch, an existing release becomes live"
  exit 0
fi

dv_release_live
live_id=$DV_LIVE

# A rerun of this step (a lost connection) fills the folder this action claimed before.
dv_release_of_action
if [ -z "$DV_RELEASE" ] || [ ! -d "$app_dir/releases/$DV_RELEASE" ]; then
  printf -v now '%(%s)T' -1
  # shared/ with the release's own folders: one mkdir for all on a first deploy.
  dv_release_claim "${DEVOPNESS_RELEASE_TIME:-$now}" "$app_dir/shared"
  release_id=$DV_RELEASE
  # Where its files go (workers/scripts/lib/release.sh): made by the export below.
  release=$DV_RELEASE_DIR
  fresh=1
else
  release_id=$DV_RELEASE
  release=$(dv_release_dir "$release_id")
  fresh=0
  [ -d "$app_dir/shared" ] || mkdir -p -- "$app_dir/shared"
fi

work=""
fetched=0
finish() {
  local status=$?
  [ -z "$work" ] || rm -rf -- "$work"
  if [ "$fetched" != 1 ]; then
    dv_release_remove "$release_id"
    [ "$status" -ne 0 ] && dv_log "release $release_id removed; the live release is unchanged"
  fi
  return "$status"
}
trap finish EXIT

# Leftovers of deploys that stopped before their release was built (a lost connection, a
# timeout): never the live release, never a deploy newer than this one (by name, or by its
# action: asked for after this one was planned), never one whose deploy is still running
# here (DEVOPNESS_APP_RUNNING_ACTIONS, as it was when this deploy was planned).
for entry in "$app_dir"/releases/*; do
  [ -e "$entry" ] || [ -L "$entry" ] || continue  # a dangling link is a leftover too
  id=${entry##*/}
  if [ "$id" = "$live_id" ] || [ "$id" = "$release_id" ] \
    || [ -e "$meta/releases/$id.ready" ] || ! dv_release_key_set "$id" \
    || dv_release_older "$release_id" "$id"; then
    continue
  fi
  if dv_release_owner_set "$id"; then
    [ "$DV_OWNER" -gt "$DEVOPNESS_ACTION_ID" ] && continue
    case " ${DEVOPNESS_APP_RUNNING_ACTIONS:-} " in *" $DV_OWNER "*) continue ;; esac
  fi
  dv_log "removing unfinished release $id"
  dv_release_remove "$id"
done

# Git authentication lives only in a temporary directory (0700, mktemp's), for this run;
# a token only serves an http(s) URL (git asks no password over ssh:// or git://).
export GIT_TERMINAL_PROMPT=0
case $DEVOPNESS_GIT_URL in
  [hH][tT][tT][pP]://* | [hH][tT][tT][pP][sS]://*) ask_token=${DEVOPNESS_GIT_TOKEN:-} ;;
  *) ask_token="" ;;
esac
if [ -n "${DEVOPNESS_GIT_SSH_KEY:-}" ] || [ -n "$ask_token" ]; then work=$(mktemp -d); fi
if [ -n "${DEVOPNESS_GIT_SSH_KEY:-}" ]; then
  (umask 077; printf '%s\n' "${DEVOPNESS_GIT_SSH_KEY//$'\r'/}" >"$work/deploy_key")
  GIT_SSH_COMMAND="ssh -i $work/deploy_key -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
  export GIT_SSH_COMMAND
else
  export GIT_SSH_COMMAND="ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
fi
if [ -n "$ask_token" ]; then
  # git asks for the username and password; the token is read from this process'
  # environment, so it is never in a URL, a file or a command line.
  cat >"$work/askpass" <<'ASKPASS'
#!/bin/sh
case "$1" in
  Username*) printf '%s\n' "$DEVOPNESS_GIT_USERNAME" ;;
  *) printf '%s\n' "$DEVOPNESS_GIT_TOKEN" ;;
esac
ASKPASS
  chmod 700 "$work/askpass"
  export GIT_ASKPASS="$work/askpass"
fi
dv_has git || dv_fail "git is not installed on this server (apt-get install git)"
# Where git runs in a `$(...)` or a pipeline, it is called directly: a function there
# costs a fork of its own before git's.
git_m() { git --git-dir="$mirror" "$@" </dev/null; }

[ -n "$DEVOPNESS_GIT_URL" ] || dv_fail "the application has no repository URL"
dv_log "fetching $DEVOPNESS_GIT_URL"
fetch_failed() {
  dv_fail "could not fetch $DEVOPNESS_GIT_URL (check the URL and the deploy key or token)"
}
cloned=0
if [ ! -d "$mirror" ]; then
  if [ -L "$mirror" ] || [ -e "$mirror" ]; then rm -f -- "$mirror"; fi
  # A first deploy clones: the same refs as the fetch below (every branch and tag, as
  # they are named there, origin the URL), in one git process where `git init` then
  # `git fetch` took two, and a clone's pack needs no loose object written one by one.
  # --origin: a server's own clone.defaultRemoteName does not rename it. --no-local: a
  # path is fetched over git's transport, as the fetch would, never hard-linked.
  # Made in a folder of its own and renamed into place: two first deploys at once each make
  # one, and the one whose rename loses (the mirror is there by then) fetches into the
  # other's. git makes the folder (0755 under the script's umask) and removes it when the
  # clone fails; its name is this shell's and random, so no other deploy makes the same
  # one. No template: a mirror has no use for sample hooks.
  new_mirror="$mirror.new.$$.${SRANDOM:-$RANDOM$RANDOM}"
  # Quiet: what git says on failure (its errors) is all the log needs.
  git clone -q --bare --no-local --origin origin --template= -- \
    "$DEVOPNESS_GIT_URL" "$new_mirror" </dev/null || { rm -rf -- "$new_mirror"; fetch_failed; }
  if mv -T -- "$new_mirror" "$mirror" 2>/dev/null; then cloned=1; else rm -rf -- "$new_mirror"; fi
  [ -d "$mirror" ] || dv_fail "could not create the repository mirror $mirror"
fi
# origin_is URL: the mirror's config names URL as its origin, as git wrote it (a value git
# quotes or escapes never matches: git then writes it again).
origin_is() {
  local line section=""
  [ -f "$mirror/config" ] || return 1
  while IFS= read -r line; do
    case $line in
      '['*) section=$line ;;
      $'\turl = '*)
        if [ "$section" = '[remote "origin"]' ] && [ "${line#$'\turl = '}" = "$1" ]; then return 0; fi ;;
    esac
  done <"$mirror/config"
  return 1
}
if [ "$cloned" != 1 ]; then
  origin_is "$DEVOPNESS_GIT_URL" || git_m config remote.origin.url "$DEVOPNESS_GIT_URL"
  git --git-dir="$mirror" fetch -q --prune --force --no-auto-gc origin \
    '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*' </dev/null || fetch_failed
fi

# commit_of REV: whether REV names a commit of the mirror; sets sha and what is reported of
# the commit (one git process for all of it). REV is one revision: names with revision
# syntax in them (`..`, `^`, `~`, `:`, `@{`...) are no branch or tag git allows, and are
# refused before they get here.
commit_of() {
  local info fields=()
  # No redirection inside the `$(...)`: bash then runs git in the subshell's place (the
  # program's stdin is at its end already, read whole by its first line).
  { info=$(git --git-dir="$mirror" -c log.showSignature=false log -1 --no-walk \
    --format='%H%n%an%n%ae%n%cI%n%s' "$1" --); } 2>/dev/null || return 1
  mapfile -t fields <<<"$info"
  sha=${fields[0]:-}
  case $sha in '' | *[!0-9a-f]*) return 1 ;; esac
  author_name=${fields[1]:-} author_email=${fields[2]:-}
  commit_date=${fields[3]:-} commit_message=${fields[4]:-}
}
# ref_name_ok NAME: NAME can be a branch or tag (`git check-ref-format`'s rules that matter
# to a revision).
ref_name_ok() {
  case $1 in '' | *..* | *@\{* | *[[:cntrl:]' ~^:?*[\']*) return 1 ;; esac
}

ref=$DEVOPNESS_DEPLOY_SOURCE_REF
case $DEVOPNESS_DEPLOY_TYPE:$DEVOPNESS_DEPLOY_SOURCE_TYPE in
  redeploy:*)
    [ -n "$live_id" ] || dv_fail "there is no live release to redeploy: deploy first"
    ref=""
    { IFS= read -r ref || [ -n "$ref" ]; } 2>/dev/null <"$meta/releases/$live_id.commit" \
      || dv_fail "the live release $live_id has no recorded commit: deploy a branch, tag or commit"
    dv_log "redeploying commit $ref of the live release $live_id"
    case $ref in *[!0-9a-fA-F]* | "") false ;; *) commit_of "$ref^{commit}" ;; esac \
      || dv_fail "commit $ref is no longer in the repository"
    ;;
  *:branch)
    ref_name_ok "$ref" && commit_of "refs/heads/$ref^{commit}" \
      || dv_fail "branch '$ref' does not exist in $DEVOPNESS_GIT_URL"
    ;;
  *:tag)
    ref_name_ok "$ref" && commit_of "refs/tags/$ref^{commit}" \
      || dv_fail "tag '$ref' does not exist in $DEVOPNESS_GIT_URL"
    ;;
  *:commit)
    case $ref in
      *[!0-9a-fA-F]* | "") dv_fail "'$ref' is not a commit hash" ;;
    esac
    [ "${#ref}" -ge 4 ] || dv_fail "commit hash '$ref' is too short"
    if ! commit_of "$ref^{commit}"; then
      # A commit no branch or tag holds: ask for it by hash (servers that allow it).
      git_m fetch -q origin "$ref" >/dev/null 2>&1 || true
      commit_of "$ref^{commit}" || dv_fail "commit '$ref' is not in $DEVOPNESS_GIT_URL"
    fi
    ;;
  *) dv_fail "unknown source type '$DEVOPNESS_DEPLOY_SOURCE_TYPE'" ;;
esac
dv_log "deploying commit $sha into release $release_id"

# Emptied (a rerun of this step fills it again), never removed: the name stays claimed.
if [ "$fresh" != 1 ]; then find "$release" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +; fi
# The archive's entries under the folder's name, extracted in its parent: tar makes the
# folder (git puts the prefix's own entry first, even for an empty tree).
git --git-dir="$mirror" archive --format=tar --prefix="${release##*/}/" "$sha" </dev/null \
  | tar -x -C "${release%/*}" -f - || dv_fail "could not export commit $sha"
printf '%s\n' "$sha" >"$meta/releases/$release_id.commit"

app_root="$release${DEVOPNESS_APP_ROOT_DIRECTORY:+/$DEVOPNESS_APP_ROOT_DIRECTORY}"
[ -d "$app_root" ] \
  || dv_fail "the root directory '/$DEVOPNESS_APP_ROOT_DIRECTORY' is not in the repository at $sha"

# A path of a variable (file or link) stays inside the release.
check_path() {
  case "/$1/" in
    //) dv_fail "a variable has an empty path" ;;
    */../* | */./* | //*) dv_fail "'$1' must be a path inside the application" ;;
  esac
}

# Shared paths (resource-symlink variables): one copy across releases, in shared/.
shared="$app_dir/shared"
while read -r key_b64 dest_b64; do
  [ -n "$key_b64" ] || continue
  key=$(dv_decode "$key_b64"); dest=$(dv_decode "$dest_b64")
  check_path "$key"
  dest=${dest//'${APP_SHARED_DIR}'/"$shared"}
  [ -n "$dest" ] || dv_fail "the link '$key' has no destination"
  link="$app_root/$key"
  case $dest in "$shared"/*)
    if [ ! -e "$dest" ] && [ ! -L "$dest" ]; then
      mkdir -p -- "$(dirname -- "$dest")"
      if [ -e "$link" ] && [ ! -L "$link" ]; then mv -- "$link" "$dest"; else mkdir -p -- "$dest"; fi
      dv_log "created shared path ${dest#"$app_dir"/}"
    fi
  esac
  rm -rf -- "$link"
  mkdir -p -- "$(dirname -- "$link")"
  ln -s -- "$dest" "$link"
  dv_log "linked $key -> $dest"
done <<<"${DEVOPNESS_APP_LINKS:-}"

# Files (resource-config-file variables, and .env from the environment variables).
while read -r mode key_b64 content_b64; do
  [ -n "$mode" ] || continue
  key=$(dv_decode "$key_b64")
  check_path "$key"
  file="$app_root/$key"
  [ -L "$file" ] && rm -f -- "$file"
  mkdir -p -- "$(dirname -- "$file")"
  (umask 077; dv_decode "$content_b64" >"$file.devopness-new")
  chmod "$mode" -- "$file.devopness-new"
  mv -f -- "$file.devopness-new" "$file"
  dv_log "wrote $key"
done <<<"${DEVOPNESS_APP_FILES:-}"

# When the build step has nothing to do, the engine does not run it
# (DEVOPNESS_NOOP_SCRIPTS, app/applications/deploy_context.py): the release is built once
# fetched, and its marker (what activation, rollbacks and the cleanup above look for) is
# written here.
if dv_noop application/build; then
  printf '%s\n' "$sha" >"$meta/releases/$release_id.ready"
  dv_log "release $release_id is ready (nothing to build)"
fi
fetched=1
dv_result release "$release_id" commit "$sha" clone_url "$DEVOPNESS_GIT_URL" \
  commit_author_name "$author_name" commit_author_email "$author_email" \
  commit_date "$commit_date" commit_message "$commit_message"
