"""ssh-keys/add-ssh-key: a name and the pasted public key, in an environment."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_add_ssh_key(guide: Guide) -> None:
    where = guide.workspace()
    public, _ = ssh_keypair()
    added = guide.c.ssh_keys.add_environment_ssh_key(
        where.env.id, {"name": "Company Laptop", "public_key": public}
    )
    assert added.status == 201
    key = added.data
    assert (key.name, key.environment_id) == ("Company Laptop", where.env.id)
    assert key.fingerprint
    listed = guide.c.ssh_keys.list_environment_ssh_keys(where.env.id).data
    assert [k.id for k in listed] == [key.id]
