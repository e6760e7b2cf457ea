"""applications/link-server-to-application: link a server to an application; it is in the
application's server list and the next deploy goes to it."""

from __future__ import annotations

from tests.guides.app_fixtures import Site


def test_link_server_to_application(site: Site) -> None:
    c = site.guide.c
    application = site.application()
    assert application.servers == []

    linked = c.resource_links.link_resource_link_to_resource_link(
        site.server.id, "server", application.id, "application")
    assert linked.status == 204

    # The linked server appears in the application's server list (after a refresh too).
    opened = c.applications.get_application(application.id).data
    assert [s.id for s in opened.servers] == [site.server.id]
    links = c.resource_links.list_resource_links_by_resource_type(
        application.id, "application").data
    assert [(x.resource_type, x.resource_id) for x in links] == [("server", site.server.id)]

    # A deploy uses the servers you expect.
    started = c.applications.add_application_deployment(application.id, {"type": "deploy"})
    action = site.finished(started.action_id)
    assert [t.resource_id for t in action.targets] == [site.server.id]
    assert (site.machine.home / application.name / "current").is_symlink()
