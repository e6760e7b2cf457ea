"""credentials/add-aws-credential: an IAM user's access key id and secret access key.

The IAM console steps happen at AWS; moto stands in for the account they create.
"""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.credentials.cloud import add_and_check


def test_add_aws_credential(guide: Guide) -> None:
    stored = add_and_check(guide, "aws", {
        "access_key_id": "AKIAIOSFODNN7GUIDES1",
        "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYGUIDESKEY",
    })
    assert stored["status"] == "valid"
