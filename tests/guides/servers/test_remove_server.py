"""servers/remove-server: the overview; the steps depend on where the server is
(remove-selfhosted-server, delete-cloudprovider-server). Followed for the simplest case: a
self-hosted server that was never connected goes at once."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests.guides.conftest import Guide


def test_remove_server(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    assert guide.c.servers.delete_server(server.id).status == 204
    with pytest.raises(DevopnessApiError) as gone:
        guide.c.servers.get_server(server.id)
    assert gone.value.status_code == 404
