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

Catalogue (`HetznerCatalogue`): locations (regions, named by city and country; Hetzner
has no zones since datacenters were retired from the API) and server types, each listed
with `get_all`. A server type is offered in a location where it has a price and its
per-location entry is neither deprecated nor unavailable (Hetzner stops selling a type
location by location). Prices are the net (pre-VAT) euros Hetzner quotes, as the other
clouds quote theirs before tax.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import requests
from hcloud import APIException, Client, HCloudException
from hcloud.actions import ActionException, BoundAction
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.networks import BoundNetwork, NetworkSubnet
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer
from hcloud.ssh_keys import BoundSSHKey
from hcloud.volumes import BoundVolume, Volume

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
from app.cloud.digitalocean import create_or_undo, key_fingerprint, user_data_for
from app.core.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

KEY_NAME_PREFIX = "devopness-"
KEY_LABEL = "devopness-ssh-key"
DEFAULT_NETWORK_RANGE = "10.0.0.0/16"

NETWORK_ZONES = {
    "fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central",
    "ash": "us-east", "hil": "us-west", "sin": "ap-southeast",
}

_STATUS = {
    "initializing": "pending", "starting": "pending", "running": "running",
    "stopping": "stopping", "off": "stopped", "deleting": "terminated",
}

_REJECTED = {"unauthorized", "forbidden", "token_readonly"}
_LIMITS = {"resource_limit_exceeded", "rate_limit_exceeded"}


class _Missing(CloudError):
    """not_found from Hetzner; each caller says what was missing."""


def image_name(os_version_code: str) -> str:
    match = re.fullmatch(r"ubuntu_(\d{2})_(\d{2})", os_version_code)
    if not match:
        raise CloudError(f"Hetzner Cloud has no image for the OS version {os_version_code!r}.")
    return f"ubuntu-{match[1]}.{match[2]}"


def network_zone(region: str) -> str:
    location = region.split("-dc")[0]  # "fsn1-dc14" is a datacenter of fsn1
    if location in NETWORK_ZONES:
        return NETWORK_ZONES[location]
    if region in NETWORK_ZONES.values():
        return region
    raise CloudError(f"Hetzner Cloud has no network zone for the region {region!r}.")


def _label(value: str) -> str:
    # Alphanumerics, '-', '_' and '.', starting and ending alphanumeric, up to 63.
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", value)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def _labels(tags: Mapping[str, str]) -> dict[str, str]:
    return {_label(k): _label(v) for k, v in tags.items() if _label(k)}


def _translate(exc: Exception) -> CloudError | CredentialRejected:
    if isinstance(exc, APIException):
        code, message = exc.code, exc.message
        if code in _REJECTED or code == 401:
            return CredentialRejected(f"Hetzner Cloud rejected the API token: {message}")
        if code in _LIMITS:
            return QuotaExceeded(f"Hetzner Cloud: {message}")
        if code in ("not_found", 404):
            return _Missing(message)
        return CloudError(f"Hetzner Cloud answered {code}: {message}")
    if isinstance(exc, ActionException):
        return CloudError(f"Hetzner Cloud: {exc.message}")
    if isinstance(exc, requests.RequestException):
        return CloudError(f"Hetzner Cloud could not be reached ({type(exc).__name__}).")
    return CloudError(f"Hetzner Cloud client failed: {exc}")


class _Hcloud:
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._token = credential.get("api_token", "")
        self._endpoint = settings.hetzner_api_url.rstrip("/")
        self._timeout = settings.provider_timeout_seconds
        # Optional knobs (no Settings fields yet): how hcloud polls the actions we wait on.
        self._poll_interval = float(getattr(settings, "hetzner_poll_interval_seconds", 1.0))
        self._poll_retries = int(getattr(settings, "hetzner_poll_max_retries", 120))

    async def run(self, work: Callable[[Client], T]) -> T:
        if not self._token:
            raise CredentialRejected("The Hetzner Cloud credential has no API token.")
        client = Client(
            token=self._token, api_endpoint=self._endpoint, timeout=self._timeout,
            application_name="devopness-server", poll_interval=self._poll_interval,
            poll_max_retries=self._poll_retries,
        )
        try:
            return await asyncio.to_thread(work, client)
        except (CloudError, CredentialRejected):
            raise
        except (HCloudException, requests.RequestException) as exc:
            translated = _translate(exc)
            for note in getattr(exc, "__notes__", []):  # e.g. what cleanup left behind
                translated.add_note(note)
            raise translated from exc
        except Exception as exc:
            # hcloud parses every answer into its models: a shape it cannot read is the
            # provider answering something unexpected, not a crash of ours to hide.
            raise CloudError(
                f"Hetzner Cloud answered something unexpected ({type(exc).__name__}: {exc})."
            ) from exc


def _is_missing(exc: Exception) -> bool:
    return isinstance(exc, APIException) and exc.code in ("not_found", 404)


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


def _network_ref(network: BoundNetwork) -> NetworkRef:
    model = network.data_model
    extra = {"ip_range": str(model.ip_range), "name": str(model.name)}
    if model.subnets:
        extra["subnets"] = ",".join(str(s.ip_range) for s in model.subnets)
    # A network exists fully as soon as the API returns it; Hetzner reports no state.
    return NetworkRef(id=str(model.id), status="available", provider_status="available",
                      extra=extra)


class HetznerNetworks(NetworkProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Hcloud(credential, settings)

    @staticmethod
    def _network(client: Client, network_id: str) -> BoundNetwork:
        try:
            return client.networks.get_by_id(int(network_id))
        except (ValueError, APIException) as exc:
            if isinstance(exc, APIException) and not _is_missing(exc):
                raise
            raise _Missing(f"Hetzner Cloud network {network_id} does not exist.") from exc

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        return await self._api.run(lambda client: _network_ref(client.networks.create(
            name=spec.name, ip_range=spec.cidr_block or DEFAULT_NETWORK_RANGE,
            labels=_labels(spec.tags),
        )))

    async def get_network(self, network_id: str) -> NetworkRef:
        try:
            return await self._api.run(
                lambda client: _network_ref(self._network(client, network_id))
            )
        except _Missing as exc:
            raise CloudError(str(exc)) from exc

    async def delete_network(self, network_id: str) -> None:
        def work(client: Client) -> None:
            try:
                client.networks.delete(self._network(client, network_id))
            except APIException as exc:
                if not _is_missing(exc):
                    raise

        try:
            await self._api.run(work)
        except _Missing:
            return

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        zone = network_zone(spec.region)

        def work(client: Client) -> NetworkRef:
            network = self._network(client, spec.network_id)
            client.networks.add_subnet(network, NetworkSubnet(
                type=NetworkSubnet.TYPE_CLOUD, ip_range=spec.cidr_block, network_zone=zone,
            )).wait_until_finished()
            subnet = next((s for s in self._network(client, spec.network_id).subnets or []
                           if s.ip_range == spec.cidr_block), None)
            if subnet is None:
                raise CloudError(f"Hetzner Cloud did not add the subnet {spec.cidr_block}.")
            extra = {"network_id": spec.network_id, "network_zone": zone}
            if subnet.gateway:
                extra["gateway"] = str(subnet.gateway)
            return NetworkRef(id=spec.cidr_block, status="available",
                              provider_status="available", extra=extra)

        try:
            return await self._api.run(work)
        except _Missing as exc:
            raise CloudError(str(exc)) from exc

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        def work(client: Client) -> None:
            network = self._network(client, network_id)
            if not any(s.ip_range == subnet_id for s in network.subnets or []):
                return
            client.networks.delete_subnet(
                network, NetworkSubnet(ip_range=subnet_id)
            ).wait_until_finished()

        try:
            await self._api.run(work)
        except _Missing:
            return



_ARCHITECTURES = {"x86": "x86_64", "arm": "arm64"}
_CPU_TYPES = {"shared": "Shared vCPU", "dedicated": "Dedicated vCPU"}


def _server_type_info(server_type: ServerType, wanted: set[str]) -> InstanceTypeInfo | None:
    unavailable = {
        str(loc.location.name) for loc in server_type.locations or []
        if loc.location is not None and (loc.deprecation is not None or loc.available is False)
    }
    offered: dict[str, Price | None] = {}
    for price in server_type.prices or []:
        location = str(price.get("location", ""))
        if location not in wanted or location in unavailable:
            continue
        try:
            offered[location] = Price(
                hourly=float(price["price_hourly"]["net"]),
                monthly=float(price["price_monthly"]["net"]), currency="EUR",
            )
        except (KeyError, TypeError, ValueError):
            offered[location] = None
    if not offered:
        return None
    family = _CPU_TYPES.get(str(server_type.cpu_type), "Server")
    if server_type.category:
        family = f"{family} ({server_type.category})"
    return InstanceTypeInfo(
        type=str(server_type.name),
        family=family,
        architecture=_ARCHITECTURES.get(str(server_type.architecture)),
        vcpus=int(server_type.cores or 0),
        memory_mb=round(float(server_type.memory or 0) * 1024),
        default_disk_size_gb=int(server_type.disk or 0),
        regions=dict(sorted(offered.items())),
    )


class HetznerCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._api = _Hcloud(credential, settings)

    async def list_regions(self) -> list[RegionInfo]:
        def read(client: Client) -> list[RegionInfo]:
            regions = []
            for location in client.locations.get_all():
                code = str(location.name)
                place = ", ".join(str(p) for p in (location.city, location.country) if p)
                regions.append(RegionInfo(code=code, name=place or code))
            return regions

        return await self._api.run(read)

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = set(regions)

        def read(client: Client) -> list[InstanceTypeInfo]:
            infos = (_server_type_info(t, wanted) for t in client.server_types.get_all())
            return [info for info in infos if info is not None]

        return await self._api.run(read)
