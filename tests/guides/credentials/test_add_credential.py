"""credentials/add-credential: ADD CREDENTIAL in an environment; its details show it."""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide


def test_add_credential(guide: Guide) -> None:
    where = guide.workspace()
    # A source provider credential for a shared automation account (GitHub).
    credential = guide.credential(where, "github", "source_provider", {
        "auth_type": "api_credentials", "access_token": standins.GITHUB_TOKEN,
    }, name="devopness-acme")

    shown = guide.c.credentials.get_credential(credential.id)
    assert shown.status == 200
    assert (shown.data.name, shown.data.provider.code, shown.data.provider_type) == (
        "devopness-acme", "github", "source_provider"
    )
    assert [c.id for c in guide.c.credentials.list_environment_credentials(where.env.id).data] \
        == [credential.id]
    # Cloud credentials: as many as needed, side by side.
    aws = guide.credential(where, "aws", "cloud_provider", {
        "access_key_id": "AKIAIOSFODNN7GUIDES2", "secret_access_key": "x" * 40,
    })
    listed = guide.c.credentials.list_environment_credentials(where.env.id).data
    assert sorted(c.id for c in listed) == sorted([credential.id, aws.id])
