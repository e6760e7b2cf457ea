"""ssh-keys/remove-ssh-key: the key is gone from the list."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_remove_ssh_key(guide: Guide) -> None:
    where = guide.workspace()
    keep = guide.c.ssh_keys.add_environment_ssh_key(
        where.env.id, {"name": "keep", "public_key": ssh_keypair()[0]}
    ).data
    old = guide.c.ssh_keys.add_environment_ssh_key(
        where.env.id, {"name": "old", "public_key": ssh_keypair()[0]}
    ).data

    removed = guide.c.ssh_keys.delete_ssh_key(old.id)
    assert removed.status in (202, 204)

    assert [k.id for k in guide.c.ssh_keys.list_environment_ssh_keys(where.env.id).data] == [
        keep.id
    ]
