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

Catalogue (`DigitalOceanCatalogue`): `GET /regions` and `GET /sizes`, both paged (200 a
page). A size lists the regions that sell it and one price for all of them; sizes or
regions DigitalOcean marks unavailable are left out. DigitalOcean has no zones and no
Arm droplets (every size is x86_64).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import logging
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from app.cloud.base import (
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

logger = logging.getLogger(__name__)

KEY_NAME_PREFIX = "devopness-"
KEY_TAG = "devopness-ssh-key"

_STATUS = {"new": "pending", "active": "running", "off": "stopped", "archive": "terminated"}


class _Missing(CloudError):
    """404 from DigitalOcean; each caller says what was missing."""


def image_slug(os_version_code: str) -> str:
    match = re.fullmatch(r"ubuntu_(\d{2})_(\d{2})", os_version_code)
    if not match:
        raise CloudError(f"DigitalOcean has no image for the OS version {os_version_code!r}.")
    return f"ubuntu-{match[1]}-{match[2]}-x64"


def key_fingerprint(public_key: str) -> str:
    """The MD5 fingerprint DigitalOcean and Hetzner index keys by (aa:bb:...)."""
    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (IndexError, ValueError) as exc:
        raise CloudError("The SSH public key is not an OpenSSH public key line.") from exc
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def user_data_for(ssh_user: str, public_key: str) -> str | None:
    """Cloud-init that creates a non-root login user; root needs none (the provider
    authorises the key for root)."""
    if ssh_user == "root":
        return None
    config = {"users": ["default", {
        "name": ssh_user, "groups": "sudo", "shell": "/bin/bash",
        "sudo": "ALL=(ALL) NOPASSWD:ALL", "ssh_authorized_keys": [public_key],
    }]}
    # JSON is YAML: no YAML dependency and no quoting surprises.
    return "#cloud-config\n" + json.dumps(config)


async def create_or_undo(
    create: Awaitable[Instance], destroy: Callable[[str], Awaitable[None]]
) -> Instance:
    """Run a creation to its end even when the caller is cancelled (a request already sent
    may have made an instance), then destroy what it made: nothing is left unrecorded."""
    task = asyncio.ensure_future(create)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            instance = await task
            await destroy(instance.id)
        raise


def _tag(value: str) -> str:
    # Tags allow letters, digits, colons, dashes and underscores, up to 255 characters.
    return re.sub(r"[^A-Za-z0-9:_-]", "_", value)[:255]


def _volume_name(name: str) -> str:
    # Lowercase letters, digits and dashes, starting with a letter, at most 64.
    base = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-") or "server"
    if not base[0].isalpha():
        base = f"v-{base}"
    return f"{base[:58]}-data"


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.reason_phrase or f"HTTP {response.status_code}"


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building the default context reads the CA bundle (tens of ms); one per process.
    return httpx.create_ssl_context()


class _Api:
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._token = credential.get("api_token", "")
        self._base = settings.digitalocean_api_url.rstrip("/")
        self._timeout = settings.provider_timeout_seconds

    async def call(
        self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        if not self._token:
            raise CredentialRejected("The DigitalOcean credential has no API token.")
        headers = {"Authorization": f"Bearer {self._token}", "User-Agent": "devopness-server"}
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, headers=headers, verify=_tls()
            ) as http:
                response = await http.request(
                    method, f"{self._base}{path}", json=body, params=params
                )
        except httpx.HTTPError as exc:
            raise CloudError(f"DigitalOcean could not be reached ({type(exc).__name__}).") from exc
        if response.status_code < 400:
            if not response.content:
                return {}
            try:
                data = response.json()
            except ValueError as exc:
                raise CloudError("DigitalOcean did not answer JSON.") from exc
            if not isinstance(data, dict):
                raise CloudError("DigitalOcean answered JSON that is not an object.")
            return data
        message = _message(response)
        status = response.status_code
        if status == 401:
            raise CredentialRejected(f"DigitalOcean rejected the API token: {message}")
        # 403 is both "this token may not do that" (a read-only token) and a refusal of
        # the request itself (a VPC that still has members): only the first is the
        # credential's fault.
        if status == 403 and re.search(r"authori[sz]|permission|scope", message, re.I):
            raise CredentialRejected(
                f"DigitalOcean refused the token ({message}); it may be read-only."
            )
        if status == 404:
            raise _Missing(message)
        if status in (422, 429) and "limit" in message.lower():
            raise QuotaExceeded(f"DigitalOcean: {message}")
        raise CloudError(f"DigitalOcean answered {status}: {message}")

    async def every(self, path: str, field: str) -> list[dict[str, Any]]:
        """All items of a paged collection (`links.pages.next` says whether more follow)."""
        items: list[dict[str, Any]] = []
        for page in range(1, 1000):
            data = await self.call("GET", path, params={"per_page": 200, "page": page})
            found = data.get(field)
            if not isinstance(found, list):
                raise CloudError(f"DigitalOcean answered GET {path} without {field}.")
            items.extend(i for i in found if isinstance(i, dict))
            if not (data.get("links") or {}).get("pages", {}).get("next") or not found:
                return items
        raise CloudError(f"DigitalOcean kept paging GET {path}.")

    async def one(
        self, method: str, path: str, field: str, *, body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The object DigitalOcean wraps under `field` ({"droplet": {...}})."""
        data = (await self.call(method, path, body=body, params=params)).get(field)
        if not isinstance(data, dict):
            raise CloudError(f"DigitalOcean answered {method} {path} without a {field}.")
        return data


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


def _network(vpc: Mapping[str, Any]) -> NetworkRef:
    extra = {k: str(vpc[k]) for k in ("ip_range", "region", "urn", "name") if vpc.get(k)}
    # A VPC exists fully as soon as the API returns it; DigitalOcean reports no state.
    return NetworkRef(id=str(vpc["id"]), status="available", provider_status="active",
                      extra=extra)


class DigitalOceanNetworks(NetworkProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Api(credential, settings)

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        body: dict[str, Any] = {
            # Names allow letters, digits, dashes and periods.
            "name": re.sub(r"[^A-Za-z0-9.-]", "-", spec.name)[:255],
            "region": spec.region,
        }
        if spec.cidr_block:
            body["ip_range"] = spec.cidr_block
        if spec.tags:
            body["description"] = " ".join(f"{k}={v}" for k, v in spec.tags.items())[:255]
        return _network(await self._api.one("POST", "/vpcs", "vpc", body=body))

    async def get_network(self, network_id: str) -> NetworkRef:
        try:
            return _network(await self._api.one("GET", f"/vpcs/{network_id}", "vpc"))
        except _Missing as exc:
            raise CloudError(f"DigitalOcean VPC {network_id} does not exist.") from exc

    async def delete_network(self, network_id: str) -> None:
        try:
            await self._api.call("DELETE", f"/vpcs/{network_id}")
        except _Missing:
            return

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        raise CloudError("DigitalOcean VPCs have no subnets; a droplet joins the VPC itself.")

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        # Nothing to delete: no subnet can have been created on DigitalOcean.
        return None


class DigitalOceanCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Api(credential, settings)

    async def list_regions(self) -> list[RegionInfo]:
        return [
            RegionInfo(code=str(r["slug"]), name=str(r.get("name") or r["slug"]))
            for r in await self._api.every("/regions", "regions")
            if r.get("slug") and r.get("available", True)
        ]

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = set(regions)
        found = []
        for size in await self._api.every("/sizes", "sizes"):
            offered = wanted.intersection(size.get("regions") or [])
            if not size.get("available", True) or not offered:
                continue
            try:
                price = Price(hourly=float(size["price_hourly"]),
                              monthly=float(size["price_monthly"]), currency="USD")
                found.append(InstanceTypeInfo(
                    type=str(size["slug"]),
                    family=str(size.get("description") or "Droplet"),
                    architecture="x86_64",
                    vcpus=int(size["vcpus"]),
                    memory_mb=int(size["memory"]),
                    default_disk_size_gb=int(size["disk"]),
                    regions=dict.fromkeys(sorted(offered), price),
                ))
            except (KeyError, TypeError, ValueError) as exc:
                raise CloudError(
                    f"DigitalOcean described the size {size.get('slug')!r} without {exc}."
                ) from exc
        return found
