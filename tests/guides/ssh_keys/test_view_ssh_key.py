"""ssh-keys/view-ssh-key: name, fingerprint, when it was added."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_view_ssh_key(guide: Guide) -> None:
    where = guide.workspace()
    added = guide.c.ssh_keys.add_environment_ssh_key(
        where.env.id, {"name": "laptop", "public_key": ssh_keypair()[0]}
    ).data

    shown = guide.c.ssh_keys.get_ssh_key(added.id)
    assert shown.status == 200
    key = shown.data
    assert (key.name, key.fingerprint) == ("laptop", added.fingerprint)
    assert key.created_at is not None
    # Which servers the key has access to.
    assert key.servers == []
