"""credentials/add-gcp-credential: the service account's JSON key, pasted whole.

The console steps (APIs enabled, roles granted) happen at Google Cloud; the stand-in
verifies the key's signed assertion as Google's token endpoint does.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests import standins
from tests.guides.conftest import Guide
from tests.guides.credentials.cloud import add_and_check


def test_add_gcp_credential(
    guide: Guide, google: standins.GoogleStandIn, standin_url: str
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "guides-compute@guides-project.iam.gserviceaccount.com"
    google.public_keys[email] = private.public_key()
    # The downloaded JSON file's content, as Google writes it.
    key_file = json.dumps({
        "type": "service_account", "project_id": "guides-project", "client_email": email,
        "private_key": private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "token_uri": f"{standin_url}/gcp/token",
    })
    stored = add_and_check(guide, "gcp", {"service_account_key": key_file})
    assert stored["status"] == "valid"
