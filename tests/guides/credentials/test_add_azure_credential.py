"""credentials/add-azure-credential: client id, tenant id, client secret, subscription id.

The portal steps happen at Azure; the stand-in accepts the values they produce.
"""

from __future__ import annotations

from tests import standins
from tests.guides.conftest import Guide
from tests.guides.credentials.cloud import add_and_check


def test_add_azure_credential(guide: Guide) -> None:
    stored = add_and_check(guide, "azure", dict(standins.AZURE))
    assert stored["status"] == "valid"
