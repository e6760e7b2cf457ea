# System helpers: running a command as root, installing files, the init system. A family
# of its own (not lib.sh): most deploy steps never call them, and every script parses
# lib.sh on every server (workers/engine/scripts.py picks a family for the scripts that
# name its functions).

# Run a command as root: directly when we are root, else through passwordless sudo.
dv_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@";
  elif sudo -n true 2>/dev/null; then sudo -n -- "$@";
  else dv_fail "'$1' needs root: connect as root or give $(id -un) passwordless sudo"; fi
}

# dv_put_file DEST MODE: install stdin at DEST atomically (temporary file in the same
# directory, then rename), only when the content differs. Prints "changed" or "unchanged".
# DV_AS_ROOT=1 writes through dv_root.
dv_put_file() {
  local dest=$1 mode=$2 tmp dir run=()
  [ "${DV_AS_ROOT:-0}" = 1 ] && run=(dv_root)
  dir=$(dirname -- "$dest")
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"; echo unchanged; return 0
  fi
  "${run[@]}" mkdir -p -- "$dir"
  "${run[@]}" install -m "$mode" -- "$tmp" "$dest.devopness-new"
  "${run[@]}" mv -f -- "$dest.devopness-new" "$dest"
  rm -f "$tmp"
  echo changed
}

# dv_block_replace FILE MARKER: print FILE with the block between
# "# BEGIN devopness MARKER" and "# END devopness MARKER" replaced by stdin (appended when
# absent; removed when stdin is empty). Lines outside our markers are kept as they are.
dv_block_replace() {
  local file=$1 marker=$2
  # The body reaches awk through the environment: `-v` would interpret its backslashes.
  DV_BLOCK_BODY=$(cat)
  export DV_BLOCK_BODY
  local body=$DV_BLOCK_BODY
  awk -v begin="# BEGIN devopness $marker" -v end="# END devopness $marker" '
    BEGIN { body = ENVIRON["DV_BLOCK_BODY"] }
    $0 == begin { skip = 1; if (body != "") { print begin; print body; print end }; done = 1; next }
    $0 == end && skip { skip = 0; next }
    !skip { print }
    END { if (!done && body != "") { print begin; print body; print end } }
  ' "$file" 2>/dev/null || {
    if [ -n "$body" ]; then printf '# BEGIN devopness %s\n%s\n# END devopness %s\n' "$marker" "$body" "$marker"; fi
  }
}

# The init system in charge: systemd when it runs, else SysV-style `service` scripts
# (containers and WSL without systemd).
dv_init_system() {
  if [ -d /run/systemd/system ]; then echo systemd; else echo sysv; fi
}
