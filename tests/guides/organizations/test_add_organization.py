"""organizations/add-organization: a name is all it takes; the slug comes from it."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide, slug_of, unique


def test_add_organization(guide: Guide) -> None:
    name = unique("Acme Platform")
    created = guide.c.organizations.add_organization({"name": name})
    assert created.status == 201
    org = created.data
    # "This becomes part of your URL slug, like /@acme."
    assert org.name == name
    assert org.url_slug == slug_of(name)

    # After you save: the organization appears in your organization list ...
    listed = guide.c.organizations.list_organizations(per_page=100).data
    assert org.id in [o.id for o in listed]
    # ... and you can open it and add projects in it.
    assert guide.c.organizations.get_organization(org.id).data.name == name
    project = guide.c.projects.add_organization_project(org.id, {"name": "first"}).data
    assert project.organization.id == org.id

    # Common issues: the organization name is already taken.
    with pytest.raises(DevopnessApiError) as taken:
        guide.c.organizations.add_organization({"name": name})
    assert taken.value.status_code == 422
