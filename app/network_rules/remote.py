"""What a network rule does on its servers: an allow rule in the server's firewall.

nftables by default (our own table `inet devopness`, rebuilt atomically), ufw when the
server variable DEVOPNESS_FIREWALL=ufw says so, when ufw is active, or when nft is
missing. The inbound chain accepts everything unless DEVOPNESS_FIREWALL_INBOUND_POLICY=drop
asks for a default-deny firewall, which always lets SSH in. Needs root (`dv_root`). See
`workers/scripts/lib/firewall.sh`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.core.settings import Settings
from app.network_rules.models import NetworkRule
from app.resources_common.scripts import register_script_steps, resource_for


async def network_rule_context(
    session: AsyncSession, request: builtins.RunRequest
) -> builtins.ScriptContext:
    rule = await resource_for(session, NetworkRule, request, "Network rule")
    return builtins.ScriptContext(env={
        "DEVOPNESS_NETWORK_RULE_ID": str(rule.id),
        "DEVOPNESS_NETWORK_RULE_NAME": rule.name,
        "DEVOPNESS_NETWORK_RULE_DIRECTION": rule.direction,
        "DEVOPNESS_NETWORK_RULE_PROTOCOL": rule.protocol,
        "DEVOPNESS_NETWORK_RULE_PORT": str(rule.port),
        "DEVOPNESS_NETWORK_RULE_CIDR": rule.cidr_block,
    })


def register(settings: Settings) -> None:
    builtins.register_context_builder("network-rule", network_rule_context)
    register_script_steps("network-rule", {
        "deploy": ("Apply the firewall rule", "network-rule/deploy", 120),
        "remove": ("Remove the firewall rule", "network-rule/remove", 120),
    })
