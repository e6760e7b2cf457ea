"""A real server process (uvicorn) on a free port, for end-to-end tests with the official SDK."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.core.settings import Settings
from tests.conftest import Mailbox, free_port
from tests.live import api_process


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def live_server(
    settings: Settings, smtp: tuple[Mailbox, int], moto_url: str
) -> Iterator[LiveServer]:
    _, smtp_port = smtp
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": "e2e-secret-key-not-for-production",
        "PUBLIC_URL": url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "EMAIL_VERIFICATION_REQUIRED": "true",
        "LOG_LEVEL": "WARNING",
        # Networks created through the SDK are created at AWS: moto on loopback.
        "AWS_ENDPOINT_URL": moto_url,
        # Its SSH targets and hook receivers are on loopback.
        "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true",
        # Every e2e module signs users up from 127.0.0.1 against this one process; the
        # limits themselves are tested in-process (tests/core).
        "RATE_LIMIT_AUTH_PER_MINUTE": "100000",
        "RATE_LIMIT_IP_PER_MINUTE": "100000",
    }
    env.pop("REDIS_URL", None)
    with api_process(env, port, start_seconds=30) as process:
        yield LiveServer(url=url, process=process)


def token_in_mail(mailbox: Mailbox, email: str, label: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        try:
            body = mailbox.body(mailbox.last_to(email))
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    match = re.search(rf"{label}: ([0-9a-f]+)", body)
    assert match, body
    return match.group(1)


def sign_up_and_log_in(server: LiveServer, mailbox: Mailbox, email: str, password: str) -> str:
    """The older clients' sign-up over plain HTTP (bodies per the reference README)."""
    with httpx.Client(base_url=server.url, headers={"Accept": "application/json"}) as http:
        assert http.post("/users", json={"email": email}).status_code == 202
        token = token_in_mail(mailbox, email, "verification token")
        r = http.post(
            "/users/account/verify",
            json={"email": email, "token": token, "name": "End To End", "password": password},
        )
        assert r.status_code == 204, r.text
        r = http.post("/users/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        access: str = r.json()["access_token"]
        return access


def source_credential(client: Any, organization_id: int, environment_id: int) -> int:
    """What the docs have users add before an application: a source provider credential of
    their organization, linked to the environment (a token sent only to its provider)."""
    credential = client.credentials.add_organization_credential(organization_id, {
        "name": f"github-{environment_id}", "provider_code": "github",
        "provider_type": "source_provider", "active": True,
        "settings": {"credential": {"auth_type": "api_credentials",
                                    "access_token": "ghp_e2e000000000000000000000000000000000"}},
    }).data
    client.credentials.link_credential_to_environment(credential.id, environment_id)
    return int(credential.id)
