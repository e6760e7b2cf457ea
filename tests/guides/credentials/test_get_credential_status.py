"""credentials/get-credential-status: ask the provider; the credential's status is shown.

The guide waits for a credential:get-status action and reads its log; this server answers
the check at once and stores the outcome on the credential (see README).
"""

from __future__ import annotations

import pytest
from devopness.core.api_error import DevopnessApiError

from tests import standins
from tests.guides.conftest import Guide


def test_get_credential_status(guide: Guide) -> None:
    where = guide.workspace()
    good = guide.credential(where, "digitalocean", "cloud_provider",
                            {"api_token": standins.DIGITALOCEAN_TOKEN})
    bad = guide.credential(where, "digitalocean", "cloud_provider",
                           {"api_token": "revoked-token-0001"})

    assert guide.c.credentials.get_status_credential(good.id).status == 204
    assert guide.http.get(f"/credentials/{good.id}").json()["status"] == "valid"
    with pytest.raises(DevopnessApiError) as rejected:
        guide.c.credentials.get_status_credential(bad.id)
    assert rejected.value.status_code == 422
    assert guide.http.get(f"/credentials/{bad.id}").json()["status"] == "invalid"
