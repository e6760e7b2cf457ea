"""AWS VPCs and their subnets, tagged as ours and released once nothing uses them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from app.cloud.aws.client import MANAGED_TAG, AwsId, _Aws, _is_gone, _tag_spec
from app.cloud.base import CloudError, NetworkProvider, NetworkRef, NetworkSpec, SubnetSpec


class AwsNetworks(_Aws, NetworkProvider):
    """A network is a VPC with an internet gateway attached; a subnet is a subnet of it,
    with (when public) its own route table sending 0.0.0.0/0 to that gateway."""

    default_cidr = "10.0.0.0/16"  # EC2 has no default CIDR for a new VPC

    async def create_network(self, spec: NetworkSpec) -> NetworkRef:
        return await self._run("create the VPC", lambda: self._create_network(spec))

    def _create_network(self, spec: NetworkSpec) -> NetworkRef:
        ec2 = self.client(spec.region)
        tags = {"Name": spec.name, **dict(spec.tags), MANAGED_TAG[0]: MANAGED_TAG[1]}
        vpc = ec2.create_vpc(
            CidrBlock=spec.cidr_block or self.default_cidr,
            TagSpecifications=_tag_spec("vpc", tags),
        )["Vpc"]
        vpc_id = vpc["VpcId"]
        gateway_id: str | None = None
        try:
            # Public subnets need names for their instances; harmless for private ones.
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
            gateway_id = ec2.create_internet_gateway(
                TagSpecifications=_tag_spec("internet-gateway", tags)
            )["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
        except Exception:
            self._delete_quietly(ec2, vpc_id, gateway_id)
            raise
        return self._network(vpc, spec.region, gateway_id)

    @staticmethod
    def _delete_quietly(ec2: Any, vpc_id: str, gateway_id: str | None) -> None:
        steps: list[Callable[[], object]] = []
        if gateway_id:
            steps += [
                lambda: ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id),
                lambda: ec2.delete_internet_gateway(InternetGatewayId=gateway_id),
            ]
        steps.append(lambda: ec2.delete_vpc(VpcId=vpc_id))
        for step in steps:
            # Best effort: the error that brought us here is what the caller needs.
            with contextlib.suppress(ClientError, BotoCoreError):
                step()

    @staticmethod
    def _network(vpc: Mapping[str, Any], region: str, gateway_id: str | None) -> NetworkRef:
        state = vpc.get("State", "pending")
        extra = {"region": region, "aws_id": vpc["VpcId"], "cidr_block": vpc.get("CidrBlock", "")}
        if gateway_id:
            extra["internet_gateway"] = gateway_id
        return NetworkRef(
            id=f"{region}/{vpc['VpcId']}",
            status="available" if state == "available" else "pending",
            provider_status=state,
            extra=extra,
        )

    def _find_vpc(self, network_id: str) -> tuple[dict[str, Any] | None, str | None]:
        aws_id = AwsId.parse(network_id, "VPC")
        found: dict[str, Any] = {}

        def probe(ec2: Any) -> bool:
            try:
                vpcs = ec2.describe_vpcs(VpcIds=[aws_id.id])["Vpcs"]
            except ClientError as exc:
                if _is_gone(exc):
                    return False
                raise
            if vpcs:
                found.update(vpcs[0])
            return bool(vpcs)

        region = self._locate(aws_id, probe)
        return (found, region) if region else (None, None)

    @staticmethod
    def _gateways(ec2: Any, vpc_id: str) -> list[str]:
        answer = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
        )
        return [g["InternetGatewayId"] for g in answer.get("InternetGateways", [])]

    async def get_network(self, network_id: str) -> NetworkRef:
        def get() -> NetworkRef:
            vpc, region = self._find_vpc(network_id)
            if vpc is None or region is None:
                raise CloudError(f"VPC {network_id} does not exist.")
            gateways = self._gateways(self.client(region), vpc["VpcId"])
            return self._network(vpc, region, gateways[0] if gateways else None)

        return await self._run("read the VPC", get)

    async def delete_network(self, network_id: str) -> None:
        await self._run("delete the VPC", lambda: self._delete_network(network_id))

    def _delete_network(self, network_id: str) -> None:
        vpc, region = self._find_vpc(network_id)
        if vpc is None or region is None:
            return
        ec2 = self.client(region)
        vpc_id = vpc["VpcId"]
        # What this module put in the VPC goes first: AWS refuses to delete a VPC that
        # still has subnets, non-main route tables or a gateway. Instances are not
        # touched: a VPC that still has some fails with AWS's DependencyViolation.
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )["RouteTables"]
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
        for table in tables:
            if any(a.get("Main") for a in table.get("Associations", [])):
                continue
            self._delete_route_table(ec2, table)
        for subnet in subnets:
            self._retry_dependency(
                lambda s=subnet["SubnetId"]: ec2.delete_subnet(SubnetId=s)  # type: ignore[misc]
            )
        for gateway in self._gateways(ec2, vpc_id):
            ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
            ec2.delete_internet_gateway(InternetGatewayId=gateway)
        self._retry_dependency(lambda: ec2.delete_vpc(VpcId=vpc_id))

    @staticmethod
    def _delete_route_table(ec2: Any, table: Mapping[str, Any]) -> None:
        try:
            for association in table.get("Associations", []):
                if association.get("RouteTableAssociationId") and not association.get("Main"):
                    ec2.disassociate_route_table(
                        AssociationId=association["RouteTableAssociationId"]
                    )
            ec2.delete_route_table(RouteTableId=table["RouteTableId"])
        except ClientError as exc:
            if not _is_gone(exc):
                raise

    async def create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        return await self._run("create the subnet", lambda: self._create_subnet(spec))

    def _create_subnet(self, spec: SubnetSpec) -> NetworkRef:
        network = AwsId.parse(spec.network_id, "VPC")
        region = network.region or spec.region
        ec2 = self.client(region)
        tags = {"Name": spec.name, **dict(spec.tags), MANAGED_TAG[0]: MANAGED_TAG[1]}
        args: dict[str, Any] = {
            "VpcId": network.id,
            "CidrBlock": spec.cidr_block,
            "TagSpecifications": _tag_spec("subnet", tags),
        }
        if spec.zone:
            args["AvailabilityZone"] = spec.zone
        subnet = ec2.create_subnet(**args)["Subnet"]
        subnet_id = subnet["SubnetId"]
        table_id: str | None = None
        try:
            if spec.public:
                gateways = self._gateways(ec2, network.id)
                if not gateways:
                    raise CloudError(
                        f"VPC {network.id} has no internet gateway for a public subnet."
                    )
                ec2.modify_subnet_attribute(
                    SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True}
                )
                table_id = ec2.create_route_table(
                    VpcId=network.id, TagSpecifications=_tag_spec("route-table", tags)
                )["RouteTable"]["RouteTableId"]
                ec2.create_route(
                    RouteTableId=table_id,
                    DestinationCidrBlock="0.0.0.0/0",
                    GatewayId=gateways[0],
                )
                ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
        except Exception:
            # Best effort: the error that brought us here is what the caller needs.
            if table_id:
                with contextlib.suppress(ClientError, BotoCoreError):
                    ec2.delete_route_table(RouteTableId=table_id)
            with contextlib.suppress(ClientError, BotoCoreError):
                ec2.delete_subnet(SubnetId=subnet_id)
            raise
        state = subnet.get("State", "pending")
        extra = {
            "region": region, "aws_id": subnet_id, "network": network.id,
            "zone": subnet.get("AvailabilityZone", ""), "cidr_block": spec.cidr_block,
        }
        if table_id:
            extra["route_table"] = table_id
        return NetworkRef(
            id=f"{region}/{subnet_id}",
            status="available" if state == "available" else "pending",
            provider_status=state,
            extra=extra,
        )

    async def delete_subnet(self, network_id: str, subnet_id: str) -> None:
        await self._run(
            "delete the subnet", lambda: self._delete_subnet(network_id, subnet_id)
        )

    def _delete_subnet(self, network_id: str, subnet_id: str) -> None:
        subnet = AwsId.parse(subnet_id, "subnet")
        network = AwsId.parse(network_id, "VPC")
        found: dict[str, Any] = {}

        def probe(ec2: Any) -> bool:
            try:
                subnets = ec2.describe_subnets(SubnetIds=[subnet.id])["Subnets"]
            except ClientError as exc:
                if _is_gone(exc):
                    return False
                raise
            if subnets:
                found.update(subnets[0])
            return bool(subnets)

        region = self._locate(AwsId(subnet.region or network.region, subnet.id), probe)
        if region is None:
            return
        ec2 = self.client(region)
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "association.subnet-id", "Values": [subnet.id]}]
        )["RouteTables"]
        for table in tables:
            associations = table.get("Associations", [])
            # Delete the table only when it serves this subnet alone (ours does).
            if all(a.get("SubnetId") == subnet.id for a in associations):
                self._delete_route_table(ec2, table)
            else:
                for a in associations:
                    if a.get("SubnetId") == subnet.id:
                        ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
        self._retry_dependency(lambda: ec2.delete_subnet(SubnetId=subnet.id))
