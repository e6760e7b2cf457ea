"""credentials/add-hetzner-credential: a Read & Write API token.

The console steps happen at Hetzner; the stand-in accepts the token.
"""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide
from tests.guides.credentials.cloud import add_and_check


def test_add_hetzner_credential(guide: Guide) -> None:
    stored = add_and_check(guide, "hetzner", {"api_token": standins.HETZNER_TOKEN})
    assert stored["status"] == "valid"
