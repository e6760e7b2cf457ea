"""virtual-hosts/add-virtual-host: a name-based virtual host for a deployed application;
it is in the list, and after a deployment (pipelines/run-pipeline) the machine's nginx
serves the application on that name.

The ip-based kind (the server's address as the name) is followed end to end by the deploy
journey (tests/e2e/test_journey_deploy.py): here one nginx serves every guide's sites,
and a site bound to 127.0.0.1 would take all of their requests."""

from __future__ import annotations

from tests.guides.app_fixtures import Site
from tests.guides.conftest import unique


def test_add_virtual_host(site: Site) -> None:
    c = site.guide.c
    domain = f"{unique('www')}.my-product.example"
    site.repo.commit({"public/index.html": f"<h1>{domain}</h1>\n"}, domain)
    application = site.application()
    site.finished(c.applications.add_application_deployment(
        application.id, {"type": "deploy"}).action_id)
    assert site.fetch(domain)[0] == 404  # nginx's catch-all: no site claims the name yet

    created = c.virtual_hosts.add_environment_virtual_host(site.where.env.id, {
        "type": "name-based", "name": domain, "application_id": application.id,
        "root_directory": "public",
    })
    assert created.status == 201
    host = created.data
    # In the Virtual hosts list, the virtual host just created.
    listed = c.virtual_hosts.list_environment_virtual_hosts(site.where.env.id).data
    assert (host.id, domain, "name-based") in [(v.id, v.name, v.type) for v in listed]

    # A new deployment is required for the change to take effect.
    site.finished(c.virtual_hosts.deploy_virtual_host(
        host.id, {"servers": [site.server.id]}).action_id)
    assert site.fetch(domain) == (200, f"<h1>{domain}</h1>\n")
