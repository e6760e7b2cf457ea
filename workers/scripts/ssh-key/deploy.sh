# SSH key: authorise the key for the SSH user. Our line is
# "<type> <key> <name> devopness-ssh-key-<id>": the last word marks it as ours, so a
# rename replaces it in place and removal finds it. Other lines are never changed or
# reordered; the file is rewritten through a temporary file and a rename, so a failure
# never leaves a truncated authorized_keys (that would lock us out).
id=${DEVOPNESS_SSH_KEY_ID:?}
type=${DEVOPNESS_SSH_KEY_TYPE:?}
blob=${DEVOPNESS_SSH_KEY_BLOB:?}
comment=${DEVOPNESS_SSH_KEY_COMMENT:-key}
[[ $id =~ ^[0-9]+$ ]] || dv_fail "invalid SSH key id '$id'"
[[ $type =~ ^[a-z0-9@.-]+$ ]] || dv_fail "invalid SSH key type '$type'"
[[ $blob =~ ^[A-Za-z0-9+/]+=*$ ]] || dv_fail "invalid SSH public key for key $id"
[[ $comment =~ ^[A-Za-z0-9._@+=:,-]+$ ]] || comment=key
marker="devopness-ssh-key-$id"

file=${DEVOPNESS_AUTHORIZED_KEYS_FILE:-$HOME/.ssh/authorized_keys}
# Write where a symlinked authorized_keys points, keeping the link.
[ -L "$file" ] && file=$(readlink -f -- "$file")
dir=$(dirname -- "$file")
if [ ! -d "$dir" ]; then
  mkdir -p -- "$dir"
  chmod 700 -- "$dir"
fi

# Two keys deployed at once must not both read the old file and lose one another.
if dv_has flock; then
  exec 9>>"/tmp/devopness-authorized-keys-$(id -u).lock"
  flock -w 120 9 || dv_fail "another authorized_keys change is still running (waited 120s)"
fi
mode=600
[ -f "$file" ] && mode=$(stat -c %a -- "$file")
tmp=$(mktemp "$dir/.authorized_keys.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# Our line replaces the first line carrying our marker (later copies are dropped); it is
# appended when absent, unless a line we do not manage already authorises the same key
# (then that line is the user's, and we leave it alone).
if [ -f "$file" ]; then
  DV_LINE="$type $blob $comment $marker" DV_MARKER=$marker DV_BLOB=$blob awk '
    BEGIN { line = ENVIRON["DV_LINE"]; marker = ENVIRON["DV_MARKER"]; blob = ENVIRON["DV_BLOB"] }
    NF && $NF == marker { if (!done) print line; done = 1; next }
    $1 !~ /^#/ { for (i = 1; i <= NF; i++) if ($i == blob) foreign = 1 }
    { print }
    END { if (!done && !foreign) print line }
  ' "$file" >"$tmp"
  if ! grep -qE " $marker\$" "$tmp"; then
    dv_log "key $id is already authorised in $file by a line devopness does not manage: left as it is"
  fi
else
  printf '%s\n' "$type $blob $comment $marker" >"$tmp"
fi

if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
  dv_log "key $id is already authorised in $file (unchanged)"
  exit 0
fi
chmod "$mode" -- "$tmp"
mv -f -- "$tmp" "$file"
dv_log "authorised key $id ($type, $comment) in $file"
