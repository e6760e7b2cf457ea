"""servers/add-azure-server: Microsoft Azure needs a network and subnet of your own
(networks/add-network, subnets/add-subnet), then a credential, the server's settings,
CONFIRM, and the `server:provision` action.

Up to the API boundary: the guide server's Azure stand-in signs the credential in but
emulates no Resource Manager networks or virtual machines, so the actions cannot get past
the provider and are not waited for. Creating them against an Azure stand-in, and
provisioning the machine, are checked in tests/remote/test_cloud_servers_azure.py."""

from __future__ import annotations

from tests.guides.conftest import Guide
from tests.guides.servers.cloud import CREDENTIALS, add_cloud_server, provision_started


def test_add_azure_server(guide: Guide) -> None:
    where = guide.workspace()
    provider, values = CREDENTIALS["azure-rm"]
    credential = guide.credential(where, provider, "cloud_provider", values)
    network = guide.c.networks.add_environment_network(where.env.id, {
        "name": "guides-vnet", "credential_id": credential.id,
        "provision_input": {"cloud_service_code": "azure-rm",
                            "settings": {"region": "eastus", "cidr_block": "10.0.0.0/16"}},
    }).data
    subnet = guide.c.subnets.add_network_subnet(network.id, {
        "name": "Public Subnet A", "type": "public", "credential_id": credential.id,
        "provision_input": {"settings": {"cidr_block": "10.0.1.0/24"}},
    }).data
    server, action_id = add_cloud_server(guide, where, "azure-rm", credential,
                                         subnet_id=subnet.id)
    assert (server.provider_name, server.status) == ("azure", "provisioning")
    provision = provision_started(guide, server, action_id, wait=False)
    assert provision.targets[0].steps[0].name == "Create the cloud instance"
