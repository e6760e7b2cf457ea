"""Hetzner Cloud servers and networks through the official `hcloud` library.

`hcloud` is synchronous (requests): every call runs in a worker thread with its own
client, pointed at `settings.hetzner_api_url`.

Choices a user can rely on:
- The OS version maps to Hetzner's system image name (`ubuntu_24_04` -> `ubuntu-24.04`);
  Hetzner resolves it for the server type's architecture (x86 or Arm).
- The SSH key is created in the project or, when one with the same fingerprint exists,
  reused. Keys we create are named `devopness-...`; servers created with such a key carry
  the label `devopness-ssh-key=<id>`, and destroying the last one deletes the key. Keys the
  user created are never deleted.
- A server type's disk is fixed. When `storage_size_gb` is larger, a volume of
  `storage_size_gb` GB (ext4) is created in the location and attached at creation with
  automount (Hetzner mounts it at `/mnt/HC_Volume_<id>`). Volumes outlive the server
  unless it is destroyed with `destroy_disks`.
- Networks are global; subnets are identified by their IP range (Hetzner gives them no
  id) and live in a network zone derived from the region (fsn1/nbg1/hel1 -> eu-central,
  ash -> us-east, hil -> us-west, sin -> ap-southeast). A server given a network joins it
  with an address from the subnet of its location's zone; given a subnet too, it is
  attached to that subnet explicitly when the zone has several.

Layout: `client` (what the capabilities share), `compute`, `networks`, `catalogue`;
this package re-exports the names other code imports.
"""

from __future__ import annotations

from app.cloud.hetzner.catalogue import HetznerCatalogue
from app.cloud.hetzner.client import image_name, network_zone
from app.cloud.hetzner.compute import HetznerCompute
from app.cloud.hetzner.networks import HetznerNetworks

__all__ = ["HetznerCatalogue", "HetznerCompute", "HetznerNetworks", "image_name", "network_zone"]
