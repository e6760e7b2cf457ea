"""Azure Resource Manager through the Azure SDK (azure-identity, azure-mgmt-resource,
azure-mgmt-network, azure-mgmt-compute).

One server is one resource group, `devopness-<name>`, holding everything made for it: a
static Standard public IP, a network security group, a NIC (in the given subnet, else in a
virtual network made in the group) and the VM with its managed OS disk. Destroying with
disks deletes the group (all of it at once); without, the VM, NIC, public IP and security
group go and the OS disk stays in the group. `Instance.id` is the VM's ARM resource id.

Networks live in a group of their own, `devopness-net-<name>`; network and subnet ids are
ARM resource ids.

Bodies are the REST API's documented JSON, handed to the SDK's models; long-running calls
go through the SDK's pollers, waited for in a thread with a bound.

The catalogue (`AzureCatalogue`) reads regions from the subscription's locations
(azure-mgmt-resource-subscriptions, physical regions only; zones from their zone mappings,
else from the VM sizes' zones) and instance types from one paginated list of the
subscription's resource SKUs (azure-mgmt-compute; filtered by location when one region is
asked, and shared with the region listing when that needed it). A size is offered in a
region unless a Location restriction (NotAvailableForSubscription, QuotaId) keeps this
subscription out. Left out, because our create could not boot them: Generation 1-only
sizes (our Ubuntu images are Generation 2), confidential sizes (SEV-SNP, TDX: they need a
confidential image and security profile), and sizes whose CPU architecture disagrees with
the image `image_reference` would pick. vCPUs are those the OS sees (vCPUsAvailable, which
constrained-core sizes give below their billed count). Prices come from the public Azure
Retail Prices API (no credential sent), one filtered, paged query per region: pay-as-you-go
Linux meters only (no Windows, Spot or Low Priority), per hour, so monthly = hourly *
HOURS_PER_MONTH.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.polling import LROPoller
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models as compute_models
from azure.mgmt.compute.models import ResourceSku
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as network_models
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources import models as resource_models
from azure.mgmt.resource.subscriptions import SubscriptionClient
from azure.mgmt.resource.subscriptions.models import Location

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

__all__ = ["AzureCatalogue", "AzureCompute", "AzureNetworks"]

# Tokens are always for Azure Resource Manager, wherever the endpoint points.
SCOPE = "https://management.azure.com/.default"
GROUP_PREFIX = "devopness-"
NETWORK_GROUP_PREFIX = "devopness-net-"
# Azure refuses "root" (and other reserved names) as the admin user.
FALLBACK_SSH_USER = "devopness"
_RESERVED_USERS = {"root", "admin", "administrator", "user", "guest", "test", "sys"}
# Ports the security group opens. SSH for the control plane; HTTP(S) because the servers
# host web applications, and finer rules are the server's own firewall (network rules).
OPEN_PORTS = (("ssh", 22, 1000), ("http", 80, 1010), ("https", 443, 1020))

# os_version_code -> (offer, sku) of Canonical's images, x64 and arm64.
_IMAGES = {
    "ubuntu_18_04": ("UbuntuServer", "18_04-lts-gen2"),
    "ubuntu_20_04": ("0001-com-ubuntu-server-focal", "20_04-lts-gen2"),
    "ubuntu_22_04": ("0001-com-ubuntu-server-jammy", "22_04-lts-gen2"),
    "ubuntu_24_04": ("ubuntu-24_04-lts", "server"),
    "ubuntu_26_04": ("ubuntu-26_04-lts", "server"),
}
_ARM_IMAGES = {
    "ubuntu_20_04": ("0001-com-ubuntu-server-focal", "20_04-lts-arm64"),
    "ubuntu_22_04": ("0001-com-ubuntu-server-jammy", "22_04-lts-arm64"),
    "ubuntu_24_04": ("ubuntu-24_04-lts", "server-arm64"),
    "ubuntu_26_04": ("ubuntu-26_04-lts", "server-arm64"),
}
# Ampere sizes carry a "p" among the feature letters after the vCPU count: D2ps_v5, B2pls_v2.
_ARM_SIZE = re.compile(r"^Standard_[A-Z]+\d+[a-z]*p[a-z]*_v\d+$")

_POWER = {
    "starting": "pending",
    "running": "running",
    "stopping": "stopping",
    "deallocating": "stopping",
    "stopped": "stopped",
    "deallocated": "stopped",
}
_QUOTA_CODES = {"QuotaExceeded", "PublicIPCountLimitReached", "ResourceQuotaExceeded"}
_REJECTED_CODES = {
    "AuthorizationFailed", "InvalidAuthenticationToken", "InvalidAuthenticationTokenTenant",
    "AuthenticationFailed", "SubscriptionNotFound", "LinkedAuthorizationFailed",
}

# The OS disk a server gets unless sized otherwise: Canonical's Ubuntu images are 30 GB, the
# size the azure-rm catalogue offers by default for AzureCompute's diskSizeGB.
DEFAULT_OS_DISK_GB = 30
_ARCHITECTURES = {"x64": "x86_64", "arm64": "arm64"}  # CpuArchitectureType, lowercased
# Location restrictions that keep this subscription from ordering a size there (Zone
# restrictions only narrow the zones).
_UNAVAILABLE = {"NotAvailableForSubscription", "QuotaId"}
# The Retail Prices API throttles bursts (429): a few regions at a time, a few retries.
PRICE_CONCURRENCY = 4
PRICE_RETRIES = 3
_PRICE_FILTER = ("serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
                 "and armRegionName eq '{region}'")

T = TypeVar("T")


def image_reference(os_version_code: str, size: str) -> dict[str, str]:
    images = _ARM_IMAGES if _ARM_SIZE.match(size) else _IMAGES
    found = images.get(os_version_code)
    if found is None:
        raise CloudError(f"Azure has no Canonical Ubuntu image for {os_version_code} on {size}.")
    offer, sku = found
    return {"publisher": "Canonical", "offer": offer, "sku": sku, "version": "latest"}


def resource_name(value: str, limit: int = 64) -> str:
    """A name every resource type here accepts: letters, digits and dashes."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", value).strip("-").lower()
    return (name or "server")[:limit].rstrip("-")


def parse_id(resource_id: str) -> dict[str, str]:
    """The segments of an ARM id, lowercased keys: {"resourcegroups": "rg", ...}."""
    parts = [p for p in resource_id.split("/") if p]
    return {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def _error_code(exc: HttpResponseError) -> str:
    if exc.error is not None and exc.error.code:
        return str(exc.error.code)
    return ""


def _error_message(exc: HttpResponseError) -> str:
    if exc.error is not None and exc.error.message:
        return str(exc.error.message)
    return str(exc.message or exc)


def translate(exc: BaseException, *, missing: type[CloudError] = CloudError) -> BaseException:
    """Our error for an Azure SDK error (never let theirs escape)."""
    if isinstance(exc, (CloudError, CredentialRejected)):
        return exc
    if isinstance(exc, ClientAuthenticationError):
        detail = _error_message(exc) if isinstance(exc, HttpResponseError) else str(exc)
        return CredentialRejected(f"Azure rejected the credential: {detail.splitlines()[0]}")
    if isinstance(exc, HttpResponseError):
        code, message = _error_code(exc), _error_message(exc)
        # Core quotas come as OperationNotAllowed with a message naming the quota.
        if code in _QUOTA_CODES or "quota" in message.lower():
            return QuotaExceeded(f"Azure quota exceeded: {message}")
        if exc.status_code in (401, 403) or code in _REJECTED_CODES:
            return CredentialRejected(f"Azure refused the request ({code or exc.status_code}): "
                                      f"{message}")
        if exc.status_code == 404 or code in {"ResourceNotFound", "ResourceGroupNotFound"}:
            return missing(f"Not found on Azure: {message}")
        if exc.status_code is not None and exc.status_code < 400:
            # A long-running operation that ended Failed: the poll itself answered 200.
            return CloudError(f"Azure could not complete the operation ({code}): {message}")
        return CloudError(f"Azure answered {exc.status_code} {code}: {message}")
    if isinstance(exc, AzureError):
        return CloudError(f"Azure could not be reached: {exc}")
    if isinstance(exc, ValueError) and "authority" in str(exc).lower():
        # MSAL's answer when the tenant's login metadata cannot be found.
        return CredentialRejected(f"Azure does not know this tenant: {exc}")
    return CloudError(f"Azure failed ({type(exc).__name__}: {exc}).")


class _Azure:
    """The SDK clients for one service principal, pointed at the configured endpoints."""

    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self._credential = credential
        self._settings = settings
        self.subscription_id = credential.get("subscription_id", "")
        # Bounds on waiting for one long-running operation; tests shorten them.
        self.operation_timeout = float(
            getattr(settings, "cloud_operation_timeout_seconds", 900.0)
        )
        self.polling_interval = 5.0  # when Azure sends no Retry-After
        self._token: ClientSecretCredential | None = None
        self._clients: dict[type[Any], Any] = {}

    def _identity(self) -> ClientSecretCredential:
        if self._token is None:
            try:
                self._token = ClientSecretCredential(
                    self._credential["tenant_id"],
                    self._credential["client_id"],
                    self._credential["client_secret"],
                    authority=self._settings.azure_login_url,
                    # Discovery would ask login.microsoft.com about the authority; ours is
                    # configured, so MSAL reads its metadata from it directly.
                    disable_instance_discovery=True,
                    connection_timeout=self._settings.provider_timeout_seconds,
                    read_timeout=self._settings.provider_timeout_seconds,
                )
            except (KeyError, ValueError) as exc:
                raise CredentialRejected(f"The Azure credential is incomplete: {exc}") from exc
        return self._token

    def _options(self) -> dict[str, Any]:
        if not self.subscription_id:
            raise CredentialRejected("The Azure credential has no subscription_id.")
        return {
            "base_url": self._settings.azure_management_url.rstrip("/"),
            "credential_scopes": [SCOPE],
            "polling_interval": self.polling_interval,
            "connection_timeout": self._settings.provider_timeout_seconds,
            "read_timeout": self._settings.provider_timeout_seconds,
        }

    def client(self, cls: type[T]) -> T:
        if cls not in self._clients:
            options = self._options()
            self._clients[cls] = cls(  # type: ignore[call-arg]
                self._identity(), self.subscription_id, **options)
        client: T = self._clients[cls]
        return client

    @property
    def subscriptions(self) -> SubscriptionClient:
        # Unlike the others, this client takes the subscription per call, not at construction.
        if SubscriptionClient not in self._clients:
            options = self._options()
            self._clients[SubscriptionClient] = SubscriptionClient(self._identity(), **options)
        client: SubscriptionClient = self._clients[SubscriptionClient]
        return client

    @property
    def resources(self) -> ResourceManagementClient:
        return self.client(ResourceManagementClient)

    @property
    def network(self) -> NetworkManagementClient:
        return self.client(NetworkManagementClient)

    @property
    def compute(self) -> ComputeManagementClient:
        return self.client(ComputeManagementClient)

    async def call(
        self, fn: Callable[..., T], *args: Any, missing: type[CloudError] = CloudError,
        **kwargs: Any,
    ) -> T:
        """One blocking SDK call in a thread, errors translated."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception as exc:
            raise translate(exc, missing=missing) from exc

    async def run(
        self, begin: Callable[..., LROPoller[T]], *args: Any,
        missing: type[CloudError] = CloudError, **kwargs: Any,
    ) -> T:
        """Start a long-running operation and wait for it (bounded)."""
        def wait() -> tuple[bool, T]:
            poller = begin(*args, **kwargs)
            result = poller.result(timeout=self.operation_timeout)
            return poller.done(), result

        try:
            done, result = await asyncio.to_thread(wait)
        except Exception as exc:
            raise translate(exc, missing=missing) from exc
        if not done:
            raise CloudError(
                f"Azure did not finish {getattr(begin, '__name__', 'an operation')} within "
                f"{self.operation_timeout:.0f}s."
            )
        return result

    async def group_exists(self, group: str) -> bool:
        # A GET, not the SDK's check_existence: that is a HEAD, whose refusals carry no
        # body, so a user would not learn why (AuthorizationFailed, SubscriptionNotFound).
        def get() -> bool:
            try:
                self.resources.resource_groups.get(group)
            except ResourceNotFoundError as exc:
                if _error_code(exc) in ("ResourceGroupNotFound", ""):
                    return False
                raise
            return True

        return await self.call(get)

    async def delete_group(self, group: str) -> None:
        try:
            await self.run(self.resources.resource_groups.begin_delete, group,
                           missing=InstanceNotFound)
        except InstanceNotFound:
            return


def _tags(tags: Mapping[str, str], **more: str) -> dict[str, str]:
    # Every resource we create says so with the tag the other providers carry too.
    return {"managed-by": "devopness-server",
            **{str(k)[:512]: str(v)[:256] for k, v in tags.items()}, **more}


class AzureCompute(ComputeProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.azure = _Azure(credential, settings)

    def _vm_id(self, group: str, name: str) -> str:
        return (f"/subscriptions/{self.azure.subscription_id}/resourceGroups/{group}"
                "/providers/Microsoft.Compute/virtualMachines/" + name)

    def _split(self, instance_id: str) -> tuple[str, str]:
        parts = parse_id(instance_id)
        group, name = parts.get("resourcegroups"), parts.get("virtualmachines")
        if not group or not name:
            raise InstanceNotFound(f"{instance_id!r} is not an Azure virtual machine id.")
        return group, name

    async def create_instance(self, spec: InstanceSpec) -> Instance:
        name = resource_name(spec.name)
        group = _server_group(name)
        user = FALLBACK_SSH_USER if spec.ssh_user.lower() in _RESERVED_USERS else spec.ssh_user
        image = image_reference(spec.os_version_code, spec.instance_type)
        az = self.azure
        if await az.group_exists(group):
            # Never adopt (and so, on failure, delete) a group we did not make for this call.
            raise CloudError(f"The Azure resource group {group} already exists: is there a "
                             "server with this name already?")
        tags = _tags(spec.tags, **{"devopness-ssh-user": user})
        await az.call(
            az.resources.resource_groups.create_or_update, group,
            resource_models.ResourceGroup({"location": spec.region, "tags": tags}),
        )
        try:
            await self._build(spec, group, name, user, image, tags)
        except BaseException:
            # Everything made so far is in the group: one delete leaves nothing billable.
            with contextlib.suppress(CloudError, CredentialRejected):
                await az.delete_group(group)
            raise
        return await self.get_instance(self._vm_id(group, name))

    async def _build(self, spec: InstanceSpec, group: str, name: str, user: str,
                     image: dict[str, str], tags: dict[str, str]) -> None:
        az, location = self.azure, spec.region
        subnet_id = spec.subnet_id
        if not subnet_id and spec.network_id:
            subnet_id = await self._first_subnet(spec.network_id)
        if not subnet_id:
            vnet = await az.run(
                az.network.virtual_networks.begin_create_or_update, group, f"{name}-vnet",
                network_models.VirtualNetwork({
                    "location": location, "tags": tags,
                    "properties": {
                        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                        "subnets": [{"name": "default",
                                     "properties": {"addressPrefix": "10.0.0.0/24"}}],
                    },
                }),
            )
            subnet_id = f"{vnet.id}/subnets/default"
        ip = await az.run(
            az.network.public_ip_addresses.begin_create_or_update, group, f"{name}-ip",
            network_models.PublicIPAddress({
                "location": location, "tags": tags, "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static",
                               "publicIPAddressVersion": "IPv4"},
            }),
        )
        nsg = await az.run(
            az.network.network_security_groups.begin_create_or_update, group, f"{name}-nsg",
            network_models.NetworkSecurityGroup({
                "location": location, "tags": tags,
                "properties": {"securityRules": [
                    {"name": f"allow-{label}", "properties": {
                        "protocol": "Tcp", "access": "Allow", "direction": "Inbound",
                        "priority": priority, "sourceAddressPrefix": "*",
                        "sourcePortRange": "*", "destinationAddressPrefix": "*",
                        "destinationPortRange": str(port),
                    }} for label, port, priority in OPEN_PORTS
                ]},
            }),
        )
        nic = await az.run(
            az.network.network_interfaces.begin_create_or_update, group, f"{name}-nic",
            network_models.NetworkInterface({
                "location": location, "tags": tags,
                "properties": {
                    "networkSecurityGroup": {"id": nsg.id},
                    "ipConfigurations": [{"name": "ipconfig1", "properties": {
                        "subnet": {"id": subnet_id},
                        "privateIPAllocationMethod": "Dynamic",
                        "publicIPAddress": {"id": ip.id},
                    }}],
                },
            }),
        )
        vm: dict[str, Any] = {
            "location": location, "tags": tags,
            "properties": {
                "hardwareProfile": {"vmSize": spec.instance_type},
                "storageProfile": {
                    "imageReference": image,
                    "osDisk": {"name": f"{name}-osdisk", "createOption": "FromImage",
                               "diskSizeGB": spec.storage_size_gb,
                               "managedDisk": {"storageAccountType": "StandardSSD_LRS"}},
                },
                "osProfile": {
                    "computerName": name,
                    "adminUsername": user,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {"publicKeys": [{
                            "path": f"/home/{user}/.ssh/authorized_keys",
                            "keyData": spec.ssh_public_key.strip(),
                        }]},
                    },
                },
                "networkProfile": {"networkInterfaces": [
                    {"id": nic.id, "properties": {"primary": True}}
                ]},
            },
        }
        if spec.zone:
            vm["zones"] = [spec.zone]
        await az.run(az.compute.virtual_machines.begin_create_or_update, group, name,
                     compute_models.VirtualMachine(vm))

    async def _first_subnet(self, network_id: str) -> str:
        """A network without a subnet named: its first subnet (a NIC needs one)."""
        ref = parse_id(network_id)
        group, name = ref.get("resourcegroups"), ref.get("virtualnetworks")
        if not group or not name:
            raise CloudError(f"{network_id!r} is not an Azure virtual network id.")
        vnet = await self.azure.call(self.azure.network.virtual_networks.get, group, name)
        subnets = [s.id for s in (vnet.subnets or []) if s.id]
        if not subnets:
            raise CloudError(f"The Azure virtual network {name} has no subnet to place the "
                             "server in: create one first.")
        return str(subnets[0])

    async def get_instance(self, instance_id: str) -> Instance:
        group, name = self._split(instance_id)
        az = self.azure
        vm = await az.call(az.compute.virtual_machines.get, group, name,
                           expand="instanceView", missing=InstanceNotFound)
        codes = [s.code or "" for s in (vm.instance_view.statuses or [])] \
            if vm.instance_view else []
        power = next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), None)
        provisioning = vm.provisioning_state or ""
        public_ip = private_ip = None
        nic_id = ""
        interfaces = vm.network_profile.network_interfaces if vm.network_profile else None
        if interfaces:
            nic_id = interfaces[0].id or ""
            public_ip, private_ip = await self._addresses(nic_id)
        user = (vm.tags or {}).get("devopness-ssh-user", "")
        extra = {"resource_group": group, "vm_id": vm.vm_id or "", "nic_id": nic_id,
                 "provisioning_state": provisioning}
        disk = vm.storage_profile.os_disk if vm.storage_profile else None
        if disk is not None and disk.managed_disk is not None and disk.managed_disk.id:
            extra["os_disk_id"] = disk.managed_disk.id
        if user:
            extra["ssh_user"] = user
        return Instance(
            id=vm.id or self._vm_id(group, name),
            status=_POWER.get(power or "", "pending"),
            public_ip=public_ip,
            private_ip=private_ip,
            provider_status=f"PowerState/{power}" if power else f"ProvisioningState/{provisioning}",
            extra=extra,
        )

    async def _addresses(self, nic_id: str) -> tuple[str | None, str | None]:
        az = self.azure
        nic_ref = parse_id(nic_id)
        nic = await az.call(az.network.network_interfaces.get, nic_ref["resourcegroups"],
                            nic_ref["networkinterfaces"], missing=InstanceNotFound)
        config = (nic.ip_configurations or [None])[0]
        if config is None:
            return None, None
        private_ip = config.private_ip_address
        public_ip = None
        if config.public_ip_address is not None and config.public_ip_address.id:
            ip_ref = parse_id(config.public_ip_address.id)
            ip = await az.call(az.network.public_ip_addresses.get, ip_ref["resourcegroups"],
                               ip_ref["publicipaddresses"])
            public_ip = ip.ip_address
        return public_ip, private_ip

    async def start_instance(self, instance_id: str) -> None:
        group, name = self._split(instance_id)
        await self.azure.run(self.azure.compute.virtual_machines.begin_start, group, name,
                             missing=InstanceNotFound)

    async def stop_instance(self, instance_id: str) -> None:
        # Deallocate, not power off: a powered-off VM is still billed for its cores.
        group, name = self._split(instance_id)
        await self.azure.run(self.azure.compute.virtual_machines.begin_deallocate, group, name,
                             missing=InstanceNotFound)

    async def reboot_instance(self, instance_id: str) -> None:
        group, name = self._split(instance_id)
        await self.azure.run(self.azure.compute.virtual_machines.begin_restart, group, name,
                             missing=InstanceNotFound)

    async def destroy_instance(self, instance_id: str, *, destroy_disks: bool) -> None:
        group, name = self._split(instance_id)
        az = self.azure
        if destroy_disks and group.lower() == _server_group(name):
            await az.delete_group(group)  # the group holds this server only
            return
        disk_id = ""
        try:
            vm = await az.call(az.compute.virtual_machines.get, group, name,
                               missing=InstanceNotFound)
            os_disk = vm.storage_profile.os_disk if vm.storage_profile else None
            if os_disk is not None and os_disk.managed_disk is not None:
                disk_id = os_disk.managed_disk.id or ""
            await az.run(az.compute.virtual_machines.begin_delete, group, name,
                         missing=InstanceNotFound)
        except InstanceNotFound:
            pass
        # Then what only it used: the NIC before the public IP and security group it
        # references. Keep the OS disk unless asked.
        for begin, suffix in (
            (az.network.network_interfaces.begin_delete, "nic"),
            (az.network.public_ip_addresses.begin_delete, "ip"),
            (az.network.network_security_groups.begin_delete, "nsg"),
        ):
            with contextlib.suppress(InstanceNotFound):
                await az.run(begin, group, f"{name}-{suffix}", missing=InstanceNotFound)
        if destroy_disks and disk_id:
            disk = parse_id(disk_id)
            with contextlib.suppress(InstanceNotFound):
                await az.run(az.compute.disks.begin_delete, disk["resourcegroups"],
                             disk["disks"], missing=InstanceNotFound)


def _server_group(name: str) -> str:
    return resource_name(f"{GROUP_PREFIX}{name}", 90)


class AzureNetworks(NetworkProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.azure = _Azure(credential, settings)

    @staticmethod
    def _vnet(network_id: str) -> tuple[str, str]:
        parts = parse_id(network_id)
        group, name = parts.get("resourcegroups"), parts.get("virtualnetworks")
        if not group or not name:
            raise CloudError(f"{network_id!r} is not an Azure virtual network id.")
        return group, name

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        az = self.azure
        name = resource_name(spec.name)
        group = resource_name(f"{NETWORK_GROUP_PREFIX}{name}", 90)
        if await az.group_exists(group):
            raise CloudError(f"The Azure resource group {group} already exists.")
        tags = _tags(spec.tags)
        await az.call(az.resources.resource_groups.create_or_update, group,
                      resource_models.ResourceGroup({"location": spec.region, "tags": tags}))
        try:
            vnet = await az.run(
                az.network.virtual_networks.begin_create_or_update, group, name,
                network_models.VirtualNetwork({
                    "location": spec.region, "tags": tags,
                    "properties": {"addressSpace": {
                        "addressPrefixes": [spec.cidr_block or "10.0.0.0/16"]}},
                }),
            )
        except BaseException:
            with contextlib.suppress(CloudError, CredentialRejected):
                await az.delete_group(group)
            raise
        return self._ref(vnet.id or "", vnet.provisioning_state,
                         {"resource_group": group, "name": name})

    @staticmethod
    def _ref(resource_id: str, state: Any, extra: Mapping[str, str]) -> NetworkRef:
        provider_status = str(getattr(state, "value", state) or "")  # str enums or str
        status = {"succeeded": "available", "deleting": "deleted"}.get(
            provider_status.lower(), "pending")
        return NetworkRef(id=resource_id, status=status, provider_status=provider_status,
                          extra=dict(extra))

    async def get_network(self, network_id: str) -> NetworkRef:
        group, name = self._vnet(network_id)
        az = self.azure
        vnet = await az.call(az.network.virtual_networks.get, group, name)
        space = vnet.address_space.address_prefixes if vnet.address_space else None
        subnets = ",".join(s.name or "" for s in (vnet.subnets or []))
        return self._ref(vnet.id or network_id, vnet.provisioning_state, {
            "resource_group": group, "name": name, "cidr_block": ",".join(space or []),
            "subnets": subnets,
        })

    async def delete_network(self, network_id: str) -> None:
        group, name = self._vnet(network_id)
        az = self.azure
        if group.startswith(NETWORK_GROUP_PREFIX):
            await az.delete_group(group)  # ours: the group holds this network only
            return
        with contextlib.suppress(InstanceNotFound):
            await az.run(az.network.virtual_networks.begin_delete, group, name,
                         missing=InstanceNotFound)

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        group, vnet = self._vnet(spec.network_id)
        az = self.azure
        name = resource_name(spec.name, 80)
        subnet = await az.run(
            az.network.subnets.begin_create_or_update, group, vnet, name,
            network_models.Subnet({"properties": {"addressPrefix": spec.cidr_block}}),
        )
        return self._ref(subnet.id or f"{spec.network_id}/subnets/{name}",
                         subnet.provisioning_state,
                         {"cidr_block": subnet.address_prefix or spec.cidr_block, "name": name})

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        parts = parse_id(subnet_id)
        group, vnet, name = (parts.get("resourcegroups"), parts.get("virtualnetworks"),
                             parts.get("subnets"))
        if not group or not vnet or not name:
            raise CloudError(f"{subnet_id!r} is not an Azure subnet id.")
        az = self.azure
        with contextlib.suppress(InstanceNotFound):
            await az.run(az.network.subnets.begin_delete, group, vnet, name,
                         missing=InstanceNotFound)


def _capabilities(sku: ResourceSku) -> dict[str, str]:
    return {c.name: c.value for c in sku.capabilities or [] if c.name and c.value is not None}


def _bootable(name: str, caps: Mapping[str, str]) -> bool:
    """Whether our Ubuntu images boot on the size, as far as its capabilities tell."""
    generations = caps.get("HyperVGenerations")
    if generations is not None and "V2" not in generations.split(","):
        return False
    if caps.get("ConfidentialComputingType") in {"SNP", "TDX"}:
        return False
    architecture = _ARCHITECTURES.get(caps.get("CpuArchitectureType", "").lower())
    return architecture is None or (architecture == "arm64") == bool(_ARM_SIZE.match(name))


def _offered_in(sku: ResourceSku) -> set[str]:
    """Lowercased regions where this subscription can order the size."""
    where = {loc.lower() for loc in sku.locations or []}
    where |= {i.location.lower() for i in sku.location_info or [] if i.location}
    for restriction in sku.restrictions or []:
        if restriction.type != "Location" or restriction.reason_code not in _UNAVAILABLE:
            continue
        info = restriction.restriction_info
        blocked = (info.locations if info is not None else None) or restriction.values_property
        where -= {loc.lower() for loc in blocked or []}
    return where


def _sku_zones(skus: Iterable[ResourceSku]) -> dict[str, set[str]]:
    zones: dict[str, set[str]] = {}
    for sku in skus:
        if sku.resource_type != "virtualMachines":
            continue
        for info in sku.location_info or []:
            if info.location:
                zones.setdefault(info.location.lower(), set()).update(info.zones or [])
    return zones


def _size(sku: ResourceSku, caps: Mapping[str, str]) -> tuple[int, int] | None:
    """(vCPUs, memory MB), None when the capabilities do not say."""
    try:
        vcpus = int(caps.get("vCPUsAvailable") or caps["vCPUs"])
        memory_mb = round(float(caps["MemoryGB"]) * 1024)
    except (KeyError, ValueError):
        return None
    return vcpus, memory_mb


def _linux_price(item: Any) -> tuple[str, bool, Price] | None:
    """(size, primary meter, price) of a Retail Prices item for pay-as-you-go Linux."""
    if not isinstance(item, dict):
        return None
    size, product, sku = item.get("armSkuName"), item.get("productName") or "", \
        item.get("skuName") or ""
    if (not size or "Windows" in product or "Spot" in sku or "Low Priority" in sku
            or item.get("unitOfMeasure") != "1 Hour"):
        return None
    try:
        hourly = float(item["retailPrice"])
    except (KeyError, TypeError, ValueError):
        return None
    price = Price(hourly=hourly, monthly=round(hourly * HOURS_PER_MONTH, 4),
                  currency=str(item.get("currencyCode") or "USD"))
    return str(size), item.get("isPrimaryMeterRegion") is not False, price


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.0), 30.0)
    except ValueError:
        return 1.0


class AzureCatalogue(CatalogueProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.azure = _Azure(credential, settings)
        self._settings = settings
        # Every region's SKUs once listed: list_regions and list_instance_types share them.
        self._all_skus: list[ResourceSku] | None = None

    async def _skus(self, location: str | None = None) -> list[ResourceSku]:
        if self._all_skus is not None:
            return self._all_skus
        az = self.azure
        skus: list[ResourceSku] = await az.call(list, az.compute.resource_skus.list(
            filter=f"location eq '{location}'" if location else None))
        if location is None:
            self._all_skus = skus
        return skus

    async def list_regions(self) -> list[RegionInfo]:
        az = self.azure
        locations: list[Location] = await az.call(
            list, az.subscriptions.subscriptions.list_locations(az.subscription_id))
        regions = [
            (loc.name, loc.display_name or loc.name,
             {m.logical_zone for m in loc.availability_zone_mappings or [] if m.logical_zone})
            for loc in locations
            if loc.name and loc.metadata is not None and loc.metadata.region_type == "Physical"
        ]
        if not all(zones for _, _, zones in regions):
            # Mappings are not given for every region; the VM sizes there name their zones.
            sku_zones = _sku_zones(await self._skus())
            for code, _, zones in regions:
                if not zones:
                    zones.update(sku_zones.get(code.lower(), ()))
        return [RegionInfo(code=code, name=name, zones=tuple(sorted(zones)))
                for code, name, zones in regions]

    async def list_instance_types(self, regions: Sequence[str]) -> list[InstanceTypeInfo]:
        wanted = {r.lower(): r for r in regions}
        if not wanted:
            return []
        # One call either way: filtered for a single region, else the whole (shared) list.
        skus = await self._skus(next(iter(wanted)) if len(wanted) == 1 else None)
        found: dict[str, tuple[ResourceSku, dict[str, str], tuple[int, int], set[str]]] = {}
        for sku in skus:
            if sku.resource_type != "virtualMachines" or not sku.name:
                continue
            caps = _capabilities(sku)
            offered = _offered_in(sku) & wanted.keys()
            size = _size(sku, caps)
            if not offered or size is None or not _bootable(sku.name, caps):
                continue
            # Azure answers one entry per size and location: merge them.
            if sku.name in found:
                found[sku.name][3].update(offered)
            else:
                found[sku.name] = (sku, caps, size, offered)
        prices = await self._prices(sorted({r for *_, where in found.values() for r in where}))
        types: list[InstanceTypeInfo] = []
        for name, (sku, caps, (vcpus, memory_mb), where) in sorted(found.items()):
            types.append(InstanceTypeInfo(
                type=name,
                family=sku.family or "",
                architecture=_ARCHITECTURES.get(caps.get("CpuArchitectureType", "").lower()),
                vcpus=vcpus,
                memory_mb=memory_mb,
                default_disk_size_gb=DEFAULT_OS_DISK_GB,
                regions={wanted[r]: prices[r].get(name) for r in sorted(where)},
            ))
        return types

    async def _prices(self, regions: Sequence[str]) -> dict[str, dict[str, Price]]:
        """Region -> size -> on-demand Linux price, from the public Retail Prices API."""
        bound = asyncio.Semaphore(PRICE_CONCURRENCY)
        # No credential here: the API is public, and ours must not leave Azure's ARM.
        async with httpx.AsyncClient(timeout=self._settings.provider_timeout_seconds,
                                     headers={"User-Agent": "devopness-server"}) as http:
            async def one(region: str) -> dict[str, Price]:
                async with bound:
                    return await self._region_prices(http, region)

            try:
                async with asyncio.TaskGroup() as group:
                    tasks = {r: group.create_task(one(r)) for r in regions}
            except* CloudError as failed:
                raise failed.exceptions[0] from None
        return {r: task.result() for r, task in tasks.items()}

    async def _region_prices(self, http: httpx.AsyncClient, region: str) -> dict[str, Price]:
        url: str | None = self._settings.azure_prices_url
        params: dict[str, str] | None = {"$filter": _PRICE_FILTER.format(region=region)}
        found: dict[str, tuple[bool, Price]] = {}
        while url:
            page = await self._price_page(http, url, params)
            for item in page.get("Items") or []:
                parsed = _linux_price(item)
                if parsed is None:
                    continue
                size, primary, price = parsed
                # Some sizes carry a second meter billed from another region: prefer the
                # region's own.
                if size not in found or (primary and not found[size][0]):
                    found[size] = (primary, price)
            next_link = page.get("NextPageLink")
            url, params = (str(next_link), None) if next_link else (None, None)
        return {size: price for size, (_, price) in found.items()}

    @staticmethod
    async def _price_page(
        http: httpx.AsyncClient, url: str, params: Mapping[str, str] | None
    ) -> dict[str, Any]:
        for attempt in range(PRICE_RETRIES + 1):
            try:
                response = await http.get(url, params=params)
            except httpx.HTTPError as exc:
                raise CloudError(f"The Azure Retail Prices API could not be reached: {exc}") \
                    from exc
            if response.status_code != 429 or attempt == PRICE_RETRIES:
                break
            await asyncio.sleep(_retry_after(response))
        if response.status_code != 200:
            raise CloudError(f"The Azure Retail Prices API answered {response.status_code}: "
                             f"{response.text[:300]}")
        try:
            page = response.json()
        except ValueError as exc:
            raise CloudError("The Azure Retail Prices API answered something other than "
                             "JSON.") from exc
        if not isinstance(page, dict):
            raise CloudError("The Azure Retail Prices API answered an unexpected page.")
        return page
