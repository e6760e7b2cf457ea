"""Following a cloud provider's credential guide: its console steps end with values to copy,
which are added to Devopness (credentials/add-credential) and checked with get-status.

The console steps themselves happen at the provider and cannot be followed here; what the
user copies is stood in by the provider stand-ins (tests/standins.py) and moto for AWS.
"""

from __future__ import annotations

from typing import Any

from tests.guides.conftest import Guide


def add_and_check(guide: Guide, provider_code: str, values: dict[str, str]) -> Any:
    where = guide.workspace()
    credential = guide.credential(where, provider_code, "cloud_provider", values)
    assert credential.provider.code == provider_code
    # Nothing the user pasted comes back.
    shown = guide.c.credentials.get_credential(credential.id).data
    for secret in values.values():
        assert secret not in str(shown.to_dict())
    assert guide.c.credentials.get_status_credential(credential.id).status == 204
    listed = guide.c.credentials.list_environment_credentials(where.env.id).data
    assert [c.id for c in listed] == [credential.id]
    return guide.http.get(f"/credentials/{credential.id}").json()
