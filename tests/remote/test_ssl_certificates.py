"""SSL certificates on a real server: an uploaded certificate installed and served by a real
nginx over TLS, a mismatched key or a refused configuration leaving everything as it was,
Let's Encrypt issuance over HTTP-01 from a loopback ACME CA (Pebble) with certbot and its
renewal scheduled, and removal on delete."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action
from app.core.security import SecretBox
from app.core.settings import Settings
from app.ssl_certificates.models import SslCertificate
from app.virtual_hosts.models import VirtualHost
from tests import resource_factories as rf
from tests.actions.ssh_servers import free_port
from tests.remote import acme
from tests.remote.conftest import Remote
from tests.virtual_hosts.nginx_layout import NginxLayout, make_layout

NAME = "secure.example.com"


@pytest.fixture
async def nginx(db: AsyncSession, remote: Remote) -> NginxLayout:
    return await make_layout(db, remote)


@pytest.fixture
async def raw_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API without the reference check, to follow removal actions (their
    `action_data.env` is outside the reference's ActionData; reported)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 headers={"Accept": "application/json"}) as c:
        yield c


def certificate(host: str, days: int) -> tuple[str, str, datetime]:
    """A self-signed certificate for `host` valid for `days`, its key, its expiry."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(days=days)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(expires)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem, expires


async def deployed_site(db: AsyncSession, remote: Remote, nginx: NginxLayout) -> VirtualHost:
    www = remote.home / "www"
    remote.sh(f"mkdir -p {www} && printf 'secret garden' > {www}/index.html")
    host = await rf.create_virtual_host(db, remote.tenant, name=NAME, root_directory=str(www))
    await rf.link(db, "virtual-host", host.id, remote.server)
    return host


def key_body(key_pem: str) -> list[str]:
    """The lines of a PEM key that must never appear in a log."""
    return [line for line in key_pem.splitlines() if line and not line.startswith("-----")]


async def test_custom_certificate_is_installed_and_served_over_tls(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout
) -> None:
    host = await deployed_site(db, remote, nginx)
    nginx.start()
    await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    cert_pem, key_pem, expires = certificate(NAME, 45)
    r = await client.post(
        f"/environments/{remote.tenant.environment.id}/ssl-certificates",
        json={"virtual_host_id": host.id, "issuer": "custom", "custom_certificate": cert_pem,
              "custom_private_key": key_pem}, headers=remote.tenant.headers)
    assert r.status_code == 201, r.text
    cert_id = r.json()["id"]
    # What the deploy reports is what gets stored (not what the upload said).
    stored = await db.get(SslCertificate, cert_id)
    assert stored is not None
    stored.expires_at = None
    stored.last_renewed_at = None
    await db.commit()

    action = await remote.operate(client, f"/ssl-certificates/{cert_id}/deploy")
    logs = await remote.logs(client, action)
    cert_dir = nginx.ssl_dir / str(cert_id)
    assert (cert_dir / "fullchain.pem").read_text().strip() == cert_pem.strip()
    assert (cert_dir / "privkey.pem").read_text().strip() == key_pem.strip()
    assert stat.S_IMODE((cert_dir / "privkey.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(cert_dir.stat().st_mode) == 0o700
    for line in key_body(key_pem):
        assert line not in logs

    config = nginx.available(host.id).read_text()
    assert f"listen {nginx.https_port} ssl http2;" in config
    assert f'ssl_certificate "{cert_dir}/fullchain.pem";' in config
    assert f'ssl_certificate_key "{cert_dir}/privkey.pem";' in config
    assert f"return 301 https://$host:{nginx.https_port}$request_uri;" in config
    # HTTP still answers ACME challenges (renewals) in its server block.
    http_block = config.split("server {")[1]
    assert "/.well-known/acme-challenge/" in http_block and "return 301" in http_block
    nginx.test_config()

    await db.refresh(stored)
    assert stored.active is True
    assert stored.expires_at is not None
    assert stored.expires_at.replace(tzinfo=UTC) == expires
    assert stored.last_renewed_at is not None

    # The running nginx serves the site with this certificate, and redirects HTTP.
    ca = remote.home / "ca.pem"
    ca.write_text(cert_pem)
    body = nginx.curl(f"--cacert {ca} --resolve {NAME}:{nginx.https_port}:127.0.0.1 "
                      f"https://{NAME}:{nginx.https_port}/")
    assert body == "secret garden"
    redirect = nginx.curl(f"-o /dev/null -w '%{{http_code}} %{{redirect_url}}' "
                          f"-H 'Host: {NAME}' http://127.0.0.1:{nginx.http_port}/a?b=1")
    assert redirect == f"301 https://{NAME}:{nginx.https_port}/a?b=1"

    # Idempotent: the same files and site on a second deploy.
    before = {p: p.read_bytes() for p in [cert_dir / "fullchain.pem", cert_dir / "privkey.pem",
                                          nginx.available(host.id)]}
    action = await remote.operate(client, f"/ssl-certificates/{cert_id}/deploy")
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(os.listdir(cert_dir)) == ["fullchain.pem", "privkey.pem"]
    logs = await remote.logs(client, action)
    assert "unchanged" in logs

    # A later virtual host deploy keeps TLS (the certificate's files are there).
    await remote.operate(client, f"/virtual-hosts/{host.id}/deploy")
    assert nginx.available(host.id).read_bytes() == before[nginx.available(host.id)]


async def test_mismatched_key_or_refused_configuration_changes_nothing(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout,
    settings: Settings,
) -> None:
    host = await deployed_site(db, remote, nginx)
    cert_pem, key_pem, _ = certificate(NAME, 30)
    box = SecretBox(settings)
    stored = await rf.create_ssl_certificate(
        db, remote.tenant, virtual_host_id=host.id, name=NAME, issuer="custom",
        custom_certificate=cert_pem, custom_private_key_encrypted=box.encrypt(key_pem),
        active=True)
    nginx.start()
    await remote.operate(client, f"/ssl-certificates/{stored.id}/deploy")
    cert_dir = nginx.ssl_dir / str(stored.id)
    snapshot = {p: p.read_bytes() for p in [cert_dir / "fullchain.pem",
                                            cert_dir / "privkey.pem", nginx.available(host.id)]}

    # A key of another certificate (only possible past the API's own check).
    new_cert, _, _ = certificate(NAME, 60)
    _, other_key, _ = certificate(NAME, 60)
    stored.custom_certificate = new_cert
    stored.custom_private_key_encrypted = box.encrypt(other_key)
    await db.commit()
    action = await remote.operate(client, f"/ssl-certificates/{stored.id}/deploy",
                                  expect="failed")
    logs = await remote.logs(client, action)
    assert "the private key does not match the certificate of secure.example.com" in logs
    assert "nothing was changed" in logs
    for line in key_body(other_key):
        assert line not in logs
    assert {p: p.read_bytes() for p in snapshot} == snapshot
    assert sorted(os.listdir(cert_dir)) == ["fullchain.pem", "privkey.pem"]

    # A valid new pair, but nginx refuses the configuration: the previous certificate
    # files and site are put back.
    new_cert, new_key, _ = certificate(NAME, 60)
    stored.custom_private_key_encrypted = box.encrypt(new_key)
    stored.custom_certificate = new_cert
    await db.commit()
    good_conf = nginx.conf.read_text()
    nginx.conf.write_text(good_conf.replace("events {", "events { bogus_directive 1;"))
    action = await remote.operate(client, f"/ssl-certificates/{stored.id}/deploy",
                                  expect="failed")
    logs = await remote.logs(client, action)
    assert 'unknown directive "bogus_directive"' in logs
    assert "previous certificate files of secure.example.com put back" in logs
    assert {p: p.read_bytes() for p in snapshot} == snapshot
    assert sorted(os.listdir(cert_dir)) == ["fullchain.pem", "privkey.pem"]

    # Once nginx is fixed, the same deploy goes through.
    nginx.conf.write_text(good_conf)
    await remote.operate(client, f"/ssl-certificates/{stored.id}/deploy")
    assert (cert_dir / "fullchain.pem").read_text().strip() == new_cert.strip()


async def test_deleting_a_certificate_removes_it_and_tls(
    client: httpx.AsyncClient, raw_client: httpx.AsyncClient, db: AsyncSession,
    remote: Remote, nginx: NginxLayout,
) -> None:
    host = await deployed_site(db, remote, nginx)
    cert_pem, key_pem, _ = certificate(NAME, 30)
    r = await client.post(
        f"/environments/{remote.tenant.environment.id}/ssl-certificates",
        json={"virtual_host_id": host.id, "issuer": "custom", "custom_certificate": cert_pem,
              "custom_private_key": key_pem}, headers=remote.tenant.headers)
    cert_id = r.json()["id"]
    nginx.start()
    await remote.operate(client, f"/ssl-certificates/{cert_id}/deploy")
    assert (nginx.ssl_dir / str(cert_id) / "privkey.pem").exists()

    r = await client.delete(f"/ssl-certificates/{cert_id}", headers=remote.tenant.headers)
    assert r.status_code == 204, r.text
    action_id = await db.scalar(select(Action.id).where(
        Action.resource_type == "ssl-certificate", Action.resource_id == cert_id,
        Action.type == "remove"))
    assert action_id is not None
    action = await remote.wait(raw_client, action_id)
    logs = await remote.logs(raw_client, action)
    assert "served without TLS" in logs
    for line in key_body(key_pem):
        assert line not in logs
    assert not (nginx.ssl_dir / str(cert_id)).exists()
    config = nginx.available(host.id).read_text()
    assert "ssl_certificate" not in config and "return 301" not in config
    nginx.test_config()
    body = nginx.curl(f"-H 'Host: {NAME}' http://127.0.0.1:{nginx.http_port}/")
    assert body == "secret garden"


@pytest.mark.skipif(not acme.available() or shutil.which("certbot") is None,
                    reason="needs the Debian packages pebble and certbot")
async def test_lets_encrypt_certificate_is_issued_over_http01_and_renewal_scheduled(
    client: httpx.AsyncClient, raw_client: httpx.AsyncClient, db: AsyncSession,
    remote: Remote, nginx: NginxLayout,
) -> None:
    host = await deployed_site(db, remote, nginx)
    nginx.start()
    with acme.pebble(nginx.http_port) as ca:
        for key, value in {"DEVOPNESS_ACME_DIRECTORY": ca.directory,
                           "REQUESTS_CA_BUNDLE": str(ca.ca_bundle)}.items():
            await rf.create_variable(db, remote.tenant, "server", remote.server.id, key=key,
                                     value_plain=value)
        r = await client.post(f"/environments/{remote.tenant.environment.id}/ssl-certificates",
                              json={"virtual_host_id": host.id, "issuer": "lets-encrypt"},
                              headers=remote.tenant.headers)
        assert r.status_code == 201, r.text
        cert_id = r.json()["id"]
        action = await remote.operate(client, f"/ssl-certificates/{cert_id}/deploy")
        logs = await remote.logs(client, action)
        live = nginx.certbot_dir / "live" / f"devopness-{cert_id}"
        assert (live / "fullchain.pem").exists() and (live / "privkey.pem").exists()
        issued = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
        assert issued.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [NAME]
        config = nginx.available(host.id).read_text()
        assert f'ssl_certificate "{live}/fullchain.pem";' in config
        nginx.test_config()
        stored = await db.get(SslCertificate, cert_id)
        assert stored is not None
        await db.refresh(stored)
        assert stored.active is True
        assert stored.expires_at is not None
        assert stored.expires_at.replace(tzinfo=UTC) == issued.not_valid_after_utc
        assert "renewal scheduled" in logs

        crontab = remote.sh("crontab -l").stdout
        assert "# BEGIN devopness certbot-renew" in crontab
        assert "renew --quiet" in crontab
        assert f"--config-dir '{nginx.certbot_dir}'" in crontab
        hook = nginx.certbot_dir / "renewal-hooks" / "deploy" / "devopness-nginx-reload"
        assert f"-c {nginx.conf} -s reload" in hook.read_text()
        assert os.access(hook, os.X_OK)

        # nginx serves the issued certificate.
        body = nginx.curl(f"-k --resolve {NAME}:{nginx.https_port}:127.0.0.1 "
                          f"https://{NAME}:{nginx.https_port}/")
        assert body == "secret garden"

        # Idempotent: the certificate is kept, the crontab is the same.
        action = await remote.operate(client, f"/ssl-certificates/{cert_id}/deploy")
        assert "renewal already scheduled" in await remote.logs(client, action)
        assert remote.sh("crontab -l").stdout == crontab
        again = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
        assert again.serial_number == issued.serial_number

        # The scheduled command renews for real (forced here), and the hook reloads
        # nginx: it then serves the renewed certificate.
        line = next(entry for entry in crontab.splitlines() if " renew " in entry)
        # (Without certbot's random delay, meant for cron runs of many servers at once.)
        command = line.split(None, 5)[5].replace(
            "--quiet", "--quiet --force-renewal --no-random-sleep-on-renew")
        remote.sh(command)
        renewed = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
        assert renewed.serial_number != issued.serial_number
        served = ""
        for _ in range(50):
            served = nginx.curl(
                f"-k -v --resolve {NAME}:{nginx.https_port}:127.0.0.1 "
                f"https://{NAME}:{nginx.https_port}/ 2>&1 | grep 'expire date' || true")
            if renewed.not_valid_after_utc.strftime("%b %e %H:%M:%S %Y") in served:
                break
            await asyncio.sleep(0.1)
        assert renewed.not_valid_after_utc.strftime("%b %e %H:%M:%S %Y") in served

        r = await client.delete(f"/ssl-certificates/{cert_id}", headers=remote.tenant.headers)
        assert r.status_code == 204, r.text
        action_id = await db.scalar(select(Action.id).where(
            Action.resource_type == "ssl-certificate", Action.resource_id == cert_id,
            Action.type == "remove"))
        assert action_id is not None
        action = await remote.wait(raw_client, action_id)
    assert not live.exists()
    assert "certbot-renew" not in remote.sh("crontab -l", check=False).stdout
    assert "ssl_certificate" not in nginx.available(host.id).read_text()
    nginx.test_config()


async def test_another_tenant_cannot_deploy_a_certificate(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote
) -> None:
    cert = await rf.create_ssl_certificate(db, remote.tenant)
    await rf.link(db, "virtual-host", cert.virtual_host_id, remote.server)
    other = await rf.create_tenant(db)
    r = await client.post(f"/ssl-certificates/{cert.id}/deploy", json={},
                          headers=other.headers)
    assert r.status_code == 404, r.text


@pytest.mark.skipif(shutil.which("certbot") is None, reason="needs the Debian package certbot")
async def test_lets_encrypt_failure_is_reported_and_leaves_the_site_without_tls(
    client: httpx.AsyncClient, db: AsyncSession, remote: Remote, nginx: NginxLayout
) -> None:
    host = await deployed_site(db, remote, nginx)
    await rf.create_variable(db, remote.tenant, "server", remote.server.id,
                             key="DEVOPNESS_ACME_DIRECTORY",
                             value_plain=f"http://127.0.0.1:{free_port()}/dir")
    cert = await rf.create_ssl_certificate(db, remote.tenant, virtual_host_id=host.id,
                                           name=NAME, issuer="lets-encrypt")
    action = await remote.operate(client, f"/ssl-certificates/{cert.id}/deploy",
                                  expect="failed")
    logs = await remote.logs(client, action)
    assert "certbot could not obtain a certificate for secure.example.com" in logs
    config = nginx.available(host.id).read_text()
    assert "ssl_certificate" not in config and "/.well-known/acme-challenge/" in config
    assert "certbot-renew" not in remote.sh("crontab -l", check=False).stdout
    await db.refresh(cert)
    assert cert.active is False and cert.expires_at is None
