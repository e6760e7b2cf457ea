"""credentials/add-digitalocean-credential: a write-scoped token, prefixed dop_v1_.

The control panel steps happen at DigitalOcean; the stand-in accepts the token.
"""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide
from tests.guides.credentials.cloud import add_and_check


def test_add_digitalocean_credential(guide: Guide) -> None:
    assert standins.DIGITALOCEAN_TOKEN.startswith("dop_v1_")
    stored = add_and_check(guide, "digitalocean", {"api_token": standins.DIGITALOCEAN_TOKEN})
    assert stored["status"] == "valid"
