"""Network rules for real: nftables in a network-namespace host reached over SSH as root,
checked by listing the ruleset and by connecting to ports from this machine."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.servers.models import Server
from tests import resource_factories as rf
from tests.remote.conftest import Remote, SSHHost
from tests.remote.netns import NetnsHost, NetnsUnavailable, netns_host
from tests.remote.test_cron_jobs import finish_removal


@dataclass
class Firewalled:
    """A namespace host, its server record (SSH as root) and a tenant."""

    tenant: rf.Tenant
    server: Server
    host: NetnsHost
    remote: Remote  # for operate() / wait() / logs(); its OS-user parts are unused

    async def operate(self, client: httpx.AsyncClient, path: str, *, expect: str = "completed"
                      ) -> str:
        action = await self.remote.operate(client, path, expect=expect)
        return await self.remote.logs(client, action)

    def table(self) -> str:
        return self.host.nft("list", "table", "inet", "devopness", check=False)


@pytest.fixture
async def firewalled(db: AsyncSession, request: pytest.FixtureRequest
                     ) -> AsyncIterator[Firewalled]:
    """Parametrize indirectly with the /etc directories the host keeps to itself."""
    tenant = await rf.create_tenant(db)
    private_etc: tuple[str, ...] = getattr(request, "param", ())
    try:
        context = netns_host(tenant.environment.ssh_public_key, private_etc=private_etc)
        host = context.__enter__()
    except NetnsUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"required in CI: {exc}")
        pytest.skip(str(exc))
    try:
        server = await rf.create_server(db, tenant, ip_address=host.address,
                                        ssh_port=host.ssh_port, ssh_user="root",
                                        max_parallel_actions=0)
        # The namespace shares this machine's disk: keep the rule state per test.
        for key, value in (("DEVOPNESS_FIREWALL_DIR", str(host.workdir / "firewall")),
                           ("DEVOPNESS_FIREWALL_PERSIST", "0")):
            await rf.create_variable(db, tenant, "server", server.id, key=key,
                                     value_plain=value)
        remote = Remote(tenant, server, "root", host.workdir,
                        SSHHost(host.ssh_port, host.host_key))
        yield Firewalled(tenant, server, host, remote)
    finally:
        context.__exit__(None, None, None)


async def rule(db: AsyncSession, fw: Firewalled, **values: object) -> int:
    created = await rf.create_network_rule(db, fw.tenant, **values)
    await rf.link(db, "network-rule", created.id, fw.server)
    return created.id


HANDMADE = "table inet handmade {\n\tchain c {\n\t\ttcp dport 9999 accept\n\t}\n}\n"


async def test_deploy_is_idempotent_update_replaces_delete_removes(
    client: httpx.AsyncClient, db: AsyncSession, firewalled: Firewalled
) -> None:
    fw, host = firewalled, firewalled.host
    host.run("nft", "-f", "-", input=HANDMADE)
    handmade = host.nft("list", "table", "inet", "handmade")
    web = await rule(db, fw, direction="inbound", protocol="tcp", port=8080,
                     cidr_block=f"{host.host_address}/32")
    dns = await rule(db, fw, direction="outbound", protocol="udp", port=53,
                     cidr_block="0.0.0.0/0")
    ping = await rule(db, fw, direction="inbound", protocol="icmp", port=1,
                      cidr_block="2001:db8::/32")
    anyproto = await rule(db, fw, direction="inbound", protocol="any", port=5000,
                          cidr_block="10.0.0.0/8")

    logs = await fw.operate(client, f"/network-rules/{web}/deploy")
    assert f'devopness-network-rule-{web}' in logs
    table = fw.table()
    assert "policy accept;" in table
    assert (f'ip saddr {host.host_address} tcp dport 8080 counter accept '
            f'comment "devopness-network-rule-{web}"') in table
    logs = await fw.operate(client, f"/network-rules/{web}/deploy")
    assert "unchanged" in logs
    assert fw.table() == table

    # At once: each rebuild starts from the others' state, none is lost.
    await asyncio.gather(*(fw.operate(client, f"/network-rules/{rule_id}/deploy")
                           for rule_id in (dns, ping, anyproto)))
    table = fw.table()
    assert (f'ip daddr 0.0.0.0/0 udp dport 53 counter accept '
            f'comment "devopness-network-rule-{dns}"') in table.split("chain output")[1]
    assert f'ip6 saddr 2001:db8::/32 meta l4proto ipv6-icmp counter accept comment ' \
           f'"devopness-network-rule-{ping}"' in table
    assert f'ip saddr 10.0.0.0/8 meta l4proto {{ tcp, udp }} th dport 5000 counter accept ' \
           f'comment "devopness-network-rule-{anyproto}"' in table

    # Edited then deployed: replaced, not added.
    r = await client.put(f"/network-rules/{web}", json={
        "id": web, "name": "web", "direction": "inbound", "protocol": "tcp",
        "cidr_block": "192.0.2.0/24",
    }, headers=fw.tenant.headers)
    assert r.status_code == 204, r.text
    await fw.operate(client, f"/network-rules/{web}/deploy")
    table = fw.table()
    assert table.count(f'"devopness-network-rule-{web}"') == 1
    assert "ip saddr 192.0.2.0/24 tcp dport 8080" in table

    # With an accept policy the firewall blocks nothing by itself.
    host.listen(8081)
    assert host.reachable(8081)

    r = await client.delete(f"/network-rules/{web}", headers=fw.tenant.headers)
    assert r.status_code == 204
    await finish_removal(db, "network-rule", web)
    table = fw.table()
    assert f"devopness-network-rule-{web}" not in table
    for rule_id in (dns, ping, anyproto):
        assert f'"devopness-network-rule-{rule_id}"' in table
    assert host.nft("list", "table", "inet", "handmade") == handmade

    for rule_id in (dns, ping, anyproto):
        r = await client.delete(f"/network-rules/{rule_id}", headers=fw.tenant.headers)
        assert r.status_code == 204
        await finish_removal(db, "network-rule", rule_id)
    # Nothing left to enforce: our table is gone, the other one is as it was.
    assert "devopness" not in host.nft("list", "ruleset")
    assert host.nft("list", "table", "inet", "handmade") == handmade
    await fw.operate(client, f"/servers/{fw.server.id}/get-status")


async def test_default_deny_lets_in_only_declared_ports_and_ssh(
    client: httpx.AsyncClient, db: AsyncSession, firewalled: Firewalled
) -> None:
    fw, host = firewalled, firewalled.host
    await rf.create_variable(db, fw.tenant, "server", fw.server.id,
                             key="DEVOPNESS_FIREWALL_INBOUND_POLICY", value_plain="drop")
    host.listen(8080)
    host.listen(8081)
    host.listen(8082)
    web = await rule(db, fw, direction="inbound", protocol="tcp", port=8080,
                     cidr_block=f"{host.host_address}/32")
    elsewhere = await rule(db, fw, direction="inbound", protocol="tcp", port=8082,
                           cidr_block="192.0.2.0/24")
    await fw.operate(client, f"/network-rules/{web}/deploy")
    await fw.operate(client, f"/network-rules/{elsewhere}/deploy")
    table = fw.table()
    assert "policy drop;" in table
    ssh_line = next(line for line in table.splitlines() if '"devopness-ssh"' in line)
    assert str(host.ssh_port) in ssh_line
    assert host.reachable(8080)
    assert not host.reachable(8081, timeout=0.5)  # declared by nobody
    assert not host.reachable(8082, timeout=0.5)  # declared for other addresses
    # SSH still works: the next operations connect afresh.
    await fw.operate(client, f"/network-rules/{web}/deploy")
    await fw.operate(client, f"/servers/{fw.server.id}/get-status")

    r = await client.delete(f"/network-rules/{web}", headers=fw.tenant.headers)
    assert r.status_code == 204
    await finish_removal(db, "network-rule", web)
    assert not host.reachable(8080, timeout=0.5)
    await fw.operate(client, f"/servers/{fw.server.id}/get-status")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cidr_block": "0.0.0.0/0; flush ruleset"}, "invalid CIDR block"),
        ({"protocol": "sctp"}, "invalid protocol"),
        ({"direction": "sideways"}, "invalid direction"),
        ({"port": 70000}, "invalid port"),
    ],
)
async def test_bad_rules_fail_clearly_and_change_nothing(
    values: dict[str, object], message: str,
    client: httpx.AsyncClient, db: AsyncSession, firewalled: Firewalled,
) -> None:
    fw = firewalled
    good = await rule(db, fw, port=443)
    await fw.operate(client, f"/network-rules/{good}/deploy")
    before = fw.host.nft("list", "ruleset")
    bad = await rule(db, fw, **values)
    logs = await fw.operate(client, f"/network-rules/{bad}/deploy", expect="failed")
    assert message in logs
    assert fw.host.nft("list", "ruleset") == before


async def test_a_bad_policy_variable_fails_before_changing_anything(
    client: httpx.AsyncClient, db: AsyncSession, firewalled: Firewalled
) -> None:
    fw = firewalled
    await rf.create_variable(db, fw.tenant, "server", fw.server.id,
                             key="DEVOPNESS_FIREWALL_INBOUND_POLICY", value_plain="reject")
    rule_id = await rule(db, fw)
    logs = await fw.operate(client, f"/network-rules/{rule_id}/deploy", expect="failed")
    assert "invalid DEVOPNESS_FIREWALL_INBOUND_POLICY" in logs
    assert "devopness" not in fw.host.nft("list", "ruleset")


@pytest.mark.skipif(shutil.which("ufw") is None,
                    reason="ufw is not installed (apt-get install ufw)")
@pytest.mark.parametrize("firewalled", [("ufw",)], indirect=True)
async def test_an_active_ufw_gets_the_rules(
    client: httpx.AsyncClient, db: AsyncSession, firewalled: Firewalled
) -> None:
    fw, host = firewalled, firewalled.host
    host.listen(8080)
    host.listen(8081)
    host.run("ufw", "allow", f"{host.ssh_port}/tcp")
    host.run("ufw", "--force", "enable")  # default: deny incoming
    web = await rule(db, fw, direction="inbound", protocol="tcp", port=8080,
                     cidr_block=f"{host.host_address}/32")
    marker = f"# devopness-network-rule-{web}"

    def ufw_status() -> str:
        return host.run("ufw", "status").stdout

    logs = await fw.operate(client, f"/network-rules/{web}/deploy")
    assert "ufw allows inbound tcp 8080" in logs
    status = ufw_status()
    assert marker in status and host.host_address in status
    assert host.reachable(8080)
    assert not host.reachable(8081, timeout=0.5)
    # No nftables table of ours: ufw is in charge.
    assert "devopness" not in host.nft("list", "tables")
    await fw.operate(client, f"/network-rules/{web}/deploy")
    assert ufw_status() == status

    r = await client.put(f"/network-rules/{web}", json={
        "id": web, "name": "web", "direction": "inbound", "protocol": "tcp",
        "cidr_block": "192.0.2.0/24",
    }, headers=fw.tenant.headers)
    assert r.status_code == 204, r.text
    await fw.operate(client, f"/network-rules/{web}/deploy")
    status = ufw_status()
    assert status.count(marker) == 1 and "192.0.2.0/24" in status
    assert host.host_address not in status
    assert not host.reachable(8080, timeout=0.5)

    icmp = await rule(db, fw, protocol="icmp")
    logs = await fw.operate(client, f"/network-rules/{icmp}/deploy", expect="failed")
    assert "ufw cannot express ICMP rules" in logs

    r = await client.delete(f"/network-rules/{web}", headers=fw.tenant.headers)
    assert r.status_code == 204
    await finish_removal(db, "network-rule", web)
    status = ufw_status()
    assert marker not in status and f"{host.ssh_port}/tcp" in status
    await fw.operate(client, f"/servers/{fw.server.id}/get-status")


async def test_without_root_the_rule_fails_clearly(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    created = await rf.create_network_rule(db, remote.tenant)
    await rf.link(db, "network-rule", created.id, remote.server)
    action = await remote.operate(client, f"/network-rules/{created.id}/deploy",
                                  expect="failed")
    logs = await remote.logs(client, action)
    assert "needs root" in logs and "passwordless sudo" in logs


async def test_another_tenant_cannot_deploy(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    owner = await rf.create_tenant(db)
    created = await rf.create_network_rule(db, owner)
    await rf.link(db, "network-rule", created.id, await rf.create_server(db, owner))
    other = await rf.create_tenant(db)
    r = await client.post(f"/network-rules/{created.id}/deploy", json={}, headers=other.headers)
    assert r.status_code == 404
