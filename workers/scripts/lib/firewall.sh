# Firewall helpers (owned by the network-rules family; used by network-rule/*.sh).
#
# A network rule is an *allow* rule (the reference: the addresses "that can access" a port).
# State: one file per rule, $DEVOPNESS_FIREWALL_DIR/rules/<id>.rule holding
# "<direction> <protocol> <port> <cidr>"; the firewall is rebuilt from these files, so
# running an operation twice gives the same ruleset.
#
# nftables (default when `nft` exists): our own table `inet devopness`, replaced as a whole
# in one `nft -f` transaction; other tables are never touched. Its chains have policy
# accept unless the server variable DEVOPNESS_FIREWALL_INBOUND_POLICY=drop asks for a
# default-deny inbound firewall: then only the declared rules, established traffic,
# loopback, essential ICMP, DHCP replies and SSH (always: the port we are connected on and
# sshd's ports) get in. Outbound is never default-deny (package installs, DNS and the
# control plane's own traffic would break); outbound rules are counted accept rules.
# ufw (DEVOPNESS_FIREWALL=ufw, or ufw installed and active, or no nft): one `ufw allow`
# per rule, commented devopness-network-rule-<id>.

dv_fw_dir() { echo "${DEVOPNESS_FIREWALL_DIR:-/etc/devopness/firewall}"; }

# dv_fw_select: set DV_FW_BACKEND to nft or ufw, as DEVOPNESS_FIREWALL says or by what the
# server has.
dv_fw_select() {
  local has_ufw=0 has_nft=0
  { dv_has ufw || [ -x /usr/sbin/ufw ]; } && has_ufw=1
  { dv_has nft || [ -x /usr/sbin/nft ]; } && has_nft=1
  case "${DEVOPNESS_FIREWALL:-}" in
    nft|nftables)
      [ "$has_nft" = 1 ] || dv_fail "DEVOPNESS_FIREWALL=nft but nftables is not installed (apt-get install nftables)"
      DV_FW_BACKEND=nft; return 0 ;;
    ufw)
      [ "$has_ufw" = 1 ] || dv_fail "DEVOPNESS_FIREWALL=ufw but ufw is not installed (apt-get install ufw)"
      DV_FW_BACKEND=ufw; return 0 ;;
    "") ;;
    *) dv_fail "unknown DEVOPNESS_FIREWALL '${DEVOPNESS_FIREWALL}': use nft or ufw" ;;
  esac
  # An active ufw drops what it does not allow, whatever another table accepts: rules
  # must then go into ufw to have any effect.
  if [ "$has_ufw" = 1 ] && dv_fw_ufw_active; then DV_FW_BACKEND=ufw
  elif [ "$has_nft" = 1 ]; then DV_FW_BACKEND=nft
  elif [ "$has_ufw" = 1 ]; then DV_FW_BACKEND=ufw
  else dv_fail "no firewall tool on this server: install nftables (apt-get install nftables) or ufw"
  fi
}

# Rules deployed at once must not rebuild the table from the same old state and drop one
# another: one firewall change at a time.
dv_fw_lock() {
  dv_has flock || return 0
  exec 9>>"/tmp/devopness-firewall-$(id -u).lock"
  flock -w 120 9 || dv_fail "another firewall change is still running (waited 120s)"
}

# dv_fw_check DIRECTION PROTOCOL PORT CIDR: fail unless each is well formed (they end up
# in a ruleset file, so nothing but plain values may pass).
dv_fw_check() {
  [[ $1 =~ ^(inbound|outbound)$ ]] || dv_fail "invalid direction '$1' (inbound or outbound)"
  [[ $2 =~ ^(tcp|udp|icmp|any)$ ]] || dv_fail "invalid protocol '$2' (tcp, udp, icmp or any)"
  [[ $3 =~ ^[0-9]{1,5}$ ]] && [ "$3" -ge 1 ] && [ "$3" -le 65535 ] \
    || dv_fail "invalid port '$3' (1-65535)"
  [[ $4 =~ ^[0-9.]+/[0-9]{1,2}$ || $4 =~ ^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*/[0-9]{1,3}$ ]] \
    || dv_fail "invalid CIDR block '$4' (such as 203.0.113.0/24 or 2001:db8::/32)"
}

# The ports SSH must stay reachable on: the one this session came in on, DEVOPNESS_SSH_PORT,
# and those sshd is configured with.
dv_fw_ssh_ports() {
  local ports=() p
  [ -n "${SSH_CONNECTION:-}" ] && ports+=("$(awk '{print $4}' <<<"$SSH_CONNECTION")")
  [ -n "${DEVOPNESS_SSH_PORT:-}" ] && ports+=("$DEVOPNESS_SSH_PORT")
  if [ -x /usr/sbin/sshd ]; then
    while read -r p; do ports+=("$p"); done < <(dv_root /usr/sbin/sshd -T 2>/dev/null | awk '$1 == "port" {print $2}')
  fi
  [ "${#ports[@]}" -gt 0 ] || ports=(22)
  for p in "${ports[@]}"; do [[ $p =~ ^[0-9]+$ ]] && echo "$p"; done | sort -un
}

# dv_fw_nft_rule ID DIRECTION PROTOCOL PORT CIDR: one nft rule (accept, counted, marked).
dv_fw_nft_rule() {
  local id=$1 direction=$2 protocol=$3 port=$4 cidr=$5 family=ip address match
  [[ $cidr == *:* ]] && family=ip6
  if [ "$direction" = inbound ]; then address=saddr; else address=daddr; fi
  case $protocol in
    tcp|udp) match="$protocol dport $port" ;;
    any) match="meta l4proto { tcp, udp } th dport $port" ;;
    icmp) if [ "$family" = ip ]; then match="meta l4proto icmp"; else match="meta l4proto ipv6-icmp"; fi ;;
  esac
  echo "    $family $address $cidr $match counter accept comment \"devopness-network-rule-$id\""
}

# dv_fw_nft_render RULES_DIR POLICY: the nft program that replaces our table atomically
# (or deletes it when there is nothing to enforce).
dv_fw_nft_render() {
  local rules=$1 policy=$2 f id direction protocol port cidr ports
  local -a inbound=() outbound=()
  for f in $(cd "$rules" 2>/dev/null && ls -- *.rule 2>/dev/null | sort -n); do
    id=${f%.rule}
    [[ $id =~ ^[0-9]+$ ]] || continue
    read -r direction protocol port cidr <"$rules/$f"
    dv_fw_check "$direction" "$protocol" "$port" "$cidr"
    if [ "$direction" = inbound ]; then
      inbound+=("$(dv_fw_nft_rule "$id" "$direction" "$protocol" "$port" "$cidr")")
    else
      outbound+=("$(dv_fw_nft_rule "$id" "$direction" "$protocol" "$port" "$cidr")")
    fi
  done
  # Creating the table first lets `delete` succeed when it does not exist yet; the three
  # commands run as one transaction.
  echo "table inet devopness"
  echo "delete table inet devopness"
  if [ "$policy" = accept ] && [ "${#inbound[@]}" -eq 0 ] && [ "${#outbound[@]}" -eq 0 ]; then
    return 0
  fi
  echo "table inet devopness {"
  echo "  chain input {"
  echo "    type filter hook input priority 0; policy $policy;"
  if [ "$policy" = drop ]; then
    ports=$(dv_fw_ssh_ports | paste -sd, - | sed 's/,/, /g')
    echo "    ct state established,related accept"
    echo "    iifname \"lo\" accept"
    echo "    tcp dport { $ports } accept comment \"devopness-ssh\""
    echo "    icmp type { destination-unreachable, time-exceeded, parameter-problem } accept"
    echo "    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept"
    echo "    udp sport 67 udp dport 68 accept"
    echo "    udp sport 547 udp dport 546 accept"
  fi
  [ "${#inbound[@]}" -eq 0 ] || printf '%s\n' "${inbound[@]}"
  echo "  }"
  echo "  chain output {"
  echo "    type filter hook output priority 0; policy accept;"
  [ "${#outbound[@]}" -eq 0 ] || printf '%s\n' "${outbound[@]}"
  echo "  }"
  echo "}"
}

# The inbound chain's policy: accept unless a default-deny firewall is asked for.
dv_fw_policy() { echo "${DEVOPNESS_FIREWALL_INBOUND_POLICY:-accept}"; }
dv_fw_check_policy() {
  [[ $(dv_fw_policy) =~ ^(accept|drop)$ ]] \
    || dv_fail "invalid DEVOPNESS_FIREWALL_INBOUND_POLICY '$(dv_fw_policy)' (accept or drop)"
}

# dv_fw_nft_sync STAGED_RULES_DIR: check, then apply the table built from the staged
# rules. On failure nothing changed (nft applies a file all or nothing).
dv_fw_nft_sync() {
  local staged=$1 dir program err
  dv_fw_check_policy
  dir=$(dv_fw_dir)
  program=$(mktemp)
  err=$(mktemp)
  dv_fw_nft_render "$staged" "$(dv_fw_policy)" >"$program"
  chmod 644 "$program"
  if ! dv_root nft -c -f "$program" >"$err" 2>&1; then
    dv_fail "nft refused the ruleset (nothing changed): $(cat "$err")"
  fi
  if ! dv_root nft -f "$program" >"$err" 2>&1; then
    dv_fail "nft could not apply the ruleset (nothing changed): $(cat "$err")"
  fi
  # Kept for boot time (see dv_fw_persist) and for people reading the server.
  DV_AS_ROOT=1 dv_put_file "$dir/devopness.nft" 644 <"$program" >/dev/null
  rm -f "$program" "$err"
}

# Load our table again at boot when systemd runs the machine (DEVOPNESS_FIREWALL_PERSIST=0
# turns it off).
dv_fw_persist() {
  [ "${DEVOPNESS_FIREWALL_PERSIST:-1}" = 1 ] || return 0
  [ "$(dv_init_system)" = systemd ] || { dv_warn "no systemd: the firewall rules are not reloaded at boot"; return 0; }
  local unit=/etc/systemd/system/devopness-firewall.service nft_bin
  nft_bin=$(command -v nft || echo /usr/sbin/nft)
  local changed
  changed=$(DV_AS_ROOT=1 dv_put_file "$unit" 644 <<EOF
[Unit]
Description=Devopness network rules (nftables table inet devopness)
Wants=network-pre.target
Before=network-pre.target
ConditionPathExists=$(dv_fw_dir)/devopness.nft

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=$nft_bin -f $(dv_fw_dir)/devopness.nft

[Install]
WantedBy=multi-user.target
EOF
)
  if [ "$changed" = changed ]; then dv_root systemctl daemon-reload; fi
  dv_root systemctl enable devopness-firewall.service >/dev/null 2>&1 \
    || dv_warn "could not enable devopness-firewall.service: the rules are not reloaded at boot"
}

# dv_fw_ufw_args DIRECTION PROTOCOL PORT CIDR: the `ufw allow` arguments of a rule.
# (ICMP has no ufw rule: callers refuse it first.)
dv_fw_ufw_args() {
  local direction=$1 protocol=$2 port=$3 cidr=$4 proto=()
  case $protocol in
    tcp|udp) proto=(proto "$protocol") ;;
  esac
  if [ "$direction" = inbound ]; then
    echo in "${proto[@]}" from "$cidr" to any port "$port"
  else
    echo out "${proto[@]}" to "$cidr" port "$port"
  fi
}

dv_fw_ufw_active() { grep -q '^Status: active' <<<"$(dv_root ufw status 2>/dev/null || true)"; }
