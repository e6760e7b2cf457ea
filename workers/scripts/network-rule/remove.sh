# Network rule removal: the rule leaves the firewall (nftables table inet devopness is
# rebuilt without it; with ufw the matching `ufw allow` is deleted). Other rules and other
# tables are untouched; nothing to do when the rule is already gone.
id=${DEVOPNESS_NETWORK_RULE_ID:?}
[[ $id =~ ^[0-9]+$ ]] || dv_fail "invalid network rule id '$id'"
dv_root true
dv_fw_lock
dir=$(dv_fw_dir)
marker="devopness-network-rule-$id"

if [ -f "$dir/ufw/$id.rule" ]; then
  read -r direction protocol port cidr <"$dir/ufw/$id.rule"
  dv_fw_check "$direction" "$protocol" "$port" "$cidr"
  read -r -a args <<<"$(dv_fw_ufw_args "$direction" "$protocol" "$port" "$cidr")"
  out=$(dv_root ufw delete allow "${args[@]}" 2>&1) || dv_fail "ufw could not delete rule $id: $out"
  dv_root rm -f -- "$dir/ufw/$id.rule"
  dv_log "ufw no longer allows $direction $protocol $port $cidr (rule $id): $out"
  exit 0
fi

if ! dv_has nft && [ ! -x /usr/sbin/nft ]; then
  dv_log "no nftables and no record of rule $id: nothing to remove"
  exit 0
fi
live=$(dv_root nft list table inet devopness 2>/dev/null | grep -cF "comment \"$marker\"" || true)
if [ ! -f "$dir/rules/$id.rule" ] && [ "${live:-0}" = 0 ]; then
  dv_log "rule $id is not in force (nothing to remove)"
  exit 0
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
if [ -d "$dir/rules" ]; then
  find "$dir/rules" -maxdepth 1 -name '*.rule' ! -name "$id.rule" -exec cp -- {} "$stage/" \;
fi
dv_fw_nft_sync "$stage"
dv_root rm -f -- "$dir/rules/$id.rule"
table=$(dv_root nft list table inet devopness 2>/dev/null || true)
if grep -qF "comment \"$marker\"" <<<"$table"; then
  dv_fail "rule $id is still in table inet devopness after removing it"
fi
dv_log "rule $id removed from table inet devopness"
