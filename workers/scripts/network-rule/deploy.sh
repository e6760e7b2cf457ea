# Network rule: an allow rule in the server's firewall, nftables or ufw (see
# lib/firewall.sh for the policy). Needs root. Deploying twice gives the same ruleset;
# deploying an edited rule replaces it.
id=${DEVOPNESS_NETWORK_RULE_ID:?}
direction=${DEVOPNESS_NETWORK_RULE_DIRECTION:?}
protocol=${DEVOPNESS_NETWORK_RULE_PROTOCOL:?}
port=${DEVOPNESS_NETWORK_RULE_PORT:?}
cidr=${DEVOPNESS_NETWORK_RULE_CIDR:?}
[[ $id =~ ^[0-9]+$ ]] || dv_fail "invalid network rule id '$id'"
dv_fw_check "$direction" "$protocol" "$port" "$cidr"
dv_root true  # fails clearly here, before anything changes, without root
dv_fw_select
dv_fw_lock
dir=$(dv_fw_dir)
spec="$direction $protocol $port $cidr"
marker="devopness-network-rule-$id"

if [ "$DV_FW_BACKEND" = ufw ]; then
  [ "$protocol" != icmp ] \
    || dv_fail "ufw cannot express ICMP rules: use nftables (server variable DEVOPNESS_FIREWALL=nft)"
  read -r -a args <<<"$(dv_fw_ufw_args "$direction" "$protocol" "$port" "$cidr")"
  if [ -f "$dir/ufw/$id.rule" ] && [ "$(cat "$dir/ufw/$id.rule")" != "$spec" ]; then
    # The rule was edited: the previous version goes first.
    read -r -a old <<<"$(dv_fw_ufw_args $(cat "$dir/ufw/$id.rule"))"
    dv_root ufw delete allow "${old[@]}" || dv_warn "the previous version of rule $id was not in ufw"
  fi
  dv_root ufw allow "${args[@]}" comment "$marker" \
    || dv_fail "ufw refused rule $id ($spec)"
  printf '%s\n' "$spec" | DV_AS_ROOT=1 dv_put_file "$dir/ufw/$id.rule" 644 >/dev/null
  dv_fw_ufw_active || dv_warn "ufw is inactive: rule $id is stored but not enforced until ufw is enabled (devopness does not enable it for you)"
  dv_log "ufw allows $spec (rule $id)"
  exit 0
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
if [ -d "$dir/rules" ]; then
  find "$dir/rules" -maxdepth 1 -name '*.rule' -exec cp -- {} "$stage/" \;
fi
printf '%s\n' "$spec" >"$stage/$id.rule"
if [ -f "$dir/devopness.nft" ] && [ -f "$dir/rules/$id.rule" ] \
   && cmp -s "$stage/$id.rule" "$dir/rules/$id.rule" \
   && dv_fw_nft_render "$stage" "$(dv_fw_policy)" >"$stage/program" \
   && cmp -s "$stage/program" "$dir/devopness.nft" \
   && grep -qF "comment \"$marker\"" <<<"$(dv_root nft list table inet devopness 2>/dev/null || true)"; then
  dv_log "rule $id is already in force (unchanged)"
else
  dv_fw_nft_sync "$stage"
  printf '%s\n' "$spec" | DV_AS_ROOT=1 dv_put_file "$dir/rules/$id.rule" 644 >/dev/null
  dv_fw_persist
fi
rule=$(dv_root nft list table inet devopness | grep -F "comment \"$marker\"" | sed 's/^[[:space:]]*//' || true)
[ -n "$rule" ] || dv_fail "rule $id is missing from table inet devopness after applying it"
dv_log "in force in nftables table inet devopness (inbound policy $(dv_fw_policy)): $rule"
