"""servers/add-server: the overview. Servers are provisioned on one of several cloud
providers or an existing server is connected; each has its own guide (add-aws-server,
add-azure-server, add-digitalocean-server, add-gcp-server, add-existing-server).

Followed as the choice ADD SERVER offers: each cloud service those guides name answers with
the regions the prompts offer, and an existing server is added by address."""

from __future__ import annotations

import pytest

from tests.guides.conftest import Guide


@pytest.mark.parametrize("code", ["aws-ec2", "azure-rm", "digitalocean-droplet", "gcp-gce"])
def test_add_server(guide: Guide, code: str) -> None:
    service = guide.c.static.get_static_cloud_provider_service(code).data
    assert service.regions, f"{code} offers no region"


def test_add_server_existing(guide: Guide) -> None:
    where = guide.workspace()
    server = guide.loopback_server(where.env.id)
    assert server.provider_name == "self-hosted"
