"""credentials/remove-credential: gone from the list; refused while a resource uses it."""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests import standins
from tests.guides.conftest import CREDENTIAL_IN_USE, Guide


@pytest.mark.xfail(strict=True, reason=CREDENTIAL_IN_USE)
def test_remove_credential(guide: Guide) -> None:
    where = guide.workspace()
    unused = guide.credential(where, "hetzner", "cloud_provider",
                              {"api_token": standins.HETZNER_TOKEN})
    in_use = guide.github_credential(where.org.id, where.env.id)
    guide.application(where, in_use)

    removed = guide.c.credentials.delete_credential(unused.id)
    assert removed.status == 204
    listed = [c.id for c in guide.c.credentials.list_environment_credentials(where.env.id).data]
    assert unused.id not in listed

    # Cannot be done while an environment resource uses it.
    with pytest.raises(DevopnessApiError) as refused:
        guide.c.credentials.delete_credential(in_use.id)
    assert refused.value.status_code in (409, 422)
    assert in_use.id in [
        c.id for c in guide.c.credentials.list_environment_credentials(where.env.id).data
    ]
