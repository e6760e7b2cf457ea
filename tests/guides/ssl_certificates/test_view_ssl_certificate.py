"""ssl-certificates/view-ssl-certificate: one certificate's details."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_view_ssl_certificate(guide: Guide) -> None:
    where = guide.workspace()
    host = guide.c.virtual_hosts.add_environment_virtual_host(where.env.id, {
        "type": "name-based", "name": "secure.my-product.example",
        "root_directory": "/var/www/html",
    }).data
    certificate = guide.c.ssl_certificates.add_environment_ssl_certificate(
        where.env.id, {"virtual_host_id": host.id, "issuer": "lets-encrypt"}).data

    opened = guide.c.ssl_certificates.get_ssl_certificate(certificate.id).data
    assert (opened.id, opened.name, opened.issuer) == (
        certificate.id, "secure.my-product.example", "lets-encrypt")
    # Not issued yet: not active, no expiry (a deploy issues it: add-ssl-certificate).
    assert (opened.active, opened.expires_at) == (False, None)
    # The virtual host shows its certificate.
    shown = guide.c.virtual_hosts.get_virtual_host(host.id).data.ssl_certificate
    assert shown is not None and shown.id == certificate.id
