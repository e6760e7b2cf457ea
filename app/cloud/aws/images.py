"""Which Ubuntu AMI an EC2 instance starts from: the instance type's architecture and
Canonical's newest server image for the release in the region."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from app.cloud.aws.client import CANONICAL_OWNER, UBUNTU_RELEASES, _aws_message, _code
from app.cloud.base import CloudError


def instance_architecture(ec2: Any, instance_type: str) -> str:
    try:
        answer = ec2.describe_instance_types(InstanceTypes=[instance_type])
    except ClientError as exc:
        if _code(exc) in ("InvalidInstanceType", "InvalidParameterValue"):
            raise CloudError(
                f"{instance_type!r} is not an EC2 instance type offered here: "
                f"{_aws_message(exc)}"
            ) from exc
        raise
    types = answer.get("InstanceTypes", [])
    supported = types[0]["ProcessorInfo"]["SupportedArchitectures"] if types else []
    # Graviton types (t4g, m7g...) run arm64 only; everything else gets x86_64.
    return "arm64" if "arm64" in supported and "x86_64" not in supported else "x86_64"


def find_image(ec2: Any, os_version_code: str, architecture: str) -> dict[str, Any]:
    """Canonical's newest Ubuntu server AMI for the release and architecture
    (EBS-backed, HVM; `hvm-ssd` or `hvm-ssd-gp3` in the name)."""
    if os_version_code not in UBUNTU_RELEASES:
        offered = ", ".join(UBUNTU_RELEASES)
        raise CloudError(f"{os_version_code!r} is not offered on AWS (offered: {offered}).")
    codename, version = UBUNTU_RELEASES[os_version_code]
    arch = "amd64" if architecture == "x86_64" else architecture
    pattern = f"ubuntu/images/*/ubuntu-{codename}-{version}-{arch}-server-*"
    images = ec2.describe_images(
        Owners=[CANONICAL_OWNER],
        Filters=[
            {"Name": "name", "Values": [pattern]},
            {"Name": "architecture", "Values": [architecture]},
            {"Name": "state", "Values": ["available"]},
            {"Name": "root-device-type", "Values": ["ebs"]},
            {"Name": "virtualization-type", "Values": ["hvm"]},
        ],
    ).get("Images", [])
    if not images:
        raise CloudError(
            f"No Ubuntu {version} ({architecture}) image from Canonical in this region."
        )
    # ISO-8601 dates sort as text; the name's build date breaks ties.
    newest: dict[str, Any] = max(
        images, key=lambda i: (i.get("CreationDate") or "", i.get("Name") or "")
    )
    return newest
