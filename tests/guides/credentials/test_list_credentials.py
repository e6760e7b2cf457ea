"""credentials/list-credentials: name, provider service and provider type."""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide


def test_list_credentials(guide: Guide) -> None:
    where = guide.workspace()
    github = guide.credential(where, "github", "source_provider", {
        "auth_type": "api_credentials", "access_token": standins.GITHUB_TOKEN,
    })
    hetzner = guide.credential(where, "hetzner", "cloud_provider",
                               {"api_token": standins.HETZNER_TOKEN})

    listed = guide.c.credentials.list_environment_credentials(where.env.id)
    assert listed.status == 200
    assert sorted((c.name, c.provider.code, c.provider_type) for c in listed.data) == sorted([
        (github.name, "github", "source_provider"), (hetzner.name, "hetzner", "cloud_provider"),
    ])
