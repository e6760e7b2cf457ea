"""Azure virtual machines: each in its own resource group with its NIC, public IP and security
group."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from azure.mgmt.compute import models as compute_models
from azure.mgmt.network import models as network_models
from azure.mgmt.resource.resources import models as resource_models

from app.cloud.azure.client import (
    _POWER,
    _RESERVED_USERS,
    FALLBACK_SSH_USER,
    GROUP_PREFIX,
    OPEN_PORTS,
    _Azure,
    _tags,
    group_and_name,
    image_reference,
    parse_id,
    resource_name,
)
from app.cloud.base import (
    CloudError,
    ComputeProvider,
    CredentialRejected,
    Instance,
    InstanceNotFound,
    InstanceSpec,
)
from app.core.settings import Settings


def _server_group(name: str) -> str:
    return resource_name(f"{GROUP_PREFIX}{name}", 90)


class AzureCompute(ComputeProvider):
    def __init__(self, credential: Mapping[str, str], settings: Settings) -> None:
        self.azure = _Azure(credential, settings)

    def _vm_id(self, group: str, name: str) -> str:
        return (f"/subscriptions/{self.azure.subscription_id}/resourceGroups/{group}"
                "/providers/Microsoft.Compute/virtualMachines/" + name)

    def _split(self, instance_id: str) -> tuple[str, str]:
        return group_and_name(instance_id, "virtualmachines", "virtual machine", InstanceNotFound)

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
