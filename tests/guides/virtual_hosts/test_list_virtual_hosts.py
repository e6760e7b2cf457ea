"""virtual-hosts/list-virtual-hosts: the virtual hosts of the selected environment."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_virtual_hosts(guide: Guide) -> None:
    where = guide.workspace()
    application = guide.application(where)
    by_name = guide.c.virtual_hosts.add_environment_virtual_host(where.env.id, {
        "type": "name-based", "name": "app.my-product.example",
        "application_id": application.id,
    }).data
    by_ip = guide.c.virtual_hosts.add_environment_virtual_host(where.env.id, {
        "type": "ip-based", "name": "203.0.113.10",
        "root_directory": "/var/www/html",
    }).data
    elsewhere = guide.workspace()
    guide.c.virtual_hosts.add_environment_virtual_host(elsewhere.env.id, {
        "type": "name-based", "name": "other.my-product.example",
        "root_directory": "/var/www/html",
    })

    listed = guide.c.virtual_hosts.list_environment_virtual_hosts(where.env.id).data
    assert sorted((v.id, v.name, v.type) for v in listed) == sorted([
        (by_name.id, "app.my-product.example", "name-based"),
        (by_ip.id, "203.0.113.10", "ip-based"),
    ])
