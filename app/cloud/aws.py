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

Catalogue (`AwsCatalogue`). Regions: EC2 DescribeRegions (the account's enabled regions),
DescribeAvailabilityZones per region (available zones of type availability-zone: local and
wavelength zones are left out), and the names from SSM's public parameters
`/aws/service/global-infrastructure/regions/<code>/longName` (GetParameters, ten at a time);
a key not allowed to read them gets the codes as names. Instance types: what each asked
region offers (DescribeInstanceTypeOfferings), the specs from DescribeInstanceTypes listed
once in the first region and, for types only other regions offer, looked up by name there.
Left out: previous generations, types not sold on demand, bare metal (`*.metal*`, sold to
run hypervisors, not an Ubuntu server) and i386-only types (no Ubuntu image). Prices: the
Price List Query API (`pricing` GetProducts, in us-east-1 unless
`aws_pricing_endpoint_url` says otherwise: not the EC2 endpoint), one paginated query per
region for on-demand Linux, shared tenancy, no pre-installed software; a type offered where
that list has no price gets None. `default_disk_size_gb` is 8: the root volume of
Canonical's Ubuntu AMIs, the smallest disk a server can be created with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.cloud.base import (
    HOURS_PER_MONTH,
    CatalogueProvider,
    CloudError,
    ComputeProvider,
    CredentialRejected,
    Instance,
    InstanceNotFound,
    InstanceSpec,
    InstanceTypeInfo,
    NetworkProvider,
    NetworkRef,
    NetworkSpec,
    Price,
    QuotaExceeded,
    RegionInfo,
    SubnetSpec,
)
from app.core.settings import Settings

__all__ = ["CANONICAL_OWNER", "AwsCatalogue", "AwsCompute", "AwsNetworks"]

logger = logging.getLogger(__name__)

CANONICAL_OWNER = "099720109477"  # the AWS account Canonical publishes Ubuntu AMIs from

# os_version_code -> (release codename, version) as in Canonical's AMI names.
UBUNTU_RELEASES: dict[str, tuple[str, str]] = {
    "ubuntu_18_04": ("bionic", "18.04"),
    "ubuntu_20_04": ("focal", "20.04"),
    "ubuntu_22_04": ("jammy", "22.04"),
    "ubuntu_24_04": ("noble", "24.04"),
    "ubuntu_26_04": ("resolute", "26.04"),
}
UBUNTU_DEFAULT_USER = "ubuntu"

SSH_PORT = 22
KEY_PAIR_TAG = "devopness:key-pair"
SECURITY_GROUP_TAG = "devopness:security-group"
MANAGED_TAG = ("managed-by", "devopness-server")

_REJECTED = {
    "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnauthorizedOperation",
    "UnrecognizedClientException", "InvalidAccessKeyId", "AccessDenied", "AccessDeniedException",
    "ExpiredToken", "RequestExpired", "MissingAuthenticationToken", "Blocked",
    "InvalidSignatureException",
}
_QUOTA = {
    "InstanceLimitExceeded", "VcpuLimitExceeded", "AddressLimitExceeded",
    "MaxSpotInstanceCountExceeded", "VolumeLimitExceeded", "ResourceLimitExceeded",
    "SecurityGroupLimitExceeded", "RulesPerSecurityGroupLimitExceeded", "VpcLimitExceeded",
    "SubnetLimitExceeded", "InternetGatewayLimitExceeded", "RouteTableLimitExceeded",
    "RouteLimitExceeded", "KeyPairLimitExceeded", "TagLimitExceeded",
}
# API throttling, not an account quota: botocore already retried it.
_NOT_QUOTA = {"RequestLimitExceeded"}
_NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}
_GONE_SUFFIXES = (".NotFound", ".Malformed")

# [region/]prefix-hex, as EC2 ids are (8 or 17 hex digits): "us-east-1/i-0abc...", "vpc-...".
_ID = re.compile(
    r"^(?:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)/)?(?P<id>[a-z]+-(?:[0-9a-f]{8}|[0-9a-f]{17}))$"
)

_STATUS = {
    "pending": "pending",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    # Termination has begun and cannot be undone; the instance still shows for a while.
    "shutting-down": "terminated",
    "terminated": "terminated",
}

T = TypeVar("T")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _aws_message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'Error')}: {error.get('Message', '') or 'no message'}"


def _translate(exc: Exception, doing: str, suffix: str = "") -> CloudError | CredentialRejected:
    """A boto error as one of ours, with AWS's own code and message for the user."""
    if isinstance(exc, ClientError):
        code = _code(exc)
        message = f"AWS refused to {doing}: {_aws_message(exc)}{suffix}"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _REJECTED or status == 401:
            return CredentialRejected(message)
        if code in _QUOTA or (code.endswith("LimitExceeded") and code not in _NOT_QUOTA):
            return QuotaExceeded(message)
        if code in _NOT_FOUND:
            return InstanceNotFound(message)
        return CloudError(message)
    if isinstance(exc, BotoCoreError):
        return CloudError(f"AWS could not be reached to {doing}: {exc}{suffix}")
    return CloudError(f"Could not {doing}: {exc}{suffix}")


def _is_gone(exc: ClientError) -> bool:
    return _code(exc).endswith(_GONE_SUFFIXES)


def _tags(pairs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def _tag_spec(resource: str, pairs: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": _tags(pairs)}]


def _tag_map(resource: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", []) or []}


def _resource_name(name: str) -> str:
    """`devopness-<name>-<random>`: unique, readable in the console, valid as a key pair
    and security group name (which must not start with `sg-`)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")[:100] or "server"
    return f"devopness-{safe}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class AwsId:
    region: str | None
    id: str

    @classmethod
    def parse(cls, value: str, what: str) -> AwsId:
        match = _ID.match(value.strip())
        if not match:
            raise CloudError(f"{value!r} is not an AWS {what} id.")
        return cls(match["region"], match["id"])


class _Aws:
    """One credential's boto3 clients, one per region, created once (clients are
    thread-safe; a boto3 session is not, so it is only used under the lock)."""

    # How long to wait for a terminated instance to release its security group.
    termination_delay_seconds: float = 5
    termination_max_attempts: int = 60
    # DependencyViolation while the instance's network interface is still being removed.
    release_retries: int = 6
    release_delay_seconds: float = 5

    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._credential = dict(credential)
        self._settings = settings
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}

    @property
    def default_region(self) -> str:
        return self._credential.get("region") or self._settings.aws_default_region

    def client(self, region: str) -> Any:
        """The EC2 client of `region`."""
        return self.service_client("ec2", region, self._settings.aws_endpoint_url)

    def service_client(self, service: str, region: str, endpoint_url: str | None) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                if self._session is None:
                    self._session = boto3.session.Session(
                        aws_access_key_id=self._credential.get("access_key_id"),
                        aws_secret_access_key=self._credential.get("secret_access_key"),
                        aws_session_token=self._credential.get("session_token") or None,
                    )
                timeout = self._settings.provider_timeout_seconds
                self._clients[key] = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=endpoint_url,
                    config=Config(
                        connect_timeout=timeout,
                        read_timeout=max(timeout, 30),
                        retries={"max_attempts": 4, "mode": "standard"},
                        user_agent_extra="devopness-server",
                    ),
                )
            return self._clients[key]

    async def _run(self, doing: str, fn: Callable[[], T]) -> T:
        """Run blocking boto3 work in a thread; only our own errors come out."""
        try:
            return await asyncio.to_thread(fn)
        except (CloudError, CredentialRejected):
            raise
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, doing) from exc

    def _regions(self) -> list[str]:
        answer = self.client(self.default_region).describe_regions()
        return [r["RegionName"] for r in answer.get("Regions", [])]

    def _locate(self, aws_id: AwsId, probe: Callable[[Any], bool]) -> str | None:
        """The region where `probe` finds the id: the id's own region, or for a bare id
        the default region first, then every other enabled one."""
        if aws_id.region:
            return aws_id.region if probe(self.client(aws_id.region)) else None
        first = self.default_region
        if probe(self.client(first)):
            return first
        for region in self._regions():
            if region != first and probe(self.client(region)):
                return region
        return None

    def _retry_dependency(self, fn: Callable[[], object]) -> None:
        """Deleting a security group or VPC fails with DependencyViolation for a while
        after what used it went away; try again a bounded number of times."""
        for attempt in range(self.release_retries + 1):
            try:
                fn()
                return
            except ClientError as exc:
                if _is_gone(exc):
                    return
                if _code(exc) != "DependencyViolation" or attempt == self.release_retries:
                    raise
            time.sleep(self.release_delay_seconds)


class AwsCompute(_Aws, ComputeProvider):
    # Inbound TCP ports of the per-server security group. The control plane needs SSH;
    # anything else is for the user to open.
    ingress_ports: tuple[int, ...] = (SSH_PORT,)

    # ---- create -------------------------------------------------------------------------

    async def create_instance(self, spec: InstanceSpec) -> Instance:
        return await self._run("create the instance", lambda: self._create(spec))

    def _create(self, spec: InstanceSpec) -> Instance:
        ec2 = self.client(spec.region)
        # Everything that can be checked is checked before anything is created.
        user_data = self.user_data(spec)
        architecture = self._architecture(ec2, spec.instance_type)
        image = self.find_image(ec2, spec.os_version_code, architecture)
        subnet_id, vpc_id = self._placement(ec2, spec)

        name = _resource_name(spec.name)
        extra_tags = {**dict(spec.tags), MANAGED_TAG[0]: MANAGED_TAG[1]}
        created: dict[str, str] = {}
        launched_note = ""
        token = str(uuid.uuid4())
        try:
            try:
                ec2.import_key_pair(
                    KeyName=name,
                    PublicKeyMaterial=spec.ssh_public_key.strip().encode(),
                    TagSpecifications=_tag_spec("key-pair", {"Name": name, **extra_tags}),
                )
                created["key_pair"] = name
            except ClientError as exc:
                # EC2 takes RSA and ed25519 keys only; the cloud-config carries any type.
                if _code(exc) not in ("InvalidKeyPair.Format", "InvalidKey.Format"):
                    raise
            group_args: dict[str, Any] = {
                "GroupName": name,
                "Description": f"devopness-server: SSH to {spec.name}"[:255],
                "TagSpecifications": _tag_spec("security-group", {"Name": name, **extra_tags}),
            }
            if vpc_id:
                group_args["VpcId"] = vpc_id
            group_id = ec2.create_security_group(**group_args)["GroupId"]
            created["security_group"] = group_id
            ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "devopness"}],
                        "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "devopness"}],
                    }
                    for port in self.ingress_ports
                ],
            )
            instance_tags = {**extra_tags, "Name": spec.name, SECURITY_GROUP_TAG: group_id}
            if "key_pair" in created:
                instance_tags[KEY_PAIR_TAG] = name
            run_args: dict[str, Any] = {
                "ImageId": image["ImageId"],
                "InstanceType": spec.instance_type,
                "MinCount": 1,
                "MaxCount": 1,
                "SecurityGroupIds": [group_id],
                "BlockDeviceMappings": [{
                    "DeviceName": image.get("RootDeviceName") or "/dev/sda1",
                    "Ebs": {
                        "VolumeSize": spec.storage_size_gb,
                        "VolumeType": "gp3",
                        "DeleteOnTermination": True,
                    },
                }],
                "TagSpecifications": [
                    *_tag_spec("instance", instance_tags),
                    *_tag_spec("volume", {**extra_tags, "Name": spec.name}),
                ],
                "UserData": user_data,
                "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
                # Makes botocore's own retries of this call idempotent: one instance at most.
                "ClientToken": token,
            }
            if "key_pair" in created:
                run_args["KeyName"] = name
            if subnet_id:
                run_args["SubnetId"] = subnet_id
            elif spec.zone:
                run_args["Placement"] = {"AvailabilityZone": spec.zone}
            try:
                answer = ec2.run_instances(**run_args)
            except ClientError:
                raise  # AWS refused: no instance exists.
            except Exception:
                # No answer (timeout, connection lost): it may have been launched anyway.
                launched_note = self._terminate_launched(ec2, group_id)
                raise
        except Exception as exc:
            leftovers = self._delete_created(ec2, created, launched_note)
            if leftovers:
                raise _translate(exc, "create the instance", f" {leftovers}") from exc
            raise

        launched = answer["Instances"][0]
        return self._instance(launched, spec.region)

    def user_data(self, spec: InstanceSpec) -> str:
        """cloud-config that lets `spec.ssh_user` log in with the key (see module doc)."""
        user = spec.ssh_user
        key = spec.ssh_public_key.strip()
        # Top-level keys go to the image's default user (as the key pair does), and to
        # root as well once root is not fenced off.
        config: dict[str, Any] = {"ssh_authorized_keys": [key]}
        if user == "root":
            config["disable_root"] = False
        elif user != UBUNTU_DEFAULT_USER:
            if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", user):
                raise CloudError(f"{user!r} is not a valid Linux user name.")
            config["users"] = ["default", {
                "name": user,
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": [key],
            }]
        # JSON is YAML, so cloud-init reads it; no YAML library needed to write it.
        return "#cloud-config\n" + json.dumps(config, indent=1) + "\n"

    @staticmethod
    def _architecture(ec2: Any, instance_type: str) -> str:
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

    @staticmethod
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

    @staticmethod
    def _placement(ec2: Any, spec: InstanceSpec) -> tuple[str | None, str | None]:
        """(subnet id, its VPC id) for the spec; the account's default VPC when neither
        a network nor a subnet is given."""
        if spec.subnet_id:
            subnet_id = AwsId.parse(spec.subnet_id, "subnet").id
            try:
                subnets = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
            except ClientError as exc:
                if _is_gone(exc):
                    raise CloudError(f"Subnet {subnet_id} does not exist.") from exc
                raise
            return subnet_id, subnets[0]["VpcId"]
        if spec.network_id:
            vpc_id = AwsId.parse(spec.network_id, "VPC").id
            filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
            if spec.zone:
                filters.append({"Name": "availability-zone", "Values": [spec.zone]})
            subnets = ec2.describe_subnets(Filters=filters)["Subnets"]
            if not subnets:
                raise CloudError(f"VPC {vpc_id} has no subnet to place the instance in.")
            # Prefer one that gives public addresses: the control plane connects over SSH.
            subnets.sort(key=lambda s: (not s.get("MapPublicIpOnLaunch"), s["SubnetId"]))
            return subnets[0]["SubnetId"], vpc_id
        return None, None

    def _terminate_launched(self, ec2: Any, group_id: str) -> str:
        """Terminate whatever was launched in this server's own security group; returns
        what may be left running, if anything."""
        ids: list[str] = []
        try:
            reservations = ec2.describe_instances(
                Filters=[{"Name": "instance.group-id", "Values": [group_id]}]
            )["Reservations"]
            ids = [i["InstanceId"] for r in reservations for i in r["Instances"]]
            if ids:
                ec2.terminate_instances(InstanceIds=ids)
                self._wait_terminated(ec2, ids)
        except (ClientError, BotoCoreError, CloudError) as exc:
            what = ", ".join(ids) or f"any instance in security group {group_id}"
            return f"instances {what} ({exc})"
        return ""

    def _delete_created(self, ec2: Any, created: Mapping[str, str], *notes: str) -> str:
        """Delete what a failed create made; returns what is left behind, if anything."""
        left: list[str] = [note for note in notes if note]
        if group := created.get("security_group"):
            try:
                self._retry_dependency(lambda: ec2.delete_security_group(GroupId=group))
            except (ClientError, BotoCoreError, CloudError) as exc:
                left.append(f"security group {group} ({exc})")
        if key := created.get("key_pair"):
            try:
                ec2.delete_key_pair(KeyName=key)
            except ClientError as exc:
                if not _is_gone(exc):
                    left.append(f"key pair {key} ({exc})")
            except BotoCoreError as exc:
                left.append(f"key pair {key} ({exc})")
        return f"Left behind: {'; '.join(left)}." if left else ""

    # ---- read ---------------------------------------------------------------------------

    def _describe(self, instance_id: str) -> tuple[dict[str, Any], str]:
        """(the instance as EC2 describes it, its region); terminated ones included."""
        aws_id = AwsId.parse(instance_id, "instance")
        found: dict[str, Any] = {}

        def probe(ec2: Any) -> bool:
            try:
                reservations = ec2.describe_instances(InstanceIds=[aws_id.id])["Reservations"]
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    return False
                raise
            instances = [i for r in reservations for i in r["Instances"]]
            if instances:
                found.update(instances[0])
            return bool(instances)

        region = self._locate(aws_id, probe)
        if region is None:
            raise InstanceNotFound(f"Instance {aws_id.id} does not exist.")
        return found, region

    async def get_instance(self, instance_id: str) -> Instance:
        def get() -> Instance:
            described, region = self._describe(instance_id)
            if described["State"]["Name"] == "terminated":
                raise InstanceNotFound(f"Instance {described['InstanceId']} was terminated.")
            return self._instance(described, region)

        return await self._run("read the instance", get)

    @staticmethod
    def _instance(described: Mapping[str, Any], region: str) -> Instance:
        state = described.get("State", {}).get("Name", "pending")
        tags = _tag_map(described)
        extra = {"region": region, "aws_id": described["InstanceId"]}
        if key := tags.get(KEY_PAIR_TAG) or described.get("KeyName"):
            extra["key_pair"] = key
        if group := tags.get(SECURITY_GROUP_TAG):
            extra["security_group"] = group
        for mapping in described.get("BlockDeviceMappings", []):
            if mapping.get("DeviceName") == described.get("RootDeviceName"):
                extra["root_volume"] = mapping.get("Ebs", {}).get("VolumeId", "")
        return Instance(
            id=f"{region}/{described['InstanceId']}",
            status=_STATUS.get(state, "pending"),
            public_ip=described.get("PublicIpAddress") or None,
            private_ip=described.get("PrivateIpAddress") or None,
            provider_status=state,
            extra=extra,
        )

    # ---- power --------------------------------------------------------------------------

    async def start_instance(self, instance_id: str) -> None:
        await self._power(instance_id, "start the instance", "start_instances")

    async def stop_instance(self, instance_id: str) -> None:
        await self._power(instance_id, "stop the instance", "stop_instances")

    async def reboot_instance(self, instance_id: str) -> None:
        await self._power(instance_id, "reboot the instance", "reboot_instances")

    async def _power(self, instance_id: str, doing: str, operation: str) -> None:
        def act() -> None:
            described, region = self._describe(instance_id)
            if described["State"]["Name"] in ("terminated", "shutting-down"):
                raise InstanceNotFound(f"Instance {described['InstanceId']} was terminated.")
            getattr(self.client(region), operation)(InstanceIds=[described["InstanceId"]])

        await self._run(doing, act)

    # ---- destroy ------------------------------------------------------------------------

    async def destroy_instance(self, instance_id: str, *, destroy_disks: bool) -> None:
        await self._run("destroy the instance", lambda: self._destroy(instance_id, destroy_disks))

    def _destroy(self, instance_id: str, destroy_disks: bool) -> None:
        try:
            described, region = self._describe(instance_id)
        except InstanceNotFound:
            return
        ec2 = self.client(region)
        aws_id = described["InstanceId"]
        state = described["State"]["Name"]
        if state not in ("terminated", "shutting-down"):
            # The flag decides, whatever was set at launch or attach time.
            changes = [
                {"DeviceName": m["DeviceName"], "Ebs": {"DeleteOnTermination": destroy_disks}}
                for m in described.get("BlockDeviceMappings", [])
                if "Ebs" in m and m["Ebs"].get("DeleteOnTermination") != destroy_disks
            ]
            if changes:
                ec2.modify_instance_attribute(InstanceId=aws_id, BlockDeviceMappings=changes)
            ec2.terminate_instances(InstanceIds=[aws_id])

        tags = _tag_map(described)
        # Only what create_instance made for this instance (it tagged the instance so).
        if key := tags.get(KEY_PAIR_TAG):
            try:
                ec2.delete_key_pair(KeyName=key)
            except ClientError as exc:
                if not _is_gone(exc):
                    raise
        if group := tags.get(SECURITY_GROUP_TAG):
            try:
                # A security group cannot go while an instance still uses it.
                self._wait_terminated(ec2, [aws_id])
                self._retry_dependency(lambda: ec2.delete_security_group(GroupId=group))
            except (ClientError, BotoCoreError, CloudError) as exc:
                # Say what is left and that it is safe to ask again (all steps are).
                raise CloudError(
                    f"Instance {aws_id} is being terminated, but its security group {group} could "
                    f"not be deleted yet ({_translate(exc, 'delete the security group')}); "
                    "destroying the instance again deletes it."
                ) from exc

    def _wait_terminated(self, ec2: Any, ids: Iterable[str]) -> None:
        """Until every instance is terminated, bounded. By hand rather than boto's
        `instance_terminated` waiter: that one gives up at once when a describe right
        after the terminate call still reads "pending" (EC2 is eventually consistent)."""
        waiting = list(ids)
        for _ in range(self.termination_max_attempts):
            try:
                reservations = ec2.describe_instances(InstanceIds=waiting)["Reservations"]
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    return
                raise
            states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
            if all(state == "terminated" for state in states):
                return
            time.sleep(self.termination_delay_seconds)
        seconds = self.termination_delay_seconds * self.termination_max_attempts
        raise CloudError(f"{', '.join(waiting)} still not terminated after {seconds:.0f} s.")


class AwsNetworks(_Aws, NetworkProvider):
    """A network is a VPC with an internet gateway attached; a subnet is a subnet of it,
    with (when public) its own route table sending 0.0.0.0/0 to that gateway."""

    default_cidr = "10.0.0.0/16"  # EC2 has no default CIDR for a new VPC

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        return await self._run("create the VPC", lambda: self._create_network(spec))

    def _create_network(self, spec: NetworkSpec) -> NetworkRef:
        ec2 = self.client(spec.region)
        tags = {"Name": spec.name, **dict(spec.tags), MANAGED_TAG[0]: MANAGED_TAG[1]}
        vpc = ec2.create_vpc(
            CidrBlock=spec.cidr_block or self.default_cidr,
            TagSpecifications=_tag_spec("vpc", tags),
        )["Vpc"]
        vpc_id = vpc["VpcId"]
        gateway_id: str | None = None
        try:
            # Public subnets need names for their instances; harmless for private ones.
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
            gateway_id = ec2.create_internet_gateway(
                TagSpecifications=_tag_spec("internet-gateway", tags)
            )["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
        except Exception:
            self._delete_quietly(ec2, vpc_id, gateway_id)
            raise
        return self._network(vpc, spec.region, gateway_id)

    @staticmethod
    def _delete_quietly(ec2: Any, vpc_id: str, gateway_id: str | None) -> None:
        steps: list[Callable[[], object]] = []
        if gateway_id:
            steps += [
                lambda: ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id),
                lambda: ec2.delete_internet_gateway(InternetGatewayId=gateway_id),
            ]
        steps.append(lambda: ec2.delete_vpc(VpcId=vpc_id))
        for step in steps:
            # Best effort: the error that brought us here is what the caller needs.
            with contextlib.suppress(ClientError, BotoCoreError):
                step()

    @staticmethod
    def _network(vpc: Mapping[str, Any], region: str, gateway_id: str | None) -> NetworkRef:
        state = vpc.get("State", "pending")
        extra = {"region": region, "aws_id": vpc["VpcId"], "cidr_block": vpc.get("CidrBlock", "")}
        if gateway_id:
            extra["internet_gateway"] = gateway_id
        return NetworkRef(
            id=f"{region}/{vpc['VpcId']}",
            status="available" if state == "available" else "pending",
            provider_status=state,
            extra=extra,
        )

    def _find_vpc(self, network_id: str) -> tuple[dict[str, Any] | None, str | None]:
        aws_id = AwsId.parse(network_id, "VPC")
        found: dict[str, Any] = {}

        def probe(ec2: Any) -> bool:
            try:
                vpcs = ec2.describe_vpcs(VpcIds=[aws_id.id])["Vpcs"]
            except ClientError as exc:
                if _is_gone(exc):
                    return False
                raise
            if vpcs:
                found.update(vpcs[0])
            return bool(vpcs)

        region = self._locate(aws_id, probe)
        return (found, region) if region else (None, None)

    @staticmethod
    def _gateways(ec2: Any, vpc_id: str) -> list[str]:
        answer = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
        )
        return [g["InternetGatewayId"] for g in answer.get("InternetGateways", [])]

    async def get_network(self, network_id: str) -> NetworkRef:
        def get() -> NetworkRef:
            vpc, region = self._find_vpc(network_id)
            if vpc is None or region is None:
                raise CloudError(f"VPC {network_id} does not exist.")
            gateways = self._gateways(self.client(region), vpc["VpcId"])
            return self._network(vpc, region, gateways[0] if gateways else None)

        return await self._run("read the VPC", get)

    async def delete_network(self, network_id: str) -> None:
        await self._run("delete the VPC", lambda: self._delete_network(network_id))

    def _delete_network(self, network_id: str) -> None:
        vpc, region = self._find_vpc(network_id)
        if vpc is None or region is None:
            return
        ec2 = self.client(region)
        vpc_id = vpc["VpcId"]
        # What this module put in the VPC goes first: AWS refuses to delete a VPC that
        # still has subnets, non-main route tables or a gateway. Instances are not
        # touched: a VPC that still has some fails with AWS's DependencyViolation.
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )["RouteTables"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        for table in tables:
            if any(a.get("Main") for a in table.get("Associations", [])):
                continue
            self._delete_route_table(ec2, table)
        for subnet in subnets:
            self._retry_dependency(
                lambda s=subnet["SubnetId"]: ec2.delete_subnet(SubnetId=s)  # type: ignore[misc]
            )
        for gateway in self._gateways(ec2, vpc_id):
            ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
            ec2.delete_internet_gateway(InternetGatewayId=gateway)
        self._retry_dependency(lambda: ec2.delete_vpc(VpcId=vpc_id))

    @staticmethod
    def _delete_route_table(ec2: Any, table: Mapping[str, Any]) -> None:
        try:
            for association in table.get("Associations", []):
                if association.get("RouteTableAssociationId") and not association.get("Main"):
                    ec2.disassociate_route_table(
                        AssociationId=association["RouteTableAssociationId"]
                    )
            ec2.delete_route_table(RouteTableId=table["RouteTableId"])
        except ClientError as exc:
            if not _is_gone(exc):
                raise

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        return await self._run("create the subnet", lambda: self._create_subnet(spec))

    def _create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        network = AwsId.parse(spec.network_id, "VPC")
        region = network.region or spec.region
        ec2 = self.client(region)
        tags = {"Name": spec.name, **dict(spec.tags), MANAGED_TAG[0]: MANAGED_TAG[1]}
        args: dict[str, Any] = {
            "VpcId": network.id,
            "CidrBlock": spec.cidr_block,
            "TagSpecifications": _tag_spec("subnet", tags),
        }
        if spec.zone:
            args["AvailabilityZone"] = spec.zone
        subnet = ec2.create_subnet(**args)["Subnet"]
        subnet_id = subnet["SubnetId"]
        table_id: str | None = None
        try:
            if spec.public:
                gateways = self._gateways(ec2, network.id)
                if not gateways:
                    raise CloudError(
                        f"VPC {network.id} has no internet gateway for a public subnet."
                    )
                ec2.modify_subnet_attribute(
                    SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True}
                )
                table_id = ec2.create_route_table(
                    VpcId=network.id, TagSpecifications=_tag_spec("route-table", tags)
                )["RouteTable"]["RouteTableId"]
                ec2.create_route(
                    RouteTableId=table_id,
                    DestinationCidrBlock="0.0.0.0/0",
                    GatewayId=gateways[0],
                )
                ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
        except Exception:
            # Best effort: the error that brought us here is what the caller needs.
            if table_id:
                with contextlib.suppress(ClientError, BotoCoreError):
                    ec2.delete_route_table(RouteTableId=table_id)
            with contextlib.suppress(ClientError, BotoCoreError):
                ec2.delete_subnet(SubnetId=subnet_id)
            raise
        state = subnet.get("State", "pending")
        extra = {
            "region": region, "aws_id": subnet_id, "network": network.id,
            "zone": subnet.get("AvailabilityZone", ""), "cidr_block": spec.cidr_block,
        }
        if table_id:
            extra["route_table"] = table_id
        return NetworkRef(
            id=f"{region}/{subnet_id}",
            status="available" if state == "available" else "pending",
            provider_status=state,
            extra=extra,
        )

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        await self._run(
            "delete the subnet", lambda: self._delete_subnet(network_id, subnet_id)
        )

    def _delete_subnet(self, network_id: str, subnet_id: str) -> None:
        subnet = AwsId.parse(subnet_id, "subnet")
        network = AwsId.parse(network_id, "VPC")
        found: dict[str, Any] = {}

        def probe(ec2: Any) -> bool:
            try:
                subnets = ec2.describe_subnets(SubnetIds=[subnet.id])["Subnets"]
            except ClientError as exc:
                if _is_gone(exc):
                    return False
                raise
            if subnets:
                found.update(subnets[0])
            return bool(subnets)

        region = self._locate(AwsId(subnet.region or network.region, subnet.id), probe)
        if region is None:
            return
        ec2 = self.client(region)
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet.id]}]
        )["RouteTables"]
        for table in tables:
            associations = table.get("Associations", [])
            # Delete the table only when it serves this subnet alone (ours does).
            if all(a.get("SubnetId") == subnet.id for a in associations):
                self._delete_route_table(ec2, table)
            else:
                for a in associations:
                    if a.get("SubnetId") == subnet.id:
                        ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
        self._retry_dependency(lambda: ec2.delete_subnet(SubnetId=subnet.id))


# What a server can be created as: sold on demand, current generation, a virtual machine
# (bare metal is for running hypervisors). The architecture is checked on our side
# (`_architecture_of`): types that run i386 and x86_64 are x86_64 servers.
_TYPE_FILTERS = [
    {"Name": "current-generation", "Values": ["true"]},
    {"Name": "supported-usage-class", "Values": ["on-demand"]},
    {"Name": "bare-metal", "Values": ["false"]},
]
# The Price List attributes of the price a server is billed at: on-demand Linux on shared
# hardware, no SQL Server or the like pre-installed, for a running instance ("Used", not
# an idle capacity reservation).
_PRICE_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
    "marketoption": "OnDemand",
}
_REGION_NAME = "/aws/service/global-infrastructure/regions/{}/longName"
_SSM_BATCH = 10  # GetParameters takes at most ten names
_TYPES_BATCH = 100  # DescribeInstanceTypes takes at most a hundred names


def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _architecture_of(described: Mapping[str, Any]) -> str | None:
    supported = described.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    # Same rule as AwsCompute picks the image by: x86_64 wherever it runs.
    if "x86_64" in supported:
        return "x86_64"
    return "arm64" if "arm64" in supported else None


def _on_demand_price(document: str) -> tuple[str, Price] | None:
    """(instance type, hourly USD price) from one PriceList entry (a JSON document)."""
    try:
        item = json.loads(document)
        instance_type = item["product"]["attributes"].get("instanceType")
        terms = item.get("terms", {}).get("OnDemand", {})
        for term in terms.values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if dimension.get("unit") == "Hrs" and usd is not None and instance_type:
                    hourly = float(usd)
                    return instance_type, Price(
                        hourly=hourly, monthly=round(hourly * HOURS_PER_MONTH, 4), currency="USD"
                    )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CloudError(f"AWS's price list has an entry that could not be read: {exc}") from exc
    return None


class AwsCatalogue(_Aws, CatalogueProvider):
    """Regions, instance types and on-demand prices (see the module docstring)."""

    concurrency = 4  # regions read at once; the Price List API throttles early
    pricing_region = "us-east-1"
    default_disk_size_gb = 8

    async def _each(
        self, regions: Sequence[str], doing: str, read: Callable[[str], T],
        limit: asyncio.Semaphore,
    ) -> dict[str, T]:
        async def one(region: str) -> T:
            async with limit:
                return await self._run(f"{doing} in {region}", lambda: read(region))

        results = await asyncio.gather(*(one(region) for region in regions))
        return dict(zip(regions, results, strict=True))

    # ---- regions ------------------------------------------------------------------------

    async def list_regions(self) -> list[RegionInfo]:
        codes = await self._run("list the EC2 regions", self._enabled_regions)
        limit = asyncio.Semaphore(self.concurrency)
        names, zones = await asyncio.gather(
            self._run("read the regions' names", lambda: self._region_names(codes)),
            self._each(codes, "list the availability zones", self._zones, limit),
        )
        return [RegionInfo(code, names.get(code, code), zones[code]) for code in codes]

    def _enabled_regions(self) -> list[str]:
        """DescribeRegions' enabled regions, of the default region's partition only: a key
        belongs to one partition (aws, aws-cn, aws-us-gov) and is refused in the others,
        should a listing name them (moto's does)."""
        resolver = botocore.session.get_session()

        def partition(region: str) -> str | None:
            try:
                return str(resolver.get_partition_for_region(region))
            except BotoCoreError:
                return None  # a region newer than botocore: keep it

        home = partition(self.default_region)
        return sorted(
            code for code in self._regions() if home is None or partition(code) in (home, None)
        )

    def _region_names(self, codes: Sequence[str]) -> dict[str, str]:
        ssm = self.service_client("ssm", self.default_region, self._settings.aws_endpoint_url)
        names: dict[str, str] = {}
        try:
            for batch in _batches(codes, _SSM_BATCH):
                answer = ssm.get_parameters(Names=[_REGION_NAME.format(c) for c in batch])
                for parameter in answer.get("Parameters", []):
                    names[parameter["Name"].split("/")[-2]] = parameter["Value"]
        except ClientError as exc:
            # Names only read better than codes: a key without ssm:GetParameters still
            # lists what it can order.
            logger.warning("AWS: region names not read (%s); using the codes", _aws_message(exc))
        return names

    def _zones(self, region: str) -> tuple[str, ...]:
        answer = self.client(region).describe_availability_zones(Filters=[
            {"Name": "zone-type", "Values": ["availability-zone"]},
            {"Name": "state", "Values": ["available"]},
        ])
        return tuple(sorted(z["ZoneName"] for z in answer.get("AvailabilityZones", [])))

    # ---- instance types -----------------------------------------------------------------

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = list(dict.fromkeys(regions))
        if not wanted:
            return []
        limit = asyncio.Semaphore(self.concurrency)
        offers, prices = await asyncio.gather(
            self._each(wanted, "list the instance types offered", self._offered, limit),
            self._each(wanted, "read the EC2 prices", self._prices, limit),
        )
        specs = await self._run(
            "describe the instance types", lambda: self._describe_types(wanted, offers)
        )
        infos = []
        for name, described in sorted(specs.items()):
            architecture = _architecture_of(described)
            if architecture is None or described.get("BareMetal") or ".metal" in name:
                continue
            infos.append(InstanceTypeInfo(
                type=name,
                family=name.split(".", 1)[0],
                architecture=architecture,
                vcpus=int(described["VCpuInfo"]["DefaultVCpus"]),
                memory_mb=int(described["MemoryInfo"]["SizeInMiB"]),
                default_disk_size_gb=self.default_disk_size_gb,
                regions={r: prices[r].get(name) for r in wanted if name in offers[r]},
            ))
        return infos

    def _offered(self, region: str) -> set[str]:
        pages = self.client(region).get_paginator("describe_instance_type_offerings").paginate(
            LocationType="region"
        )
        return {o["InstanceType"] for page in pages for o in page.get("InstanceTypeOfferings", [])}

    def _describe_types(
        self, regions: Sequence[str], offers: Mapping[str, set[str]]
    ) -> dict[str, dict[str, Any]]:
        """Specs of every type offered in `regions` that a server can be: one listing in
        the first region, then the types only other regions offer, by name, where offered
        (EC2 refuses a name its region does not offer)."""
        first = regions[0]
        specs = {t["InstanceType"]: t for t in self._type_specs(first)}
        elsewhere: dict[str, list[str]] = {}
        seen = set(offers[first])
        for region in regions[1:]:
            only_here = sorted(offers[region] - seen)
            seen.update(only_here)
            if only_here:
                elsewhere[region] = only_here
        for region, names in elsewhere.items():
            for batch in _batches(names, _TYPES_BATCH):
                specs.update((t["InstanceType"], t) for t in self._type_specs(region, batch))
        return {name: spec for name, spec in specs.items() if name in seen}

    def _type_specs(self, region: str, names: list[str] | None = None) -> list[dict[str, Any]]:
        args: dict[str, Any] = {"Filters": _TYPE_FILTERS}
        if names:
            args["InstanceTypes"] = names
        pages = self.client(region).get_paginator("describe_instance_types").paginate(**args)
        return [t for page in pages for t in page.get("InstanceTypes", [])]

    def _prices(self, region: str) -> dict[str, Price]:
        pricing = self.service_client(
            "pricing", self.pricing_region, self._settings.aws_pricing_endpoint_url
        )
        filters = [
            {"Type": "TERM_MATCH", "Field": field, "Value": value}
            for field, value in {"regionCode": region, **_PRICE_FILTERS}.items()
        ]
        pages = pricing.get_paginator("get_products").paginate(
            ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1"
        )
        prices: dict[str, Price] = {}
        for page in pages:
            for document in page.get("PriceList", []):
                found = _on_demand_price(document)
                # Should two entries match one type, the first one stands.
                if found and found[0] not in prices:
                    prices[found[0]] = found[1]
        return prices
