"""ssh-keys/create-ssh-key-pair: ssh-keygen on your machine, then add the public key."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.guides.conftest import Guide


def test_create_ssh_key_pair(guide: Guide, tmp_path: Path) -> None:
    key = tmp_path / "id_rsa"
    subprocess.run(
        ["ssh-keygen", "-t", "rsa", "-b", "4096", "-C", "me@guides.example", "-N", "",
         "-f", str(key), "-q"],
        check=True,
    )
    # Two new files: the private key and the public key.
    assert key.is_file() and key.with_suffix(".pub").is_file()
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(key.with_suffix(".pub"))],
        check=True, capture_output=True, text=True,
    ).stdout.split()[1].removeprefix("MD5:")

    where = guide.workspace()
    added = guide.c.ssh_keys.add_environment_ssh_key(where.env.id, {
        "name": "Company Laptop", "public_key": key.with_suffix(".pub").read_text(),
    })
    assert added.status == 201
    assert added.data.fingerprint == fingerprint
