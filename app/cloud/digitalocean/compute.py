"""DigitalOcean droplets: SSH keys and volumes, created, read, powered and destroyed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.cloud.base import CloudError, ComputeProvider, Instance, InstanceNotFound, InstanceSpec
from app.cloud.digitalocean.client import (
    _STATUS,
    KEY_NAME_PREFIX,
    KEY_TAG,
    _Api,
    _Missing,
    _tag,
    _volume_name,
    image_slug,
)
from app.cloud.shared import create_or_undo, key_fingerprint, user_data_for
from app.core.settings import Settings

logger = logging.getLogger(__name__)


def _instance(droplet: Mapping[str, Any]) -> Instance:
    public_ip = private_ip = None
    for address in droplet.get("networks", {}).get("v4", []):
        if address.get("type") == "public" and public_ip is None:
            public_ip = address.get("ip_address")
        elif address.get("type") == "private" and private_ip is None:
            private_ip = address.get("ip_address")
    provider_status = str(droplet.get("status", ""))
    extra = {}
    if droplet.get("volume_ids"):
        extra["volume_ids"] = ",".join(str(v) for v in droplet["volume_ids"])
    for tag in droplet.get("tags", []):
        if tag.startswith(f"{KEY_TAG}:"):
            extra["ssh_key_id"] = tag.split(":", 1)[1]
    return Instance(
        id=str(droplet["id"]),
        status=_STATUS.get(provider_status, "pending"),
        public_ip=public_ip,
        private_ip=private_ip,
        provider_status=provider_status,
        extra=extra,
    )


class DigitalOceanCompute(ComputeProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Api(credential, settings)

    async def _size_disk(self, slug: str) -> int:
        for size in await self._api.every("/sizes", "sizes"):
            if size.get("slug") == slug:
                return int(size.get("disk", 0))
        raise CloudError(f"DigitalOcean has no droplet size {slug!r}.")

    async def _ensure_key(self, public_key: str) -> tuple[int, str, bool]:
        """(key id, key name, created by this call)."""
        fingerprint = key_fingerprint(public_key)
        try:
            key = await self._api.one("GET", f"/account/keys/{fingerprint}", "ssh_key")
            return int(key["id"]), str(key.get("name", "")), False
        except _Missing:
            pass
        name = f"{KEY_NAME_PREFIX}{fingerprint.replace(':', '')[:16]}"
        try:
            key = await self._api.one(
                "POST", "/account/keys", "ssh_key", body={"name": name, "public_key": public_key}
            )
        except CloudError as exc:
            # Another creation uploaded the same key meanwhile: use theirs.
            if "already in use" not in str(exc):
                raise
            key = await self._api.one("GET", f"/account/keys/{fingerprint}", "ssh_key")
            return int(key["id"]), str(key.get("name", "")), False
        return int(key["id"]), name, True

    async def _delete(self, path: str, what: str) -> None:
        """DELETE where "already gone" is success; a failure is logged with what is left."""
        try:
            await self._api.call("DELETE", path)
        except _Missing:
            pass
        except CloudError as exc:
            logger.warning("DigitalOcean: could not delete %s (%s); it is left behind", what, exc)
            raise

    async def create_instance(self, spec: InstanceSpec) -> Instance:
        return await create_or_undo(
            self._create(spec),
            lambda instance_id: self.destroy_instance(instance_id, destroy_disks=True),
        )

    async def _create(self, spec: InstanceSpec) -> Instance:
        image = image_slug(spec.os_version_code)
        if spec.subnet_id:
            raise CloudError("DigitalOcean VPCs have no subnets; give only the network (VPC).")
        disk = await self._size_disk(spec.instance_type)
        key_id, key_name, key_created = await self._ensure_key(spec.ssh_public_key)
        own_tags = [_tag(f"{k}:{v}" if v else k) for k, v in spec.tags.items()]
        tags = list(own_tags)
        if key_name.startswith(KEY_NAME_PREFIX):
            tags.append(f"{KEY_TAG}:{key_id}")
        volume_id: str | None = None
        try:
            body: dict[str, Any] = {
                "name": spec.name, "region": spec.region, "size": spec.instance_type,
                "image": image, "ssh_keys": [key_id], "tags": tags,
            }
            if spec.network_id:
                body["vpc_uuid"] = spec.network_id
            user_data = user_data_for(spec.ssh_user, spec.ssh_public_key)
            if user_data:
                body["user_data"] = user_data
            if spec.storage_size_gb > disk:
                volume = await self._api.one("POST", "/volumes", "volume", body={
                    "name": _volume_name(spec.name), "region": spec.region,
                    "size_gigabytes": spec.storage_size_gb, "filesystem_type": "ext4",
                    "description": f"Storage of {spec.name}", "tags": own_tags,
                })
                volume_id = str(volume["id"])
                body["volumes"] = [volume_id]
            droplet = await self._api.one("POST", "/droplets", "droplet", body=body)
        except BaseException as exc:
            await self._undo(exc, volume_id, key_id if key_created else None)
            raise
        instance = _instance(droplet)
        extra = dict(instance.extra)
        if volume_id:
            extra["volume_ids"] = volume_id
        if key_name.startswith(KEY_NAME_PREFIX):
            extra["ssh_key_id"] = str(key_id)
        return Instance(instance.id, instance.status, instance.public_ip, instance.private_ip,
                        instance.provider_status, extra)

    async def _undo(self, exc: BaseException, volume_id: str | None, key_id: int | None) -> None:
        left: list[str] = []
        if volume_id:
            try:
                await self._delete(f"/volumes/{volume_id}", f"volume {volume_id}")
            except CloudError:
                left.append(f"volume {volume_id}")
        if key_id is not None:
            try:
                await self._delete(f"/account/keys/{key_id}", f"SSH key {key_id}")
            except CloudError:
                left.append(f"SSH key {key_id}")
        if left:
            exc.add_note(f"Cleanup failed; left on DigitalOcean: {', '.join(left)}.")

    async def _droplet(self, instance_id: str) -> dict[str, Any]:
        try:
            droplet = await self._api.one("GET", f"/droplets/{instance_id}", "droplet")
        except _Missing as exc:
            raise InstanceNotFound(f"DigitalOcean droplet {instance_id} does not exist.") from exc
        return droplet

    async def get_instance(self, instance_id: str) -> Instance:
        return _instance(await self._droplet(instance_id))

    async def _action(self, instance_id: str, kind: str) -> None:
        try:
            await self._api.call("POST", f"/droplets/{instance_id}/actions", body={"type": kind})
        except _Missing as exc:
            raise InstanceNotFound(f"DigitalOcean droplet {instance_id} does not exist.") from exc

    async def start_instance(self, instance_id: str) -> None:
        if (await self._droplet(instance_id)).get("status") != "active":
            await self._action(instance_id, "power_on")

    async def stop_instance(self, instance_id: str) -> None:
        # A graceful ACPI shutdown: the OS flushes its disks.
        if (await self._droplet(instance_id)).get("status") != "off":
            await self._action(instance_id, "shutdown")

    async def reboot_instance(self, instance_id: str) -> None:
        status = (await self._droplet(instance_id)).get("status")
        await self._action(instance_id, "power_on" if status == "off" else "reboot")

    async def destroy_instance(self, instance_id: str, *, destroy_disks: bool) -> None:
        try:
            droplet = await self._droplet(instance_id)
        except InstanceNotFound:
            return
        volumes = [str(v) for v in droplet.get("volume_ids", [])]
        try:
            if destroy_disks and volumes:
                # One request that deletes the droplet and its volumes together; volumes
                # deleted separately would first have to wait for the detach.
                await self._api.call(
                    "DELETE",
                    f"/droplets/{instance_id}/destroy_with_associated_resources/selective",
                    body={"volumes": volumes},
                )
            else:
                await self._api.call("DELETE", f"/droplets/{instance_id}")
        except _Missing:
            return
        for tag in droplet.get("tags", []):
            if tag.startswith(f"{KEY_TAG}:"):
                try:
                    await self._release_key(tag, instance_id)
                except CloudError as exc:
                    # The droplet is gone, which is what was asked; a leftover account key
                    # costs nothing, so say so and succeed.
                    logger.warning("DigitalOcean: SSH key of %s not released: %s", tag, exc)

    async def _release_key(self, tag: str, destroyed_id: str) -> None:
        others = [
            d for d in (await self._api.call(
                "GET", "/droplets", params={"tag_name": tag, "per_page": 200}
            )).get("droplets", [])
            if str(d.get("id")) != destroyed_id
        ]
        if not others:
            key_id = tag.split(":", 1)[1]
            await self._delete(f"/account/keys/{key_id}", f"SSH key {key_id}")
