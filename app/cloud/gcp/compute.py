"""Google Compute Engine instances: created from Ubuntu image families, read, powered and
destroyed."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from google.cloud import compute_v1

from app.cloud.base import (
    CloudError,
    ComputeProvider,
    CredentialRejected,
    Instance,
    InstanceNotFound,
    InstanceSpec,
)
from app.cloud.gcp.client import (
    _STATUS,
    FALLBACK_SSH_USER,
    _Gcp,
    _last,
    _network_path,
    _split,
    _subnet_path,
    default_zone,
    image_family,
    labels,
    resource_name,
)
from app.core.settings import Settings


def _instance(zone: str, raw: compute_v1.Instance, ssh_user: str | None = None) -> Instance:
    public_ip = private_ip = None
    for nic in raw.network_interfaces:
        private_ip = private_ip or (nic.network_i_p or None)
        for access in nic.access_configs:
            public_ip = public_ip or (access.nat_i_p or None)
    extra = {"zone": zone, "instance_id": str(raw.id) if raw.id else ""}
    for disk in raw.disks:
        if disk.boot and disk.source:
            extra["boot_disk"] = _last(disk.source)
    if ssh_user is None:
        ssh_user = raw.labels.get("devopness-ssh-user") if raw.labels else None
    if ssh_user:
        extra["ssh_user"] = ssh_user
    return Instance(
        id=f"{zone}/{raw.name}",
        status=_STATUS.get(raw.status, "pending"),
        public_ip=public_ip,
        private_ip=private_ip,
        provider_status=raw.status,
        extra=extra,
    )


class GcpCompute(ComputeProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.gcp = _Gcp(credential, settings)

    @property
    def _instances(self) -> compute_v1.InstancesClient:
        return self.gcp.client(compute_v1.InstancesClient)

    def _body(self, spec: InstanceSpec, zone: str, name: str, user: str) -> compute_v1.Instance:
        region = zone.rsplit("-", 1)[0]
        nic = compute_v1.NetworkInterface(
            access_configs=[compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")]
        )
        if spec.network_id:
            nic.network = _network_path(spec.network_id)
        if spec.subnet_id:
            nic.subnetwork = _subnet_path(spec.subnet_id, region)
        if not spec.network_id and not spec.subnet_id:
            nic.network = "global/networks/default"
        tags = {**labels(spec.tags), "devopness-ssh-user": resource_name(user)}
        return compute_v1.Instance(
            name=name,
            machine_type=f"zones/{zone}/machineTypes/{spec.instance_type}",
            disks=[
                compute_v1.AttachedDisk(
                    boot=True,
                    auto_delete=True,
                    device_name=name,
                    initialize_params=compute_v1.AttachedDiskInitializeParams(
                        source_image=image_family(spec.os_version_code, spec.instance_type),
                        disk_size_gb=spec.storage_size_gb,
                        disk_name=name,
                    ),
                )
            ],
            network_interfaces=[nic],
            metadata=compute_v1.Metadata(
                items=[compute_v1.Items(key="ssh-keys",
                                        value=f"{user}:{spec.ssh_public_key.strip()}")]
            ),
            labels=tags,
        )

    async def create_instance(self, spec: InstanceSpec) -> Instance:
        zone = spec.zone or default_zone(spec.region)
        name = resource_name(spec.name)
        user = FALLBACK_SSH_USER if spec.ssh_user == "root" else spec.ssh_user
        body = self._body(spec, zone, name, user)
        operation = await self.gcp.call(
            self._instances.insert_unary,
            project=self.gcp.project, zone=zone, instance_resource=body,
        )
        try:
            await self.gcp.wait(operation)
            raw = await self.gcp.call(
                self._instances.get, missing=InstanceNotFound,
                project=self.gcp.project, zone=zone, instance=name,
            )
        except BaseException:
            # The insert was accepted: whatever it made must not outlive the failure.
            await self._cleanup(zone, name)
            raise
        return _instance(zone, raw, user)

    async def _cleanup(self, zone: str, name: str) -> None:
        # The original error is what the caller needs; a cleanup error would hide it.
        with contextlib.suppress(CloudError, CredentialRejected):
            await self.destroy_instance(f"{zone}/{name}", destroy_disks=True)

    async def get_instance(self, instance_id: str) -> Instance:
        zone, name = _split(instance_id, "instance")
        raw = await self.gcp.call(
            self._instances.get, missing=InstanceNotFound,
            project=self.gcp.project, zone=zone, instance=name,
        )
        return _instance(zone, raw)

    async def _act(self, method: str, instance_id: str) -> None:
        zone, name = _split(instance_id, "instance")
        operation = await self.gcp.call(
            getattr(self._instances, f"{method}_unary"), missing=InstanceNotFound,
            project=self.gcp.project, zone=zone, instance=name,
        )
        await self.gcp.wait(operation, missing=InstanceNotFound)

    async def start_instance(self, instance_id: str) -> None:
        await self._act("start", instance_id)

    async def stop_instance(self, instance_id: str) -> None:
        await self._act("stop", instance_id)

    async def reboot_instance(self, instance_id: str) -> None:
        # GCE's reset is a hard reset (like pressing the reset button); there is no
        # guest-cooperative reboot in the API.
        await self._act("reset", instance_id)

    async def destroy_instance(self, instance_id: str, *, destroy_disks: bool) -> None:
        zone, name = _split(instance_id, "instance")
        project = self.gcp.project
        try:
            if not destroy_disks:
                raw = await self.gcp.call(
                    self._instances.get, missing=InstanceNotFound,
                    project=project, zone=zone, instance=name,
                )
                for disk in raw.disks:
                    if disk.auto_delete:
                        operation = await self.gcp.call(
                            self._instances.set_disk_auto_delete_unary,
                            missing=InstanceNotFound, project=project, zone=zone,
                            instance=name, auto_delete=False, device_name=disk.device_name,
                        )
                        await self.gcp.wait(operation, missing=InstanceNotFound)
            operation = await self.gcp.call(
                self._instances.delete_unary, missing=InstanceNotFound,
                project=project, zone=zone, instance=name,
            )
            await self.gcp.wait(operation, missing=InstanceNotFound)
        except InstanceNotFound:
            return
