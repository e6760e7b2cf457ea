"""ssl-certificates/add-ssl-certificate: a Let's Encrypt certificate for a deployed
virtual host, named after it; once deployed (pipelines/run-pipeline) it is issued over
HTTP-01 by a loopback ACME CA (Pebble, tests/remote/acme.py) and nginx serves the site
over HTTPS with it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from cryptography import x509

from tests.guides.app_fixtures import Site, store_operator_settings
from tests.guides.conftest import unique
from tests.remote import acme

pytestmark = pytest.mark.skipif(
    not acme.available() or shutil.which("certbot") is None,
    reason="needs the Debian packages pebble and certbot")


@pytest.fixture(scope="module")
def ca(site: Site) -> Iterator[acme.AcmeServer]:
    """The CA certbot asks on the machine: where an operator points the server (its
    variables), validating challenges on the machine's nginx."""
    with acme.pebble(site.nginx.http_port) as server:
        store_operator_settings(site.guide.server, site.server.id, {
            "DEVOPNESS_ACME_DIRECTORY": server.directory,
            "REQUESTS_CA_BUNDLE": str(server.ca_bundle),
        })
        yield server


def test_add_ssl_certificate(site: Site, ca: acme.AcmeServer) -> None:
    c = site.guide.c
    domain = f"{unique('secure')}.my-product.example"
    site.repo.commit({"public/index.html": f"<h1>{domain}</h1>\n"}, domain)
    application = site.application()
    site.finished(c.applications.add_application_deployment(
        application.id, {"type": "deploy"}).action_id)
    host = c.virtual_hosts.add_environment_virtual_host(site.where.env.id, {
        "type": "name-based", "name": domain, "application_id": application.id,
        "root_directory": "public",
    }).data
    site.finished(c.virtual_hosts.deploy_virtual_host(
        host.id, {"servers": [site.server.id]}).action_id)

    # Choose the virtual host; the certificate is named after it.
    created = c.ssl_certificates.add_environment_ssl_certificate(site.where.env.id, {
        "virtual_host_id": host.id, "issuer": "lets-encrypt",
    })
    assert created.status == 201
    certificate = created.data
    assert certificate.name == domain
    # In the SSL Certificates list, the certificate just created.
    listed = c.ssl_certificates.list_environment_ssl_certificates(site.where.env.id).data
    assert (certificate.id, domain) in [(s.id, s.name) for s in listed]

    # Deployed: issued for the name, and the site is served over HTTPS with it.
    site.finished(c.ssl_certificates.deploy_ssl_certificate(
        certificate.id, {"servers": [site.server.id]}).action_id)
    issued = x509.load_pem_x509_certificate(
        (site.nginx.certbot_dir / "live" / f"devopness-{certificate.id}" / "cert.pem")
        .read_bytes())
    names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [domain]
    port = site.nginx.https_port
    page = site.machine.sh(
        f"curl -sS -m 10 -k --resolve {domain}:{port}:127.0.0.1 https://{domain}:{port}/"
    ).stdout
    assert page == f"<h1>{domain}</h1>\n"
    opened = c.ssl_certificates.get_ssl_certificate(certificate.id).data
    assert opened.active is True
    assert opened.expires_at is not None
