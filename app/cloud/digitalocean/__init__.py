"""DigitalOcean droplets and VPCs through its REST API (v2) with httpx.

Choices a user can rely on:
- The OS version maps to DigitalOcean's public image slug (`ubuntu_24_04` ->
  `ubuntu-24-04-x64`).
- The SSH key is uploaded to the account (`/account/keys`) or, when a key with the same
  fingerprint is already there, reused. Keys we upload are named `devopness-...`; every
  droplet created with such a key carries the tag `devopness-ssh-key:<id>`, and destroying
  the last droplet with that tag deletes the key. Keys the user uploaded are never deleted.
- A droplet's disk is fixed by its size. When `storage_size_gb` is larger than that disk,
  a block storage volume of `storage_size_gb` GB (ext4) is created in the same region and
  attached at creation, which DigitalOcean mounts at `/mnt/<volume name>`. Volumes outlive
  the droplet unless it is destroyed with `destroy_disks`.
- DigitalOcean VPCs have no subnets: `create_subnet` refuses, `delete_subnet` has nothing
  to delete.
- A creation that fails part-way deletes the volume and key it made; one cancelled by the
  caller runs to its end and is then destroyed (`create_or_undo`).

Layout: `client` (what the capabilities share), `compute`, `networks`, `catalogue`;
this package re-exports the names other code imports.
"""

from __future__ import annotations

from app.cloud.digitalocean.catalogue import DigitalOceanCatalogue
from app.cloud.digitalocean.compute import DigitalOceanCompute
from app.cloud.digitalocean.networks import DigitalOceanNetworks
from app.cloud.shared import key_fingerprint

__all__ = [
    "DigitalOceanCatalogue",
    "DigitalOceanCompute",
    "DigitalOceanNetworks",
    "key_fingerprint",
]
