"""organizations/edit-organization: a new name; projects stay where they were."""

from __future__ import annotations

from tests.guides.conftest import Guide, unique


def test_edit_organization(guide: Guide) -> None:
    org = guide.organization()
    project = guide.project(org.id)
    new_name = unique("acme-platform")

    # The reference requires url_slug in OrganizationUpdate; the form shows the current one.
    updated = guide.c.organizations.update_organization(
        org.id, {"id": org.id, "name": new_name, "url_slug": org.url_slug}
    )
    assert updated.status == 204

    shown = guide.c.organizations.get_organization(org.id).data
    assert shown.name == new_name
    # Existing projects stay in the same organization.
    projects = guide.c.projects.list_projects().data
    assert any(p.id == project.id and p.organization.id == org.id for p in projects)
