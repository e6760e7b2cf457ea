"""ssl-certificates/list-ssl-certificates: the certificates of the selected environment.

The guide's filters (status, name or domain) and sorting are not in the reference's
listEnvironmentSslCertificates, which takes only a page: not followed."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_ssl_certificates(guide: Guide) -> None:
    where = guide.workspace()
    names = ["shop.my-product.example", "api.my-product.example"]
    certificates = []
    for name in names:
        host = guide.c.virtual_hosts.add_environment_virtual_host(where.env.id, {
            "type": "name-based", "name": name, "root_directory": "/var/www/html",
        }).data
        certificates.append(guide.c.ssl_certificates.add_environment_ssl_certificate(
            where.env.id, {"virtual_host_id": host.id, "issuer": "lets-encrypt"}).data)

    # All the certificates of the selected environment ...
    listed = guide.c.ssl_certificates.list_environment_ssl_certificates(where.env.id).data
    assert sorted((s.id, s.name) for s in listed) == sorted(
        (c.id, n) for c, n in zip(certificates, names, strict=True))
    # ... each of which opens in its details.
    opened = guide.c.ssl_certificates.get_ssl_certificate(listed[0].id).data
    assert opened.name == listed[0].name
