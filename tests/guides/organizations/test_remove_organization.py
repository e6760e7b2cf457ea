"""organizations/remove-organization: gone from the list, for good."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_remove_organization(guide: Guide) -> None:
    org = guide.organization()
    removed = guide.c.organizations.delete_organization(org.id)
    assert removed.status == 204

    listed = guide.c.organizations.list_organizations(per_page=100).data
    assert org.id not in [o.id for o in listed]
    with pytest.raises(DevopnessApiError) as gone:
        guide.c.organizations.get_organization(org.id)
    assert gone.value.status_code == 404
