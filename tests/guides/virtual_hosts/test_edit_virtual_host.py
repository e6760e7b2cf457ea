"""virtual-hosts/edit-virtual-host: change what a deployed virtual host serves (its root
directory); after a new deployment nginx serves the change."""

from __future__ import annotations

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_edit_virtual_host(site: Site) -> None:
    c = site.guide.c
    site.repo.commit({"docs/index.html": "<h1>the docs</h1>\n"}, "docs")
    application = site.application()
    site.finished(c.applications.add_application_deployment(
        application.id, {"type": "deploy"}).action_id)
    domain = f"{unique('demo')}.my-product.example"
    host = c.virtual_hosts.add_environment_virtual_host(site.where.env.id, {
        "type": "name-based", "name": domain, "application_id": application.id,
        "root_directory": "public",
    }).data
    site.finished(c.virtual_hosts.deploy_virtual_host(
        host.id, {"servers": [site.server.id]}).action_id)
    assert site.fetch(domain)[0] == 200

    updated = c.virtual_hosts.update_virtual_host(host.id, {
        "id": host.id, "name": domain, "root_directory": "docs",
    })
    assert updated.status in (200, 204)
    assert c.virtual_hosts.get_virtual_host(host.id).data.root_directory == "docs"

    # A new deployment is required for the change to take effect.
    site.finished(c.virtual_hosts.deploy_virtual_host(
        host.id, {"servers": [site.server.id]}).action_id)
    assert site.fetch(domain) == (200, "<h1>the docs</h1>\n")
