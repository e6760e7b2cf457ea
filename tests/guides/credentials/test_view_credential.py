"""credentials/view-credential: name, provider, type, created and updated, by whom."""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide


def test_view_credential(guide: Guide) -> None:
    where = guide.workspace()
    credential = guide.credential(where, "digitalocean", "cloud_provider",
                                  {"api_token": standins.DIGITALOCEAN_TOKEN})

    shown = guide.c.credentials.get_credential(credential.id)
    assert shown.status == 200
    data = shown.data
    assert (data.name, data.provider.code, data.provider_type) == (
        credential.name, "digitalocean", "cloud_provider"
    )
    assert data.created_at and data.updated_at
    assert data.created_by_user.id == guide.c.users.get_user_me().data.id
