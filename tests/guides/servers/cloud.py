"""Following a cloud server guide up to the API boundary: the credential the guide's
prerequisite adds, then ADD SERVER with the provider's region, instance type, storage and
OS, and the `server:provision` action it starts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests import standins
from tests.cloud.moto_server import add_ubuntu_image
from tests.guides.conftest import Guide, Workspace, unique
from tests.guides.infra_fixtures import wait_action

# What each provider's guide prerequisite (credentials/add-<provider>-credential) adds.
CREDENTIALS: dict[str, tuple[str, dict[str, str]]] = {
    "aws-ec2": ("aws", {"access_key_id": "AKIAIOSFODNN7GUIDES1",
                        "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYGUIDESKEY"}),
    "digitalocean-droplet": ("digitalocean", {"api_token": standins.DIGITALOCEAN_TOKEN}),
    "azure-rm": ("azure", dict(standins.AZURE)),
}


def gcp_key_file(google: standins.GoogleStandIn, standin_url: str) -> dict[str, str]:
    """credentials/add-gcp-credential: a service account's JSON key the stand-in knows."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = "guides-servers@guides-project.iam.gserviceaccount.com"
    google.public_keys[email] = private.public_key()
    return {"service_account_key": json.dumps({
        "type": "service_account", "project_id": "guides-project", "client_email": email,
        "private_key": private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "token_uri": f"{standin_url}/gcp/token",
    })}

# The prompts' choices: a region, an instance type, storage and the OS.
SETTINGS: dict[str, dict[str, Any]] = {
    "aws-ec2": {"region": "us-east-1", "instance_type": "t3.micro", "storage_size": 20,
                "os_version_code": "ubuntu_24_04"},
    "gcp-gce": {"region": "us-central1", "instance_type": "e2-micro", "storage_size": 20,
                "os_version_code": "ubuntu_24_04"},
    "azure-rm": {"region": "eastus", "instance_type": "Standard_B1s", "storage_size": 30,
                 "os_version_code": "ubuntu_24_04"},
    "digitalocean-droplet": {"region": "fra1", "instance_type": "s-1vcpu-1gb",
                             "storage_size": 25, "os_version_code": "ubuntu_24_04"},
}


def add_cloud_server(guide: Guide, where: Workspace, code: str, credential: Any,
                     **extra: Any) -> tuple[Any, int]:
    """CONFIRM: the server and the id of the `server:provision` action it started."""
    response = guide.c.servers.add_environment_server(where.env.id, {
        "hostname": unique("cloud"), "credential_id": credential.id,
        "provision_input": {"cloud_service_code": code, "settings": SETTINGS[code], **extra},
    })
    assert response.status == 201
    assert response.action_id is not None
    return response.data, int(response.action_id)


def provision_started(guide: Guide, server: Any, action_id: int, wait: bool = True) -> Any:
    """The `server:provision` action, once finished (or as started, where the stand-in
    cannot take it further and waiting would only spend the provider client's retries)."""
    action = guide.c.actions.get_action(action_id).data
    assert (action.type, action.resource.type, action.resource.id) == (
        "provision", "server", server.id)
    return wait_action(guide, action_id) if wait else action


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> str:
    """moto as the AWS account: Canonical's Ubuntu 24.04 image in the region (moto ships
    none), and only that one (moto's own images cost seconds in every region it opens)."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    region = SETTINGS["aws-ec2"]["region"]
    add_ubuntu_image(region, "noble", "24.04")
    return region


def aws_server(guide: Guide) -> tuple[Any, Any]:
    """A server added on AWS (moto), its instance created: the server and its provision
    action, which ends failed where it would log in (moto's instance runs no SSH)."""
    where = guide.workspace()
    provider, values = CREDENTIALS["aws-ec2"]
    credential = guide.credential(where, provider, "cloud_provider", values)
    server, action_id = add_cloud_server(guide, where, "aws-ec2", credential)
    return server, provision_started(guide, server, action_id)
