# SSH key removal: take our line(s) (last word "devopness-ssh-key-<id>") out of the SSH
# user's authorized_keys; every other line stays as it is, in order. The key the control
# plane logs in with is never removed: that would lock Devopness out of the server.
id=${DEVOPNESS_SSH_KEY_ID:?}
[[ $id =~ ^[0-9]+$ ]] || dv_fail "invalid SSH key id '$id'"
marker="devopness-ssh-key-$id"

file=${DEVOPNESS_AUTHORIZED_KEYS_FILE:-$HOME/.ssh/authorized_keys}
[ -L "$file" ] && file=$(readlink -f -- "$file")
# Two keys deployed at once must not both read the old file and lose one another.
if dv_has flock; then
  exec 9>>"/tmp/devopness-authorized-keys-$(id -u).lock"
  flock -w 120 9 || dv_fail "another authorized_keys change is still running (waited 120s)"
fi
if [ ! -f "$file" ]; then
  dv_log "$file does not exist: key $id is not authorised (nothing to remove)"
  exit 0
fi
if ! awk -v marker="$marker" 'NF && $NF == marker { found = 1 } END { exit !found }' "$file"; then
  dv_log "key $id is not in $file (nothing to remove)"
  exit 0
fi

# Refuse before touching anything when one of our lines holds a protected key.
DV_MARKER=$marker DV_PROTECTED=${DEVOPNESS_SSH_KEY_PROTECTED:-} awk '
  BEGIN { n = split(ENVIRON["DV_PROTECTED"], keys, "\n"); for (i = 1; i <= n; i++) if (keys[i] != "") protected[keys[i]] = 1 }
  NF && $NF == ENVIRON["DV_MARKER"] { for (i = 1; i <= NF; i++) if ($i in protected) bad = 1 }
  END { exit bad }
' "$file" || dv_fail "refusing to remove key $id from $file: it is the key Devopness logs in to this server with (removing it would lock Devopness out); rotate the server's key first"

dir=$(dirname -- "$file")
mode=$(stat -c %a -- "$file")
tmp=$(mktemp "$dir/.authorized_keys.XXXXXX")
trap 'rm -f "$tmp"' EXIT
awk -v marker="$marker" '!(NF && $NF == marker)' "$file" >"$tmp"
chmod "$mode" -- "$tmp"
mv -f -- "$tmp" "$file"
dv_log "removed key $id from $file"
