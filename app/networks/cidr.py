"""CIDR rules for networks and subnets: private IPv4 ranges, subnets inside their network
and never overlapping a sibling."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from app.core.errors import ValidationFailed

PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
NETWORK_PREFIX = (16, 28)  # what AWS, Azure and DigitalOcean accept for a VPC
SUBNET_MAX_PREFIX = 29


def parse(value: str, field: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValidationFailed.field(
            field, "The CIDR block must be an IPv4 network such as 10.0.0.0/16, with no host bits "
            "set.",
        ) from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise ValidationFailed.field(field, "The CIDR block must be an IPv4 network.")
    if not any(network.subnet_of(r) for r in PRIVATE_RANGES):
        raise ValidationFailed.field(
            field, "The CIDR block must be inside a private range (10/8, 172.16/12, 192.168/16)."
        )
    return network


def network_block(value: str, field: str = "provision_input.settings.cidr_block") -> str:
    network = parse(value, field)
    low, high = NETWORK_PREFIX
    if not low <= network.prefixlen <= high:
        raise ValidationFailed.field(
            field, f"The network CIDR block prefix must be between /{low} and /{high}."
        )
    return str(network)


def subnet_block(
    value: str,
    parent: str | None,
    siblings: Iterable[tuple[str, str]],
    field: str = "provision_input.settings.cidr_block",
) -> str:
    """`siblings` are (name, cidr) of the network's other subnets."""
    subnet = parse(value, field)
    if subnet.prefixlen > SUBNET_MAX_PREFIX:
        raise ValidationFailed.field(
            field, f"The subnet CIDR block prefix must be /{SUBNET_MAX_PREFIX} or larger."
        )
    if parent is not None:
        network = ipaddress.IPv4Network(parent)
        if not subnet.subnet_of(network):
            raise ValidationFailed.field(
                field, f"The subnet CIDR block must be inside the network's {parent}."
            )
    for name, other in siblings:
        if subnet.overlaps(ipaddress.IPv4Network(other)):
            raise ValidationFailed.field(
                field, f"The subnet CIDR block overlaps subnet '{name}' ({other})."
            )
    return str(subnet)
