"""Fixtures that point the provider adapters at local stand-ins (moto for AWS)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import moto.settings as moto_settings
import pytest
from moto.server import ThreadedMotoServer

from app.core.settings import Settings
from tests import standins
from tests.conftest import free_port


@pytest.fixture(scope="session")
def google() -> standins.GoogleStandIn:
    return standins.GoogleStandIn()


@pytest.fixture(scope="session")
def standin_url(google: standins.GoogleStandIn) -> Iterator[str]:
    with standins.serve(standins.build_app(google), free_port()) as url:
        yield url


@pytest.fixture
def providers(settings: Settings, standin_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    base = standin_url
    for name, value in {
        "github_api_url": f"{base}/github",
        "github_web_url": f"{base}/github-web",
        "gitlab_url": f"{base}/gitlab",
        "bitbucket_api_url": f"{base}/bitbucket/2.0",
        "bitbucket_web_url": f"{base}/bitbucket-web",
        "digitalocean_api_url": f"{base}/digitalocean/v2",
        "hetzner_api_url": f"{base}/hetzner/v1",
        "azure_login_url": f"{base}/azure-login",
        "azure_management_url": f"{base}/azure",
        "gcp_compute_url": f"{base}/gcp/compute/v1",
        "provider_timeout_seconds": 5.0,
    }.items():
        monkeypatch.setattr(settings, name, value)
    return base


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_key(moto_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An IAM user's key in moto, with moto enforcing signatures from then on."""
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1",
                       aws_access_key_id="AKIABOOTSTRAP0000000",
                       aws_secret_access_key="bootstrap-secret-0000")
    name = f"deployer-{free_port()}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sts:*", "ec2:*"], "Resource": "*"}],
    }))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(settings, "aws_endpoint_url", moto_url)
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
