"""On-prem installs use internal mail domains: any syntactically valid address is accepted;
deliverability is the operator's SMTP server's business."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Mailbox
from tests.users.test_router import _token_from

INTERNAL = ["admin@corp.local", "ops@build.internal", "dev@office.lan", "root@mailhost",
            "first.last+tag@xn--bcher-kva.local", "a@corp.test"]


@pytest.mark.parametrize("email", INTERNAL)
async def test_sign_up_verify_and_log_in_on_an_internal_domain(
    email: str, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    r = await client.post("/users", json={"email": email})
    assert r.status_code == 202, r.text
    token = _token_from(mailbox, email, "verification token")
    r = await client.post("/users/account/verify", json={
        "email": email, "token": token, "name": "Internal", "password": "a-long-password"})
    assert r.status_code == 204, r.text
    r = await client.post("/users/login", json={"email": email, "password": "a-long-password"})
    assert r.status_code == 200, r.text
    r = await client.post("/users/password/send-reset-link", json={"email": email})
    assert r.status_code in (202, 204), r.text


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "@corp.local", "admin@", "two@@corp.local", "sp ace@corp.local",
     "admin@-corp.local", "admin@corp..local", "admin@corp.local.", "admin@[127.0.0.1]",
     "admin@" + "a" * 64 + ".local", "x" * 65 + "@corp.local", "admin@corp_x.local",
     "line\n@corp.local"],
)
async def test_invalid_addresses_are_still_refused(
    email: str, client: httpx.AsyncClient
) -> None:
    r = await client.post("/users", json={"email": email})
    assert r.status_code == 422, r.text
    assert "email" in r.json()["errors"]


def test_create_user_accepts_an_internal_domain(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "SECRET_KEY": "cli-test-secret-key-value"}
    result = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "create-user", "--email", "Admin@Corp.Local",
         "--password", "long-password", "--name", "Admin"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "created user" in result.stderr and "admin@corp.local" in result.stderr.lower()
    assert result.stdout.strip()
