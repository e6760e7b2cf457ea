"""The outbound policy, tried as a tenant who wants the control plane to reach inside.

The suite allows private networks for its loopback targets (tests/conftest.py); these tests
turn that off, as it is by default, and prove that nothing was sent: every internal target
is a loopback listener that counts the connections it gets.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.models import ActionTarget
from app.core import outbound
from app.core.settings import Settings
from app.hooks.models import Hook
from app.hooks.sender import send_outgoing_hooks
from tests import resource_factories as rf
from tests.conftest import ALLOW_PRIVATE
from tests.factories import auth, create_project_token, create_role
from tests.factories_credentials import create_credential, create_tenant
from tests.hooks.conftest import create_hook, pipeline_for

INTERNAL_ANSWER = b'{"internal": "metadata-credentials-of-the-control-plane"}'


class Listener:
    """An internal service on loopback: records each connection and what was sent."""

    def __init__(self, answer: bytes = INTERNAL_ANSWER) -> None:
        self.answer = answer
        self.received: list[bytes] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def connections(self) -> int:
        return len(self.received)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                self.received.append(data)
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(self.answer)}\r\nConnection: close\r\n\r\n"
                )
                with contextlib.suppress(OSError):
                    conn.sendall(head.encode() + self.answer)

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    service = Listener()
    yield service
    service.close()


@pytest.fixture
def policy_off(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default: the suite's session settings allow loopback; here they do not."""
    monkeypatch.setattr(settings, "outbound_allow_private_networks", False)


def test_private_networks_are_refused_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE, raising=False)
    assert Settings(_env_file=None).outbound_allow_private_networks is False  # type: ignore[call-arg]


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "169.254.169.254", "10.0.0.5",
    "172.16.1.1", "192.168.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1",
    "[::1]", "::", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:a9fe:a9fe",
    "2002:7f00:1::", "64:ff9b::a9fe:a9fe", "localhost", "api.localhost",
])
def test_internal_addresses_are_refused(host: str, settings: Settings, policy_off: None) -> None:
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_host(host, settings)


@pytest.mark.parametrize("host", ["8.8.8.8", "2606:4700:4700::1111", "example.com"])
def test_public_addresses_pass(host: str, settings: Settings, policy_off: None) -> None:
    outbound.check_host(host, settings)


def test_the_setting_allows_private_unicast_addresses(settings: Settings) -> None:
    assert settings.outbound_allow_private_networks
    outbound.check_host("127.0.0.1", settings)
    outbound.check_host("169.254.169.254", settings)
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_host("224.0.0.1", settings)


# ---------------------------------------------------------------------- hooks

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/", "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]:{port}/", "http://2130706433:{port}/", "http://localhost:{port}/",
    "http://[::1]:{port}/", "https://10.0.0.5/hook",
])
async def test_hook_target_at_an_internal_address_is_422(
    url: str, client: httpx.AsyncClient, db: AsyncSession, listener: Listener,
    policy_off: None,
) -> None:
    tenant = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    target = url.format(port=listener.port)
    r = await client.post(
        f"/pipelines/{pipeline_id}/hooks/outgoing", headers=tenant.headers,
        json={"name": "notify", "target_url": target},
    )
    assert r.status_code == 422, r.text
    assert "target_url" in r.json()["errors"]
    assert (await db.scalars(select(Hook))).all() == []

    # Nor can an existing hook be pointed there.
    r = await client.post(
        f"/pipelines/{pipeline_id}/hooks/outgoing", headers=tenant.headers,
        json={"name": "notify", "target_url": "https://hooks.example.com/x"},
    )
    assert r.status_code == 201, r.text
    hook = r.json()
    r = await client.put(
        f"/hooks/outgoing/{hook['id']}", headers=tenant.headers,
        json={"id": hook["id"], "name": "notify", "target_url": target},
    )
    assert r.status_code == 422, r.text
    assert "target_url" in r.json()["errors"]
    assert listener.connections == 0


async def test_hook_to_an_internal_address_is_refused_when_it_fires_and_nothing_is_sent(
    app: Any, client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    listener: Listener, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hooks stored while an operator allowed private networks, or whose name resolves to
    # an internal address: the check when the hook fires refuses them.
    tenant = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    hook = await create_hook(client, tenant, pipeline_id, kind="outgoing",
                             target_url=f"http://localhost:{listener.port}/")
    monkeypatch.setattr(settings, "outbound_allow_private_networks", False)

    async def no_wait(seconds: float) -> None:
        return None

    ids = await send_outgoing_hooks(
        app.state.database, settings, pipeline_id=pipeline_id, event="action.completed",
        variables={}, sleep=no_wait,
    )
    assert listener.connections == 0
    assert len(ids) == 1  # refused once, not retried
    r = await client.get(f"/hook-requests/{ids[0]}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["response_status_code"] == 0
    assert stored["response_body"]["error"] == "OutboundRefused"
    assert "loopback" in stored["response_body"]["message"]
    assert "metadata-credentials" not in r.text
    assert hook["id"] == stored["hook_id"]


async def test_hook_with_the_setting_on_reaches_loopback_by_name_keeping_its_host(
    app: Any, client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
    listener: Listener,
) -> None:
    tenant = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    await create_hook(client, tenant, pipeline_id, kind="outgoing",
                      target_url=f"http://localhost:{listener.port}/notify")
    ids = await send_outgoing_hooks(
        app.state.database, settings, pipeline_id=pipeline_id, event="action.completed",
        variables={},
    )
    assert listener.connections == 1 and len(ids) == 1
    assert f"host: localhost:{listener.port}".encode() in listener.received[0].lower()
    r = await client.get(f"/hook-requests/{ids[0]}", headers=tenant.headers)
    assert r.json()["response_status_code"] == 200


async def test_hook_requests_show_no_secret_to_a_read_only_user_and_keep_a_bounded_answer(
    app: Any, client: httpx.AsyncClient, db: AsyncSession, settings: Settings,
) -> None:
    big = Listener(answer=b"x" * 100_000)
    try:
        tenant = await create_tenant(db)
        pipeline_id = await pipeline_for(db, tenant)
        hook = await create_hook(
            client, tenant, pipeline_id, kind="outgoing", requires_secret=True,
            secret_algorithm="token", target_url=f"http://127.0.0.1:{big.port}/notify",
            settings={"request_body": {"note": "sent with {{ action.status }}"}},
        )
        secret = hook["secret"]
        assert len(secret) > 8
        ids = await send_outgoing_hooks(
            app.state.database, settings, pipeline_id=pipeline_id, event="action.completed",
            variables={"action": {"status": "completed"}},
        )
        # The receiver did get the secret: that is what the token algorithm sends.
        assert secret.encode() in big.received[0]
    finally:
        big.close()

    role = await create_role(db, permissions=["hook:read"])
    _, token = await create_project_token(db, tenant.project, role, tenant.user)
    reader = auth(token)
    r = await client.get(f"/hooks/outgoing/{hook['id']}/requests", headers=reader)
    assert r.status_code == 200, r.text
    assert secret not in r.text
    r = await client.get(f"/hook-requests/{ids[0]}", headers=reader)
    assert r.status_code == 200, r.text
    assert secret not in r.text
    stored = r.json()
    assert outbound.MASK in json.dumps(stored["request_headers"])
    body = stored["response_body"]
    assert body["truncated"] is True
    assert len(body["content"]) <= outbound.MAX_SUMMARY_BYTES


async def test_incoming_hook_requests_mask_the_token_wherever_it_is_sent(
    client: httpx.AsyncClient, db: AsyncSession,
) -> None:
    tenant = await create_tenant(db)
    pipeline_id = await pipeline_for(db, tenant)
    hook = await create_hook(client, tenant, pipeline_id, requires_secret=True,
                             secret_algorithm="token")
    secret = hook["secret"]
    await client.post(
        f"/hooks/{hook['id']}/trigger", json={"echo": f"token={secret}"},
        headers={"X-Gitlab-Token": secret, "X-Forwarded-Token": secret},
    )
    role = await create_role(db, permissions=["hook:read"])
    _, token = await create_project_token(db, tenant.project, role, tenant.user)
    r = await client.get(f"/hooks/incoming/{hook['id']}/requests", headers=auth(token))
    assert r.status_code == 200 and r.json(), r.text
    r = await client.get(f"/hook-requests/{r.json()[0]['id']}", headers=auth(token))
    assert r.status_code == 200, r.text
    assert "token=" in r.text and secret not in r.text


# ---------------------------------------------------------------------- Google key

def _google_key(token_uri: str) -> str:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps({
        "type": "service_account", "project_id": "my-project", "private_key_id": "k1",
        "client_email": "deployer@my-project.iam.gserviceaccount.com", "private_key": pem,
        "token_uri": token_uri,
    })


async def test_google_key_token_uri_at_an_internal_address_is_refused_without_sending(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings, listener: Listener,
    policy_off: None,
) -> None:
    assert settings.gcp_token_url is None
    tenant = await create_tenant(db)
    key = _google_key(f"http://127.0.0.1:{listener.port}/token")
    credential = await create_credential(
        db, settings, tenant, provider_code="gcp", values={"service_account_key": key},
    )
    r = await client.post(f"/credentials/{credential.id}/get-status", headers=tenant.headers)
    assert r.status_code == 422, r.text
    assert "loopback" in r.text
    assert listener.connections == 0


# ---------------------------------------------------------------------- git URLs

@pytest.mark.parametrize("repository", [
    "http://127.0.0.1:{port}/acme/web.git", "https://169.254.169.254/x.git",
    "git@169.254.169.254:acme/web.git", "ssh://git@localhost:{port}/acme/web.git",
    "git://[::1]:{port}/web.git",
])
async def test_repository_url_at_an_internal_address_is_422(
    repository: str, client: httpx.AsyncClient, db: AsyncSession, listener: Listener,
    policy_off: None,
) -> None:
    tenant = await rf.create_tenant(db)
    r = await client.post(
        f"/environments/{tenant.environment.id}/applications", headers=tenant.headers,
        json={"name": "web", "repository": repository.format(port=listener.port),
              "programming_language": "html", "framework": "none", "engine_version": "none",
              "default_branch": "main"},
    )
    assert r.status_code == 422, r.text
    assert "repository" in r.json()["errors"]
    assert listener.connections == 0


async def test_repository_url_resolving_internally_is_refused_when_a_deploy_starts(
    db: AsyncSession, settings: Settings, listener: Listener, policy_off: None,
) -> None:
    tenant = await rf.create_tenant(db)
    application = await rf.create_application(
        db, tenant, repository=f"http://localhost:{listener.port}/acme/web.git"
    )
    request = builtins.RunRequest(
        action_id=1, resource_type="application", resource_id=application.id,
        operation="deploy", server_id=0,
    )
    with pytest.raises(builtins.ContextUnavailable) as refused:
        await builtins.build_context(db, request)
    assert "internal addresses" in str(refused.value)
    assert listener.connections == 0


# ---------------------------------------------------------------------- servers

def _server_body(ip_address: str) -> dict[str, Any]:
    return {
        "hostname": "web-1", "ip_address": ip_address, "ssh_port": 22,
        "provision_input": {"cloud_service_code": "self-hosted-custom",
                            "settings": {"os_version_code": "ubuntu_24_04"}},
    }


@pytest.mark.parametrize("ip_address", ["127.0.0.1", "169.254.169.254", "10.1.2.3", "0.0.0.0"])
async def test_server_address_internal_is_422(
    ip_address: str, client: httpx.AsyncClient, db: AsyncSession, policy_off: None,
) -> None:
    tenant = await rf.create_tenant(db)
    r = await client.post(f"/environments/{tenant.environment.id}/servers",
                          json=_server_body(ip_address), headers=tenant.headers)
    assert r.status_code == 422, r.text
    assert "ip_address" in r.json()["errors"]
    server = await rf.create_server(db, tenant, ip_address="8.8.8.8")
    r = await client.put(f"/servers/{server.id}", headers=tenant.headers,
                         json={"id": server.id, "ip_address": ip_address})
    assert r.status_code == 422, r.text
    assert "ip_address" in r.json()["errors"]


async def test_server_stored_at_an_internal_address_is_never_contacted(
    app: Any, client: httpx.AsyncClient, db: AsyncSession, listener: Listener,
    policy_off: None,
) -> None:
    tenant = await rf.create_tenant(db)
    server = await rf.create_server(db, tenant, ip_address="127.0.0.1", ssh_port=listener.port)
    r = await client.post(f"/servers/{server.id}/get-status", headers=tenant.headers)
    assert r.status_code == 204, r.text
    await app.state.runner.wait_idle()
    targets = (await db.scalars(
        select(ActionTarget).where(ActionTarget.server_id == server.id)
    )).all()
    assert [t.status for t in targets] == ["failed"]
    assert "loopback" in (targets[0].status_message or "")
    assert listener.connections == 0
