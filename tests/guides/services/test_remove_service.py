"""services/remove-service: the service's details view, REMOVE, REMOVE SERVICE; it is gone
from the list of services."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_remove_service(guide: Guide) -> None:
    where = guide.workspace()
    kept = guide.c.services.add_environment_service(
        where.env.id, {"type": "redis", "version": "7"}).data
    service = guide.c.services.add_environment_service(
        where.env.id, {"type": "nginx", "version": "latest"}).data

    assert guide.c.services.delete_service(service.id).status == 204
    listed = guide.c.services.list_environment_services(where.env.id).data
    assert [s.id for s in listed] == [kept.id]
    with pytest.raises(DevopnessApiError) as gone:
        guide.c.services.get_service(service.id)
    assert gone.value.status_code == 404
