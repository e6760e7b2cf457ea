"""AwsCompute and AwsNetworks through boto3 against moto's server on loopback.

A second boto3 client (`inspect`) looks at what moto holds, so the assertions are about
the resources AWS would have, not about what our code believes it sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import moto.settings as moto_settings
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from app.cloud.aws import (
    KEY_PAIR_TAG,
    SECURITY_GROUP_TAG,
    AwsCompute,
    AwsNetworks,
    _translate,
)
from app.cloud.base import (
    CloudError,
    CredentialRejected,
    Instance,
    InstanceNotFound,
    InstanceSpec,
    NetworkSpec,
    QuotaExceeded,
    SubnetSpec,
)
from app.core.settings import Settings
from tests.cloud.moto_server import add_ubuntu_image, answer_error, reset

REGION = "us-east-1"
CREDENTIAL = {"access_key_id": "AKIAMOTOTEST00000000", "secret_access_key": "moto-secret-000000"}


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return line.decode() + " devopness@test"


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    # Only the images a test adds: moto's own ~70 cost time in every region it opens.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    reset(moto_url)
    yield Settings(
        environment="test",
        aws_endpoint_url=moto_url,
        provider_timeout_seconds=5.0,
        _env_file=None,
    )
    reset(moto_url)


@pytest.fixture
def images(aws: Settings) -> dict[str, str]:
    """Canonical's AMIs as the lookup must see them, with decoys it must pass over."""
    return {
        "noble": add_ubuntu_image(REGION, "noble", "24.04", build="20250301"),
        "noble-old": add_ubuntu_image(REGION, "noble", "24.04", build="20240601"),
        "noble-arm": add_ubuntu_image(REGION, "noble", "24.04", architecture="arm64"),
        "jammy": add_ubuntu_image(
            REGION, "jammy", "22.04", build="20250101", volume_type="hvm-ssd"
        ),
        # Same name, newer, but not from Canonical's account.
        "impostor": add_ubuntu_image(
            REGION, "noble", "24.04", build="20991231", owner="111122223333"
        ),
    }


@pytest.fixture
def inspect(aws: Settings) -> Any:
    return boto3.client(
        "ec2", region_name=REGION, endpoint_url=aws.aws_endpoint_url,
        aws_access_key_id=CREDENTIAL["access_key_id"],
        aws_secret_access_key=CREDENTIAL["secret_access_key"],
    )


@pytest.fixture
def compute(aws: Settings) -> AwsCompute:
    provider = AwsCompute(CREDENTIAL, aws)
    # moto terminates at once; keep any wait short all the same.
    provider.termination_delay_seconds = 0.2
    provider.termination_max_attempts = 10
    provider.release_delay_seconds = 0.1
    return provider


def spec(**changes: Any) -> InstanceSpec:
    values: dict[str, Any] = {
        "name": "web-1",
        "region": REGION,
        "instance_type": "t3.micro",
        "storage_size_gb": 25,
        "os_version_code": "ubuntu_24_04",
        "ssh_public_key": public_key(),
        "tags": {"devopness-server-id": "12"},
    }
    return InstanceSpec(**{**values, **changes})


def described(inspect: Any, instance: Instance) -> dict[str, Any]:
    found: dict[str, Any] = inspect.describe_instances(
        InstanceIds=[instance.extra["aws_id"]]
    )["Reservations"][0]["Instances"][0]
    return found


def ours(inspect: Any) -> tuple[list[str], list[str]]:
    """Key pairs and (non-default) security groups in the account."""
    keys = [k["KeyName"] for k in inspect.describe_key_pairs()["KeyPairs"]]
    groups = [
        g["GroupId"] for g in inspect.describe_security_groups()["SecurityGroups"]
        if g["GroupName"] != "default"
    ]
    return keys, groups


# ---- create ---------------------------------------------------------------------------


async def test_create_sends_region_type_image_disk_key_and_tags(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    wanted = spec(zone="us-east-1b")
    created = await compute.create_instance(wanted)

    assert created.id == f"{REGION}/{created.extra['aws_id']}"
    assert created.status == "pending"
    assert created.extra["region"] == REGION
    key_name, group_id = created.extra["key_pair"], created.extra["security_group"]
    assert key_name.startswith("devopness-web-1-")

    instance = described(inspect, created)
    assert instance["ImageId"] == images["noble"]  # newest, Canonical's, amd64
    assert instance["InstanceType"] == "t3.micro"
    assert instance["Placement"]["AvailabilityZone"] == "us-east-1b"
    assert instance["KeyName"] == key_name
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group_id]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["Name"] == "web-1"
    assert tags["devopness-server-id"] == "12"
    assert tags[KEY_PAIR_TAG] == key_name
    assert tags[SECURITY_GROUP_TAG] == group_id

    root = instance["BlockDeviceMappings"][0]
    assert root["DeviceName"] == "/dev/sda1"
    assert root["Ebs"]["DeleteOnTermination"] is True
    volume = inspect.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]
    assert (volume["Size"], volume["VolumeType"]) == (25, "gp3")
    assert created.extra["root_volume"] == volume["VolumeId"]

    # The environment's key, imported as this server's key pair.
    pair = inspect.describe_key_pairs(KeyNames=[key_name], IncludePublicKey=True)["KeyPairs"][0]
    assert pair["PublicKey"].split()[:2] == wanted.ssh_public_key.split()[:2]
    # Root logs in with it: cloud-init is told not to fence root off.
    user_data = inspect.describe_instance_attribute(
        InstanceId=created.extra["aws_id"], Attribute="userData"
    )["UserData"]["Value"]
    config = base64.b64decode(user_data).decode()
    assert config.startswith("#cloud-config\n")
    assert json.loads(config.split("\n", 1)[1]) == {
        "disable_root": False, "ssh_authorized_keys": [wanted.ssh_public_key]
    }

    group = inspect.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert group["GroupName"] == key_name
    assert [
        (p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]])
        for p in group["IpPermissions"]
    ] == [("tcp", 22, 22, ["0.0.0.0/0"])]


async def test_os_version_and_architecture_pick_the_image(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    jammy = await compute.create_instance(spec(os_version_code="ubuntu_22_04"))
    graviton = await compute.create_instance(spec(instance_type="t4g.micro"))

    assert described(inspect, jammy)["ImageId"] == images["jammy"]
    assert described(inspect, graviton)["ImageId"] == images["noble-arm"]


async def test_user_data_for_the_ssh_user(compute: AwsCompute) -> None:
    key = public_key()
    config = compute.user_data(spec(ssh_user="ubuntu", ssh_public_key=key))
    assert json.loads(config.removeprefix("#cloud-config\n")) == {"ssh_authorized_keys": [key]}
    config = compute.user_data(spec(ssh_user="deploy", ssh_public_key=key))
    users = json.loads(config.removeprefix("#cloud-config\n"))["users"]
    assert users[0] == "default"
    assert users[1]["name"] == "deploy"
    assert users[1]["ssh_authorized_keys"] == [key]
    assert users[1]["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
    with pytest.raises(CloudError, match="not a valid Linux user"):
        compute.user_data(spec(ssh_user="Bad User"))


async def test_key_type_ec2_cannot_import_goes_by_cloud_config_alone(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    ecdsa = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()

    created = await compute.create_instance(spec(ssh_public_key=ecdsa))

    assert "key_pair" not in created.extra
    instance = described(inspect, created)
    assert "KeyName" not in instance
    user_data = inspect.describe_instance_attribute(
        InstanceId=created.extra["aws_id"], Attribute="userData"
    )["UserData"]["Value"]
    assert ecdsa in base64.b64decode(user_data).decode()
    assert ours(inspect) == ([], [created.extra["security_group"]])

    await compute.destroy_instance(created.id, destroy_disks=True)
    assert ours(inspect) == ([], [])


async def test_create_in_a_network_and_subnet(
    aws: Settings, compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    networks = AwsNetworks(CREDENTIAL, aws)
    network = await networks.create_network(NetworkSpec("prod", REGION, "10.20.0.0/16"))
    subnet = await networks.create_subnet(
        SubnetSpec("prod-a", network.id, REGION, "10.20.1.0/24", zone="us-east-1a")
    )

    in_subnet = await compute.create_instance(spec(subnet_id=subnet.id))
    in_network = await compute.create_instance(spec(network_id=network.id))

    for created in (in_subnet, in_network):
        instance = described(inspect, created)
        assert instance["SubnetId"] == subnet.extra["aws_id"]
        assert instance["VpcId"] == network.extra["aws_id"]
        assert instance["PrivateIpAddress"].startswith("10.20.1.")
        group = inspect.describe_security_groups(
            GroupIds=[created.extra["security_group"]]
        )["SecurityGroups"][0]
        assert group["VpcId"] == network.extra["aws_id"]

    with pytest.raises(CloudError, match="does not exist"):
        await compute.create_instance(spec(subnet_id=f"{REGION}/subnet-0123456789abcdef0"))


# ---- status and power -----------------------------------------------------------------


async def test_status_follows_the_instance(
    compute: AwsCompute, images: dict[str, str]
) -> None:
    created = await compute.create_instance(spec())
    assert created.status == "pending"

    running = await compute.get_instance(created.id)
    assert (running.status, running.provider_status) == ("running", "running")
    assert running.public_ip and running.private_ip
    assert running.extra["key_pair"] == created.extra["key_pair"]
    assert running.extra["security_group"] == created.extra["security_group"]

    await compute.stop_instance(created.id)
    assert (await compute.get_instance(created.id)).status == "stopped"
    await compute.start_instance(created.id)
    assert (await compute.get_instance(created.id)).status == "running"
    await compute.reboot_instance(created.id)
    assert (await compute.get_instance(created.id)).status == "running"

    # A bare EC2 id is found too (default region first).
    bare = await compute.get_instance(created.extra["aws_id"])
    assert bare.id == created.id


async def test_bare_id_in_another_region_is_located(aws: Settings, compute: AwsCompute) -> None:
    add_ubuntu_image("eu-west-1", "noble", "24.04")
    created = await compute.create_instance(spec(region="eu-west-1"))
    assert created.id.startswith("eu-west-1/")

    found = await compute.get_instance(created.extra["aws_id"])
    assert (found.id, found.extra["region"]) == (created.id, "eu-west-1")


async def test_unknown_instance(compute: AwsCompute) -> None:
    missing = f"{REGION}/i-0123456789abcdef0"
    with pytest.raises(InstanceNotFound):
        await compute.get_instance(missing)
    with pytest.raises(InstanceNotFound):
        await compute.start_instance(missing)
    with pytest.raises(InstanceNotFound):
        await compute.stop_instance(missing)
    with pytest.raises(CloudError, match="not an AWS instance id"):
        await compute.get_instance("web-1")
    await compute.destroy_instance(missing, destroy_disks=True)  # already gone: fine


# ---- destroy --------------------------------------------------------------------------


async def test_destroy_with_disks(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    created = await compute.create_instance(spec())
    volume = created.extra["root_volume"]

    await compute.destroy_instance(created.id, destroy_disks=True)

    assert described(inspect, created)["State"]["Name"] == "terminated"
    assert inspect.describe_volumes(
        Filters=[{"Name": "volume-id", "Values": [volume]}]
    )["Volumes"] == []
    assert ours(inspect) == ([], [])
    with pytest.raises(InstanceNotFound):
        await compute.get_instance(created.id)
    with pytest.raises(InstanceNotFound):
        await compute.start_instance(created.id)
    # Again, once terminated: nothing left to do, no error.
    await compute.destroy_instance(created.id, destroy_disks=True)


async def test_destroy_keeping_disks(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    created = await compute.create_instance(spec())
    volume = created.extra["root_volume"]

    await compute.destroy_instance(created.id, destroy_disks=False)

    assert described(inspect, created)["State"]["Name"] == "terminated"
    kept = inspect.describe_volumes(VolumeIds=[volume])["Volumes"][0]
    assert kept["State"] == "available"
    assert {t["Key"]: t["Value"] for t in kept["Tags"]}["Name"] == "web-1"
    assert ours(inspect) == ([], [])


async def test_destroy_leaves_what_the_user_added(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    created = await compute.create_instance(spec())
    theirs = inspect.create_security_group(GroupName="office", Description="office")["GroupId"]
    inspect.import_key_pair(KeyName="someone", PublicKeyMaterial=public_key().encode())

    await compute.destroy_instance(created.id, destroy_disks=True)

    assert ours(inspect) == (["someone"], [theirs])


async def test_destroy_says_what_is_left_and_can_be_retried(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    created = await compute.create_instance(spec())
    group = created.extra["security_group"]
    # Still in use after every bounded retry (as when the interface lingers).
    refused = answer_error(
        compute.client(REGION), "DeleteSecurityGroup", "DependencyViolation",
        f"resource {group} has a dependent object", times=compute.release_retries + 1,
    )

    with pytest.raises(CloudError) as raised:
        await compute.destroy_instance(created.id, destroy_disks=True)
    assert f"security group {group} could not be deleted yet" in str(raised.value)
    assert "dependent object" in str(raised.value)
    assert len(refused) == compute.release_retries + 1
    assert ours(inspect) == ([], [group])  # the key pair went already

    await compute.destroy_instance(created.id, destroy_disks=True)
    assert ours(inspect) == ([], [])


# ---- errors and cleanup ---------------------------------------------------------------


async def test_quota_error_cleans_up(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    message = (
        "You have requested more instances (1) than your current instance limit of 0 "
        "allows for the specified instance type."
    )
    calls = answer_error(compute.client(REGION), "RunInstances", "InstanceLimitExceeded", message)

    with pytest.raises(QuotaExceeded) as raised:
        await compute.create_instance(spec())

    assert message in str(raised.value)
    assert "InstanceLimitExceeded" in str(raised.value)
    assert len(calls) == 1
    assert "InstanceType=t3.micro" in str(calls[0]["body"])
    assert ours(inspect) == ([], [])
    assert inspect.describe_instances()["Reservations"] == []


async def test_cleanup_that_fails_is_reported(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    client = compute.client(REGION)
    answer_error(client, "RunInstances", "VcpuLimitExceeded", "You have requested more vCPU.")
    answer_error(client, "DeleteSecurityGroup", "UnauthorizedOperation", "Not allowed.")

    with pytest.raises(QuotaExceeded) as raised:
        await compute.create_instance(spec())

    [group] = ours(inspect)[1]
    assert "You have requested more vCPU." in str(raised.value)
    assert f"Left behind: security group {group}" in str(raised.value)
    assert ours(inspect) == ([], [group])  # the key pair went all the same


async def test_launch_whose_answer_was_lost_is_terminated(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    """The instance was launched but the answer never came: it must not stay running."""

    def lose_answer(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="http://ec2")

    compute.client(REGION).meta.events.register("after-call.ec2.RunInstances", lose_answer)

    with pytest.raises(CloudError, match="could not be reached"):
        await compute.create_instance(spec())

    [reservation] = inspect.describe_instances()["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "terminated"
    assert ours(inspect) == ([], [])


async def test_failure_after_the_key_pair_cleans_up(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    # moto itself refuses a zone outside the region, after key pair and group exist.
    with pytest.raises(CloudError) as raised:
        await compute.create_instance(spec(zone="eu-west-1a"))

    assert not isinstance(raised.value, QuotaExceeded)
    assert "AWS refused to create the instance" in str(raised.value)
    assert ours(inspect) == ([], [])
    assert inspect.describe_instances()["Reservations"] == []


async def test_bad_input_fails_before_creating_anything(
    compute: AwsCompute, images: dict[str, str], inspect: Any
) -> None:
    with pytest.raises(CloudError, match="not an EC2 instance type"):
        await compute.create_instance(spec(instance_type="t9.enormous"))
    with pytest.raises(CloudError, match="not offered on AWS"):
        await compute.create_instance(spec(os_version_code="centos_7"))
    with pytest.raises(CloudError, match=r"No Ubuntu 20\.04"):
        await compute.create_instance(spec(os_version_code="ubuntu_20_04"))
    assert ours(inspect) == ([], [])


@pytest.fixture
def enforced_auth(aws: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto checking signatures and IAM policies; returns a factory of IAM users' keys."""
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    iam = boto3.client("iam", endpoint_url=aws.aws_endpoint_url, region_name=REGION,
                       aws_access_key_id="AKIABOOTSTRAP0000000",
                       aws_secret_access_key="bootstrap-secret-0000")

    def user(name: str, actions: list[str]) -> dict[str, str]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="ec2", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}

    limited = user("limited", ["ec2:Describe*", "ec2:ImportKeyPair", "ec2:DeleteKeyPair",
                               "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
                               "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateTags"])
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    return limited


async def test_rejected_credentials(
    aws: Settings, enforced_auth: dict[str, str], images: dict[str, str], inspect: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unknown = AwsCompute(
        {"access_key_id": "AKIANOTAKEY000000000", "secret_access_key": "wrong-secret-00000"}, aws
    )
    with pytest.raises(CredentialRejected, match="AWS refused"):
        await unknown.create_instance(spec())
    with pytest.raises(CredentialRejected):
        await unknown.get_instance(f"{REGION}/i-0123456789abcdef0")
    with pytest.raises(CredentialRejected):
        await AwsNetworks(unknown._credential, aws).create_network(
            NetworkSpec("n", REGION, "10.0.0.0/16")
        )

    # A real key whose policy does not allow launching: refused half-way, cleaned up.
    limited = AwsCompute(enforced_auth, aws)
    with pytest.raises(CredentialRejected) as raised:
        await limited.create_instance(spec())
    # moto answers AccessDenied where EC2 says UnauthorizedOperation: both are refusals.
    assert "not authorized to perform: ec2:RunInstances" in str(raised.value)

    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    assert ours(inspect) == ([], [])


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("AuthFailure", CredentialRejected),
        ("InvalidClientTokenId", CredentialRejected),
        ("UnauthorizedOperation", CredentialRejected),
        ("InstanceLimitExceeded", QuotaExceeded),
        ("VcpuLimitExceeded", QuotaExceeded),
        ("AddressLimitExceeded", QuotaExceeded),
        ("InvalidInstanceID.NotFound", InstanceNotFound),
        ("RequestLimitExceeded", CloudError),
        ("InsufficientInstanceCapacity", CloudError),
    ],
)
def test_error_codes(code: str, kind: type[Exception]) -> None:
    error = _translate(
        ClientError({"Error": {"Code": code, "Message": "the message"}}, "RunInstances"),
        "create the instance",
    )
    assert type(error) is kind
    assert str(error) == f"AWS refused to create the instance: {code}: the message"


# ---- networks -------------------------------------------------------------------------


async def test_networks_and_subnets(aws: Settings, inspect: Any) -> None:
    networks = AwsNetworks(CREDENTIAL, aws)
    network = await networks.create_network(
        NetworkSpec("prod", REGION, "10.30.0.0/16", tags={"devopness-network-id": "4"})
    )
    vpc_id, gateway = network.extra["aws_id"], network.extra["internet_gateway"]
    assert network.id == f"{REGION}/{vpc_id}"

    vpc = inspect.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.30.0.0/16"
    assert {t["Key"]: t["Value"] for t in vpc["Tags"]}["Name"] == "prod"
    assert {t["Key"]: t["Value"] for t in vpc["Tags"]}["devopness-network-id"] == "4"
    attached = inspect.describe_internet_gateways(InternetGatewayIds=[gateway])
    assert attached["InternetGateways"][0]["Attachments"][0]["VpcId"] == vpc_id

    got = await networks.get_network(network.id)
    assert (got.status, got.extra["internet_gateway"]) == ("available", gateway)
    assert (await networks.get_network(vpc_id)).id == network.id  # bare id

    public = await networks.create_subnet(
        SubnetSpec("prod-public", network.id, REGION, "10.30.1.0/24", zone="us-east-1c")
    )
    private = await networks.create_subnet(
        SubnetSpec("prod-private", network.id, REGION, "10.30.2.0/24", public=False)
    )
    assert public.status == "available"
    subnet = inspect.describe_subnets(SubnetIds=[public.extra["aws_id"]])["Subnets"][0]
    assert (subnet["CidrBlock"], subnet["AvailabilityZone"]) == ("10.30.1.0/24", "us-east-1c")
    assert subnet["MapPublicIpOnLaunch"] is True
    table = inspect.describe_route_tables(
        RouteTableIds=[public.extra["route_table"]]
    )["RouteTables"][0]
    assert table["Associations"][0]["SubnetId"] == public.extra["aws_id"]
    assert {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": gateway} in [
        {k: r.get(k) for k in ("DestinationCidrBlock", "GatewayId")} for r in table["Routes"]
    ]
    closed = inspect.describe_subnets(SubnetIds=[private.extra["aws_id"]])["Subnets"][0]
    assert closed["MapPublicIpOnLaunch"] is False
    assert "route_table" not in private.extra

    await networks.delete_subnet(network.id, public.id)
    assert inspect.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )["Subnets"] == [closed]
    assert inspect.describe_route_tables(
        Filters=[{"Name": "route-table-id", "Values": [public.extra["route_table"]]}]
    )["RouteTables"] == []
    await networks.delete_subnet(network.id, public.id)  # already gone: fine

    # The remaining subnet goes with the network.
    await networks.delete_network(network.id)
    assert inspect.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
    assert inspect.describe_internet_gateways(
        Filters=[{"Name": "internet-gateway-id", "Values": [gateway]}]
    )["InternetGateways"] == []
    with pytest.raises(CloudError, match="does not exist"):
        await networks.get_network(network.id)
    await networks.delete_network(network.id)  # already gone: fine


async def test_network_quota_and_subnet_failure_clean_up(aws: Settings, inspect: Any) -> None:
    networks = AwsNetworks(CREDENTIAL, aws)
    answer_error(
        networks.client(REGION), "CreateInternetGateway", "InternetGatewayLimitExceeded",
        "The maximum number of internet gateways has been reached.",
    )
    before = inspect.describe_vpcs()["Vpcs"]
    with pytest.raises(QuotaExceeded, match="maximum number of internet gateways"):
        await networks.create_network(NetworkSpec("prod", REGION, "10.40.0.0/16"))
    assert inspect.describe_vpcs()["Vpcs"] == before

    # A public subnet in a VPC without a gateway: refused, the subnet not left behind.
    vpc_id = inspect.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(CloudError, match="no internet gateway"):
        await networks.create_subnet(SubnetSpec("s", f"{REGION}/{vpc_id}", REGION, "10.50.1.0/24"))
    assert inspect.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )["Subnets"] == []
