"""roles/list-roles: every role of the organization, and what each allows."""

from __future__ import annotations

from tests.guides.conftest import Guide


def test_list_roles(guide: Guide) -> None:
    org = guide.organization()
    reader = guide.role(org.id, ["environment:read"])
    deployer = guide.role(org.id, ["environment:read", "application:read", "application:deploy"])

    listed = guide.c.roles.list_organization_roles(org.id, per_page=100)
    assert listed.status == 200
    by_id = {r.id: r for r in listed.data}
    assert {reader.id, deployer.id} <= set(by_id)
    assert by_id[deployer.id].permissions
    # Select a role to inspect details.
    assert guide.c.roles.get_role(reader.id).data.name == reader.name
