"""Hetzner Cloud servers: SSH keys, volumes and network attachment, created, read, powered and
destroyed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from hcloud import APIException, Client
from hcloud.actions import BoundAction
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.networks import BoundNetwork
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer
from hcloud.ssh_keys import BoundSSHKey
from hcloud.volumes import BoundVolume, Volume

from app.cloud.base import CloudError, ComputeProvider, Instance, InstanceNotFound, InstanceSpec
from app.cloud.hetzner.client import (
    _STATUS,
    KEY_LABEL,
    KEY_NAME_PREFIX,
    _Hcloud,
    _is_missing,
    _labels,
    image_name,
    network_zone,
)
from app.cloud.shared import create_or_undo, key_fingerprint, user_data_for
from app.core.settings import Settings

logger = logging.getLogger(__name__)


def _server(client: Client, instance_id: str) -> BoundServer:
    try:
        return client.servers.get_by_id(int(instance_id))
    except ValueError as exc:
        raise InstanceNotFound(f"{instance_id!r} is not a Hetzner Cloud server id.") from exc
    except APIException as exc:
        if _is_missing(exc):
            raise InstanceNotFound(
                f"Hetzner Cloud server {instance_id} does not exist."
            ) from exc
        raise


def _instance(server: BoundServer) -> Instance:
    model = server.data_model
    public_ip = model.public_net.ipv4.ip if model.public_net and model.public_net.ipv4 else None
    private_ip = model.private_net[0].ip if model.private_net else None
    extra: dict[str, str] = {}
    if model.volumes:
        extra["volume_ids"] = ",".join(str(v.id) for v in model.volumes)
    if model.private_net:
        extra["network_ids"] = ",".join(str(n.network.id) for n in model.private_net)
    key_id = (model.labels or {}).get(KEY_LABEL)
    if key_id:
        extra["ssh_key_id"] = key_id
    status = model.status or ""
    return Instance(
        id=str(model.id), status=_STATUS.get(status, "pending"), public_ip=public_ip,
        private_ip=private_ip, provider_status=status, extra=extra,
    )


def _undo(client: Client, exc: BaseException, *, server: BoundServer | None,
          volume: BoundVolume | None, key: BoundSSHKey | None) -> None:
    """Delete what a failed creation made, newest first; say what could not be."""
    left: list[str] = []
    if server is not None:
        try:
            client.servers.delete(server).wait_until_finished()
        except Exception as error:
            if not _is_missing(error):
                left.append(f"server {server.id}")
    steps: list[tuple[str, Any, Callable[[], object]]] = []
    if volume is not None:
        steps.append(("volume", volume.id, lambda: client.volumes.delete(volume)))
    if key is not None:
        steps.append(("SSH key", key.id, lambda: client.ssh_keys.delete(key)))
    for what, ident, delete in steps:
        try:
            delete()
        except Exception as error:
            if not _is_missing(error):
                left.append(f"{what} {ident}")
    if left:
        logger.warning("Hetzner Cloud: cleanup failed; left behind: %s", ", ".join(left))
        exc.add_note(f"Cleanup failed; left on Hetzner Cloud: {', '.join(left)}.")


class HetznerCompute(ComputeProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Hcloud(credential, settings)

    @staticmethod
    def _ensure_key(client: Client, public_key: str) -> tuple[BoundSSHKey, bool]:
        """(the key, created by this call)."""
        fingerprint = key_fingerprint(public_key)
        key = client.ssh_keys.get_by_fingerprint(fingerprint)
        if key is not None:
            return key, False
        name = f"{KEY_NAME_PREFIX}{fingerprint.replace(':', '')[:16]}"
        try:
            return client.ssh_keys.create(name=name, public_key=public_key), True
        except APIException as exc:
            # Another creation uploaded the same key meanwhile: use theirs.
            if exc.code != "uniqueness_error":
                raise
            key = client.ssh_keys.get_by_fingerprint(fingerprint)
            if key is None:
                raise
            return key, False

    @staticmethod
    def _placement(client: Client, spec: InstanceSpec) -> tuple[BoundNetwork | None, str | None]:
        """The network to join and, when the zone has several subnets, the one to attach
        to explicitly."""
        if not spec.network_id:
            if spec.subnet_id:
                raise CloudError("A Hetzner Cloud subnet needs its network.")
            return None, None
        try:
            network = client.networks.get_by_id(int(spec.network_id))
        except (ValueError, APIException) as exc:
            if isinstance(exc, APIException) and not _is_missing(exc):
                raise
            raise CloudError(f"Hetzner Cloud network {spec.network_id} does not exist.") from exc
        zone = network_zone(spec.region)
        in_zone = [s.ip_range for s in network.subnets or [] if s.network_zone == zone]
        if not spec.subnet_id:
            if not in_zone:
                raise CloudError(
                    f"Hetzner Cloud network {spec.network_id} has no subnet in {zone}, "
                    f"the network zone of {spec.region}."
                )
            return network, None
        if spec.subnet_id not in in_zone:
            raise CloudError(
                f"Hetzner Cloud network {spec.network_id} has no subnet {spec.subnet_id} "
                f"in {zone}, the network zone of {spec.region}."
            )
        return network, spec.subnet_id if len(in_zone) > 1 else None

    def _create(self, client: Client, spec: InstanceSpec) -> Instance:
        image = image_name(spec.os_version_code)
        server_type = client.server_types.get_by_name(spec.instance_type)
        if server_type is None:
            raise CloudError(f"Hetzner Cloud has no server type {spec.instance_type!r}.")
        network, explicit_subnet = self._placement(client, spec)
        key, key_created = self._ensure_key(client, spec.ssh_public_key)
        labels = _labels(spec.tags)
        if str(key.name).startswith(KEY_NAME_PREFIX):
            labels[KEY_LABEL] = str(key.id)
        location = Location(name=spec.region)
        volume: BoundVolume | None = None
        server: BoundServer | None = None
        try:
            if spec.storage_size_gb > int(server_type.disk or 0):
                volume = client.volumes.create(
                    size=spec.storage_size_gb, name=f"{spec.name}-data"[:64],
                    # hcloud annotates labels as str; the API takes an object.
                    location=location, format="ext4",
                    labels=_labels(spec.tags),  # type: ignore[arg-type]
                ).volume
            created = client.servers.create(
                name=spec.name, server_type=ServerType(name=spec.instance_type),
                image=Image(name=image), ssh_keys=[key], location=location, labels=labels,
                volumes=[volume] if volume else None, automount=True if volume else None,
                networks=[network] if network is not None and not explicit_subnet else None,
                user_data=user_data_for(spec.ssh_user, spec.ssh_public_key),
                # Attaching to a chosen subnet needs the server built but not yet booted.
                start_after_create=not explicit_subnet,
            )
            server = created.server
            if explicit_subnet and network is not None:
                created.action.wait_until_finished()
                client.servers.attach_to_network(
                    server, network, ip_range=explicit_subnet
                ).wait_until_finished()
                client.servers.power_on(server)
        except BaseException as exc:
            _undo(client, exc, server=server, volume=volume,
                  key=key if key_created else None)
            raise
        instance = _instance(server)
        extra = dict(instance.extra)
        if volume is not None:
            extra["volume_ids"] = str(volume.id)
        return Instance(instance.id, instance.status, instance.public_ip, instance.private_ip,
                        instance.provider_status, extra)

    async def create_instance(self, spec: InstanceSpec) -> Instance:
        # The worker thread cannot be stopped: on cancellation let it finish, then undo.
        return await create_or_undo(
            self._api.run(lambda client: self._create(client, spec)),
            lambda instance_id: self.destroy_instance(instance_id, destroy_disks=True),
        )

    async def get_instance(self, instance_id: str) -> Instance:
        return await self._api.run(lambda client: _instance(_server(client, instance_id)))

    async def _power(self, instance_id: str, choose: Callable[[str], str | None]) -> None:
        def work(client: Client) -> None:
            server = _server(client, instance_id)
            action = choose(server.data_model.status or "")
            if action is not None:
                getattr(client.servers, action)(server)

        await self._api.run(work)

    async def start_instance(self, instance_id: str) -> None:
        await self._power(instance_id, lambda status: None if status in (
            "running", "starting", "initializing") else "power_on")

    async def stop_instance(self, instance_id: str) -> None:
        # A graceful ACPI shutdown: the OS flushes its disks.
        await self._power(instance_id, lambda status: None if status in (
            "off", "stopping") else "shutdown")

    async def reboot_instance(self, instance_id: str) -> None:
        await self._power(instance_id, lambda status: "power_on" if status == "off"
                          else "reboot")

    def _destroy(self, client: Client, instance_id: str, destroy_disks: bool) -> None:
        try:
            server = _server(client, instance_id)
        except InstanceNotFound:
            return
        volume_ids = [v.id for v in server.data_model.volumes or [] if v.id is not None]
        key_id = (server.data_model.labels or {}).get(KEY_LABEL)
        try:
            action: BoundAction = client.servers.delete(server)
        except APIException as exc:
            if _is_missing(exc):
                return
            raise
        if destroy_disks and volume_ids:
            # Volumes detach when the server is gone; only then may they be deleted.
            action.wait_until_finished()
            for volume_id in volume_ids:
                try:
                    client.volumes.delete(Volume(id=volume_id))
                except APIException as exc:
                    if not _is_missing(exc):
                        raise
        if key_id:
            try:
                self._release_key(client, key_id, server.data_model.id)
            except Exception as exc:
                # The server is gone, which is what was asked; a leftover project key
                # costs nothing, so say so and succeed.
                logger.warning("Hetzner Cloud: SSH key %s not released: %s", key_id, exc)

    @staticmethod
    def _release_key(client: Client, key_id: str, destroyed_id: int | None) -> None:
        users = client.servers.get_all(label_selector=f"{KEY_LABEL}={key_id}")
        if any(s.data_model.id != destroyed_id for s in users):
            return
        try:
            client.ssh_keys.delete(client.ssh_keys.get_by_id(int(key_id)))
        except APIException as exc:
            if not _is_missing(exc):
                raise

    async def destroy_instance(self, instance_id: str, *, destroy_disks: bool) -> None:
        await self._api.run(lambda client: self._destroy(client, instance_id, destroy_disks))
