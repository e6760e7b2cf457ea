"""AWS EC2 through boto3: instances (`AwsCompute`), VPCs with subnets (`AwsNetworks`) and
what an account can order (`AwsCatalogue`).

Ids. The interface passes only an id to get/start/stop/destroy (and to get/delete a
network), but every EC2 id lives in one region. So the ids this module returns carry it:
`us-east-1/i-0abc...`, `us-east-1/vpc-...`, `us-east-1/subnet-...`; `Instance.extra` and
`NetworkRef.extra` also hold `region` and the bare `aws_id`. A bare id (`i-0abc...`) is
accepted too: it is looked up in the default region first, then in every enabled region.

What an instance brings along, created per server and deleted with it (or when creation
fails part-way): an EC2 key pair holding the environment's public key
(`devopness-<name>-<random>`) and a security group (same name) that lets SSH (22/tcp) in
from anywhere. The instance is tagged with both (`devopness:key-pair`,
`devopness:security-group`) so `destroy_instance`, given only the id, deletes exactly what
was made for it and nothing a user added.

SSH user. Canonical's Ubuntu AMIs authorise the key pair for `ubuntu` only and, through
cloud-init's `disable_root`, make root's copy print "Please login as ubuntu". So the
instance always gets a cloud-config (user data) carrying the key as well:
- ssh_user "ubuntu": `ssh_authorized_keys` (the same key as the key pair);
- ssh_user "root" (the default): also `disable_root: false`, so cloud-init installs the key
  for root without that guard (Ubuntu's sshd lets root in by key);
- any other user: `users` creates it, with passwordless sudo and the key.
EC2 imports RSA and ed25519 keys only: for another type (ECDSA) no key pair is made and
the cloud-config alone authorises the key.

Layout: `client` (what the capabilities share), `compute` (with `images`), `networks`,
`catalogue`;
this package re-exports the names other code imports.
"""

from __future__ import annotations

from app.cloud.aws.catalogue import AwsCatalogue
from app.cloud.aws.client import CANONICAL_OWNER, KEY_PAIR_TAG, SECURITY_GROUP_TAG
from app.cloud.aws.client import _translate as _translate  # tests read its translations
from app.cloud.aws.compute import AwsCompute
from app.cloud.aws.networks import AwsNetworks

__all__ = [
    "CANONICAL_OWNER",
    "KEY_PAIR_TAG",
    "SECURITY_GROUP_TAG",
    "AwsCatalogue",
    "AwsCompute",
    "AwsNetworks",
]
