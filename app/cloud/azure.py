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
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as network_models
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources import models as resource_models

from app.cloud.base import (
    CloudError,
    ComputeProvider,
    CredentialRejected,
    Instance,
    InstanceNotFound,
    InstanceSpec,
    NetworkProvider,
    NetworkRef,
    NetworkSpec,
    QuotaExceeded,
    SubnetSpec,
)
from app.core.settings import Settings

__all__ = ["AzureCompute", "AzureNetworks"]

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

    def client(self, cls: type[T]) -> T:
        if cls not in self._clients:
            if not self.subscription_id:
                raise CredentialRejected("The Azure credential has no subscription_id.")
            self._clients[cls] = cls(  # type: ignore[call-arg]
                self._identity(),
                self.subscription_id,
                base_url=self._settings.azure_management_url.rstrip("/"),
                credential_scopes=[SCOPE],
                polling_interval=self.polling_interval,
                connection_timeout=self._settings.provider_timeout_seconds,
                read_timeout=self._settings.provider_timeout_seconds,
            )
        client: T = self._clients[cls]
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
    return {**{str(k)[:512]: str(v)[:256] for k, v in tags.items()}, "managed-by": "devopness",
            **more}


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
