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

Layout: `client` (what the capabilities share), `compute`, `networks`, `catalogue`;
this package re-exports the names other code imports.
"""

from __future__ import annotations

from app.cloud.azure.catalogue import AzureCatalogue
from app.cloud.azure.client import image_reference
from app.cloud.azure.compute import AzureCompute
from app.cloud.azure.networks import AzureNetworks

__all__ = ["AzureCatalogue", "AzureCompute", "AzureNetworks", "image_reference"]
