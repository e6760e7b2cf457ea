"""credentials/edit-credential: new name and keys (rotation); the details show them."""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide


def test_edit_credential(guide: Guide) -> None:
    where = guide.workspace()
    credential = guide.credential(where, "hetzner", "cloud_provider",
                                  {"api_token": "revoked-token-0001"})

    edited = guide.c.credentials.update_credential(credential.id, {
        "id": credential.id, "name": "hetzner rotated",
        "settings": {"credential": {"api_token": standins.HETZNER_TOKEN}},
    })
    assert edited.status == 204

    shown = guide.c.credentials.get_credential(credential.id).data
    assert shown.name == "hetzner rotated"
    # The rotated key is the one in use.
    assert guide.c.credentials.get_status_credential(credential.id).status == 204
