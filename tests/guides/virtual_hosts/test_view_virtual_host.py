"""virtual-hosts/view-virtual-host: one virtual host's details."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_view_virtual_host(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    host = guide.c.virtual_hosts.add_environment_virtual_host(where.env.id, {
        "type": "name-based", "name": "api.my-product.example",
        "application_id": application.id, "root_directory": "public",
    }).data

    opened = guide.c.virtual_hosts.get_virtual_host(host.id).data
    assert (opened.id, opened.name, opened.type) == (
        host.id, "api.my-product.example", "name-based")
    assert opened.application is not None and opened.application.id == application.id
    assert opened.root_directory == "public"
    assert opened.ssl_certificate is None
