"""ssh-keys/list-ssh-keys: the keys added to one environment."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.resource_factories import ssh_keypair


def test_list_ssh_keys(guide: Guide) -> None:
    where = guide.workspace()
    # No keys yet: an empty list, and the guide points to adding the first one.
    assert guide.c.ssh_keys.list_environment_ssh_keys(where.env.id).data == []
    laptop = guide.c.ssh_keys.add_environment_ssh_key(
        where.env.id, {"name": "laptop", "public_key": ssh_keypair()[0]}
    ).data
    desk = guide.c.ssh_keys.add_environment_ssh_key(
        where.env.id, {"name": "desk", "public_key": ssh_keypair()[0]}
    ).data
    guide.c.ssh_keys.add_environment_ssh_key(
        guide.environment(where.project.id).id, {"name": "other", "public_key": ssh_keypair()[0]}
    )

    listed = guide.c.ssh_keys.list_environment_ssh_keys(where.env.id)
    assert listed.status == 200
    assert sorted((k.id, k.name) for k in listed.data) == sorted(
        [(laptop.id, "laptop"), (desk.id, "desk")]
    )
