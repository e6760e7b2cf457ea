"""AWS EC2 instances: each with its own key pair and security group, created, read, powered and
destroyed."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from app.cloud.aws.client import (
    _NOT_FOUND,
    _STATUS,
    KEY_PAIR_TAG,
    MANAGED_TAG,
    SECURITY_GROUP_TAG,
    SSH_PORT,
    UBUNTU_DEFAULT_USER,
    AwsId,
    _Aws,
    _code,
    _is_gone,
    _resource_name,
    _tag_map,
    _tag_spec,
    _translate,
)
from app.cloud.aws.images import find_image, instance_architecture
from app.cloud.base import CloudError, ComputeProvider, Instance, InstanceNotFound, InstanceSpec


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
        architecture = instance_architecture(ec2, spec.instance_type)
        image = find_image(ec2, spec.os_version_code, architecture)
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
