"""A local stand-in for Microsoft Entra ID (the OpenID metadata and the v2.0 token
endpoint MSAL uses for a client secret) and Azure Resource Manager (resource groups,
virtual networks and subnets, public IPs, security groups, NICs, VMs, managed disks), with
the documented JSON shapes and long-running-operation headers.

It serves HTTPS (azure-identity insists on a TLS authority and azure-core on TLS for bearer
tokens) with a self-signed certificate that the tests trust through REQUESTS_CA_BUNDLE. It
checks the client secret, the Bearer token on every ARM call and the request bodies, and
keeps every resource so tests can assert what is left.

Long-running operations answer as ARM does: VM create and VM actions with 201/202 and an
`Azure-AsyncOperation` URL that reports {"status": "InProgress" | "Succeeded" | "Failed"};
group and VM deletes with 202 and a `Location` URL that answers 202 until done; the rest
synchronously with provisioningState "Succeeded".

For the catalogue it lists the subscription's locations and resource SKUs (ARM list shapes,
SKUs paged through `nextLink` `sku_page_size` at a time, `$filter=location eq '...'`
honoured) and serves the public Retail Prices API at /prices (`Items`, paged through an
absolute `NextPageLink` `price_page_size` at a time); it records a failure if a price
request carries an Authorization header or a filter other than the documented one.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import free_port

TENANT = "8f2c1d7e-0000-4000-8000-000000000001"
CLIENT_ID = "0c1b2a39-0000-4000-8000-000000000002"
CLIENT_SECRET = "azure-standin-secret"
SUBSCRIPTION = "4d5e6f70-0000-4000-8000-000000000003"
ACCESS_TOKEN = "eyJ0eXAi.azure-standin-token"
NO_RIGHTS_SUBSCRIPTION = "00000000-0000-4000-8000-00000000dead"


def _location(name: str, display: str, region_type: str = "Physical",
              zones: tuple[str, ...] = ()) -> dict[str, Any]:
    location: dict[str, Any] = {
        "id": f"/subscriptions/{SUBSCRIPTION}/locations/{name}", "name": name, "type": "Region",
        "displayName": display, "regionalDisplayName": display,
        "metadata": {"regionType": region_type,
                     "regionCategory": "Recommended" if region_type == "Physical" else "Other"},
    }
    if zones:
        location["availabilityZoneMappings"] = [
            {"logicalZone": z, "physicalZone": f"{name}-az{z}"} for z in zones]
    return location


# westus has no zones; westeurope's mappings are left out, so its zones come from the SKUs.
LOCATIONS = [
    _location("eastus", "East US", zones=("1", "2", "3")),
    _location("westus", "West US"),
    _location("westeurope", "West Europe"),
    _location("unitedstates", "United States", region_type="Logical"),
]
_ZONES = {"eastus": ["1", "2", "3"], "westeurope": ["1", "2", "3"]}


def _vm_sku(name: str, family: str, location: str, *, restrictions: tuple[dict[str, Any], ...]
            = (), **capabilities: str) -> dict[str, Any]:
    """One resource SKU entry as ARM lists them: one per size and location."""
    caps = {"HyperVGenerations": "V1,V2", "CpuArchitectureType": "x64", **capabilities}
    return {
        "resourceType": "virtualMachines", "name": name, "tier": name.split("_")[0],
        "size": name.split("_", 1)[1], "family": family, "locations": [location],
        "locationInfo": [{"location": location, "zones": _ZONES.get(location, []),
                          "zoneDetails": []}],
        "capabilities": [{"name": k, "value": v} for k, v in caps.items()],
        "restrictions": list(restrictions),
    }


def _restricted(location: str, reason: str = "NotAvailableForSubscription",
                zones: list[str] | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"locations": [location]}
    if zones:
        info["zones"] = zones
    return {"type": "Zone" if zones else "Location", "values": [location],
            "restrictionInfo": info, "reasonCode": reason}


SKUS: list[dict[str, Any]] = [
    *(_vm_sku("Standard_B1s", "standardBSFamily", loc, vCPUs="1", MemoryGB="1",
              restrictions=(_restricted(loc, zones=["3"]),) if loc == "eastus" else ())
      for loc in ("eastus", "westus", "westeurope")),
    {"resourceType": "disks", "name": "Premium_LRS", "tier": "Premium", "kind": "Disks",
     "locations": ["eastus"], "locationInfo": [{"location": "eastus", "zones": ["1", "2", "3"]}],
     "capabilities": [{"name": "MaxSizeGiB", "value": "4096"}], "restrictions": []},
    *(_vm_sku("Standard_D2ps_v5", "standardDPSv5Family", loc, vCPUs="2", MemoryGB="8",
              HyperVGenerations="V2", CpuArchitectureType="Arm64")
      for loc in ("eastus", "westeurope")),
    *(_vm_sku("Standard_D4s_v5", "standardDSv5Family", loc, vCPUs="4", MemoryGB="16",
              restrictions=(_restricted(loc),) if loc == "westus" else ())
      for loc in ("eastus", "westus", "westeurope")),
    _vm_sku("Standard_E4-2s_v5", "standardESv5Family", "eastus", vCPUs="4",
            vCPUsAvailable="2", MemoryGB="32"),
    {"resourceType": "availabilitySets", "name": "Aligned", "locations": ["eastus"],
     "locationInfo": [{"location": "eastus", "zones": []}],
     "capabilities": [{"name": "MaximumPlatformFaultDomainCount", "value": "3"}]},
    # Left out by the catalogue: Generation 1 only, confidential, and not for this offer.
    _vm_sku("Basic_A1", "basicAFamily", "eastus", vCPUs="1", MemoryGB="1.75",
            HyperVGenerations="V1"),
    _vm_sku("Standard_DC2as_v5", "standardDCASv5Family", "eastus", vCPUs="2", MemoryGB="8",
            HyperVGenerations="V2", ConfidentialComputingType="SNP"),
    _vm_sku("Standard_NC6s_v3", "standardNCSv3Family", "eastus", vCPUs="6", MemoryGB="112",
            restrictions=(_restricted("eastus", "QuotaId"),)),
]


def _price(region: str, size: str, price: float, *, product: str = "", sku: str = "",
           primary: bool = True) -> dict[str, Any]:
    """One Retail Prices item (pay-as-you-go, per hour)."""
    short = size.removeprefix("Standard_").replace("_", " ")
    return {
        "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price,
        "unitPrice": price, "armRegionName": region, "location": region,
        "effectiveStartDate": "2024-01-01T00:00:00Z", "meterId": f"meter-{region}-{size}",
        "meterName": short, "productId": "DZH318Z0BQ4L", "skuId": "DZH318Z0BQ4L/00TG",
        "productName": product or "Virtual Machines Series", "skuName": sku or short,
        "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8",
        "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": "Consumption",
        "isPrimaryMeterRegion": primary, "armSkuName": size,
    }


PRICES: list[dict[str, Any]] = [
    _price("eastus", "Standard_B1s", 0.0156, product="Virtual Machines BS Series Windows"),
    _price("eastus", "Standard_B1s", 0.0021, sku="B1s Spot"),
    _price("eastus", "Standard_B1s", 0.0104, product="Virtual Machines BS Series"),
    _price("eastus", "Standard_D2ps_v5", 0.077),
    _price("eastus", "Standard_D4s_v5", 0.25, primary=False),
    _price("eastus", "Standard_D4s_v5", 0.0384, sku="D4s v5 Low Priority"),
    _price("eastus", "Standard_D4s_v5", 0.192),
    _price("eastus", "Standard_D4s_v5", 0.21, primary=False),
    _price("eastus", "Standard_E4-2s_v5", 0.252),
    _price("eastus", "Standard_NC6s_v3", 3.06),
    _price("westus", "Standard_B1s", 0.0124),
    _price("westeurope", "Standard_B1s", 0.0114),
    _price("westeurope", "Standard_D2ps_v5", 0.085),
    # Only the Windows meter: the catalogue has no Linux price for it there.
    _price("westeurope", "Standard_D4s_v5", 0.376, product="Virtual Machines DSv5 Series Windows"),
]
_PRICE_FILTER = re.compile(r"serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
                           r"and armRegionName eq '([a-z0-9]+)'")


def credential(**overrides: str) -> dict[str, str]:
    return {"tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "subscription_id": SUBSCRIPTION, **overrides}


def _arm_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


@dataclass
class AzureStandIn:
    base: str = ""  # https://127.0.0.1:port, set once served
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # lowercased id ->
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # lowercased name ->
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    tokens_issued: int = 0
    # Knobs a test turns.
    quota_exceeded: bool = False  # VM PUT refused for the regional cores quota
    vm_fails: bool = False  # VM provisioning fails in the async operation
    hang: bool = False  # VM create never finishes
    polls: int = 1  # answers "InProgress"/202 this often before done
    sku_page_size: int = 3
    price_page_size: int = 2
    skus_busy: bool = False  # the SKU list answers 503 ServerBusy
    prices_fail: bool = False  # the Retail Prices API answers 500
    prices_throttled: int = 0  # answers 429 this often first
    sku_requests: list[dict[str, str]] = field(default_factory=list)  # query parameters
    price_requests: list[dict[str, str]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        for store in (self.resources, self.groups, self.operations):
            store.clear()
        self.requests.clear()
        self.failures.clear()
        self.quota_exceeded = self.vm_fails = self.hang = False
        self.polls = 1
        self.sku_requests.clear()
        self.price_requests.clear()
        self.sku_page_size, self.price_page_size, self.prices_throttled = 3, 2, 0
        self.skus_busy = self.prices_fail = False

    @property
    def login_url(self) -> str:
        return f"{self.base}/login"

    @property
    def management_url(self) -> str:
        return f"{self.base}/arm"

    def names(self, kind: str) -> list[str]:
        """Names of the resources of one type (e.g. "virtualMachines") still held."""
        return sorted(r["name"] for r in self.resources.values()
                      if r["type"].lower().endswith("/" + kind.lower()))

    # ------------------------------------------------------------------ Entra ID

    async def openid(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant != TENANT:
            return JSONResponse({"error": "invalid_tenant", "error_description":
                                 f"AADSTS90002: Tenant '{tenant}' not found."}, status_code=400)
        root = f"{self.login_url}/{tenant}"
        return JSONResponse({
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "issuer": f"{root}/v2.0",
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "private_key_jwt"],
        })

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (form.get("grant_type") != "client_credentials"
                or form.get("client_id") != CLIENT_ID
                or request.path_params["tenant"] != TENANT):
            return JSONResponse({"error": "unauthorized_client", "error_description":
                                 "AADSTS700016: Application not found in the directory."},
                                status_code=400)
        if form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse({"error": "invalid_client", "error_description":
                                 "AADSTS7000215: Invalid client secret provided."},
                                status_code=401)
        if "https://management.azure.com/.default" not in form.get("scope", "").split():
            self.failures.append(f"token scope {form.get('scope')!r}")
        self.tokens_issued += 1
        return JSONResponse({"token_type": "Bearer", "expires_in": 3599,
                             "ext_expires_in": 3599, "access_token": ACCESS_TOKEN})

    # ------------------------------------------------------------------ ARM plumbing

    def _operation(self, *, fail: dict[str, Any] | None = None,
                   on_done: Callable[[], None] | None = None) -> str:
        name = f"op-{next(self._ids)}"
        self.operations[name] = {"polls": self.polls, "fail": fail, "on_done": on_done,
                                 "done": False}
        return name

    def _finish(self, op: dict[str, Any]) -> bool:
        """Advance one poll; True once the operation is over."""
        if op["done"]:
            return True
        if self.hang or op["polls"] > 0:
            if not self.hang:
                op["polls"] -= 1
            return False
        op["done"] = True
        if op["on_done"]:
            op["on_done"]()
        return True

    async def async_operation(self, request: Request) -> Response:
        if not self._authorized(request):
            return _arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        op = self.operations[request.path_params["op"]]
        if not self._finish(op):
            return JSONResponse({"status": "InProgress"}, headers={"Retry-After": "0"})
        if op["fail"]:
            return JSONResponse({"status": "Failed", "error": op["fail"]})
        return JSONResponse({"status": "Succeeded"})

    async def location(self, request: Request) -> Response:
        if not self._authorized(request):
            return _arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        op = self.operations[request.path_params["op"]]
        if not self._finish(op):
            return Response(status_code=202, headers={"Retry-After": "0",
                                                      "Location": str(request.url)})
        return Response(status_code=200)

    def _lro_headers(self, op: str, *, location: bool) -> dict[str, str]:
        headers = {"Azure-AsyncOperation": f"{self.management_url}/operations/{op}",
                   "Retry-After": "0"}
        if location:
            headers = {"Location": f"{self.management_url}/locations/{op}", "Retry-After": "0"}
        return headers

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {ACCESS_TOKEN}"

    # ------------------------------------------------------------------ ARM

    async def arm(self, request: Request) -> Response:
        if not self._authorized(request):
            return _arm_error(401, "InvalidAuthenticationToken",
                              "The access token is missing or invalid.")
        if "api-version" not in request.query_params:
            return _arm_error(400, "MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required.")
        raw = await request.body()
        body = json.loads(raw) if raw else None
        path = "/" + request.path_params["rest"]
        self.requests.append((request.method, path, body))
        parts = path.strip("/").split("/")
        if parts[1] == NO_RIGHTS_SUBSCRIPTION:
            return _arm_error(403, "AuthorizationFailed",
                              f"The client '{CLIENT_ID}' with object id '{CLIENT_ID}' does not "
                              f"have authorization to perform action over scope '{path}'.")
        if parts[:2] != ["subscriptions", SUBSCRIPTION]:
            return _arm_error(404, "SubscriptionNotFound",
                              f"The subscription '{parts[1]}' could not be found.")
        if request.method == "GET" and len(parts) == 3 and parts[2] == "locations":
            return JSONResponse({"value": LOCATIONS})
        if request.method == "GET" and parts[2:] == ["providers", "Microsoft.Compute", "skus"]:
            return self._skus(dict(request.query_params))
        try:
            if len(parts) == 4 and parts[2].lower() == "resourcegroups":
                return self._group(request.method, parts[3], body)
            return self._resource(request.method, path, parts, body,
                                  dict(request.query_params))
        except AssertionError as exc:
            self.failures.append(f"{request.method} {path}: {exc}")
            return _arm_error(400, "InvalidRequestContent", f"stand-in check failed: {exc}")

    def _skus(self, query: dict[str, str]) -> Response:
        self.sku_requests.append(query)
        if self.skus_busy:
            busy = _arm_error(503, "ServerBusy", "The server is currently unable to handle "
                              "the request. Please retry.")
            busy.headers["Retry-After-Ms"] = "10"  # the SDK retries: let it do so quickly
            return busy
        skus = SKUS
        if "$filter" in query:
            match = re.fullmatch(r"location eq '([a-z0-9]+)'", query["$filter"])
            if match is None:
                self.failures.append(f"SKU filter {query['$filter']!r}")
                return _arm_error(400, "InvalidFilter", "Only the location filter is supported.")
            skus = [s for s in SKUS if match[1] in s["locations"]]
        start = int(query.get("$skiptoken", "0"))
        page: dict[str, Any] = {"value": skus[start:start + self.sku_page_size]}
        if start + self.sku_page_size < len(skus):
            more = {k: v for k, v in query.items() if k != "$skiptoken"}
            more["$skiptoken"] = str(start + self.sku_page_size)
            page["nextLink"] = (f"{self.management_url}/subscriptions/{SUBSCRIPTION}/providers/"
                                f"Microsoft.Compute/skus?{urlencode(more)}")
        return JSONResponse(page)

    # ------------------------------------------------------------------ Retail Prices

    @property
    def prices_url(self) -> str:
        return f"{self.base}/prices"

    async def prices(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.price_requests.append(query)
        if "authorization" in request.headers:
            self.failures.append("a credential was sent to the public Retail Prices API")
        match = _PRICE_FILTER.fullmatch(query.get("$filter", ""))
        if match is None:
            self.failures.append(f"price filter {query.get('$filter')!r}")
            return JSONResponse({"Error": {"Code": "InvalidFilter", "Message": "Invalid OData "
                                           "filter."}}, status_code=400)
        if self.prices_throttled:
            self.prices_throttled -= 1
            return JSONResponse({"Error": {"Code": "TooManyRequests", "Message": "Too many "
                                           "requests."}}, status_code=429,
                                headers={"Retry-After": "0"})
        if self.prices_fail:
            return JSONResponse({"Error": {"Code": "InternalServerError", "Message": "An "
                                           "error occurred."}}, status_code=500)
        items = [p for p in PRICES if p["armRegionName"] == match[1]]
        start = int(query.get("$skip", "0"))
        end = start + self.price_page_size
        more = {"$filter": query["$filter"], "$skip": str(end)}
        return JSONResponse({
            "BillingCurrency": "USD", "CustomerEntityId": "Default",
            "CustomerEntityType": "Retail", "Items": items[start:end],
            "NextPageLink": f"{self.prices_url}?{urlencode(more)}" if end < len(items) else None,
            "Count": len(items[start:end]),
        })

    def _group(self, method: str, name: str, body: Any) -> Response:
        key = name.lower()
        group_id = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"
        if method == "HEAD":
            return Response(status_code=204 if key in self.groups else 404)
        if method == "PUT":
            assert body["location"], body
            created = key not in self.groups
            self.groups[key] = {"id": group_id, "name": name, "type":
                                "Microsoft.Resources/resourceGroups",
                                "location": body["location"], "tags": body.get("tags", {}),
                                "properties": {"provisioningState": "Succeeded"}}
            return JSONResponse(self.groups[key], status_code=201 if created else 200)
        if method == "GET":
            if key not in self.groups:
                return self._group_missing(name)
            return JSONResponse(self.groups[key])
        if method == "DELETE":
            if key not in self.groups:
                return self._group_missing(name)
            prefix = group_id.lower() + "/"

            def drop() -> None:
                self.groups.pop(key, None)
                for rid in [r for r in self.resources if r.startswith(prefix)]:
                    del self.resources[rid]
            op = self._operation(on_done=drop)
            return Response(status_code=202, headers=self._lro_headers(op, location=True))
        return _arm_error(405, "MethodNotAllowed", method)

    @staticmethod
    def _group_missing(name: str) -> Response:
        return _arm_error(404, "ResourceGroupNotFound", f"Resource group '{name}' could not "
                          "be found.")

    def _resource(self, method: str, path: str, parts: list[str], body: Any,
                  query: dict[str, str]) -> Response:
        # /subscriptions/S/resourceGroups/G/providers/NS/type/name[/child/name][/action]
        group = parts[3]
        if parts[2] != "resourceGroups" or parts[4] != "providers":
            return _arm_error(400, "InvalidResourceId", path)
        action = parts[8] if len(parts) == 9 else None
        rid = "/" + "/".join(parts[:8] if action else parts)
        kind = "/".join(parts[5:7] + ([parts[8]] if len(parts) >= 10 else []))
        key = rid.lower()
        if method == "PUT":
            if group.lower() not in self.groups:
                return self._group_missing(group)
            return self._put(rid, kind, parts, body)
        if method == "GET":
            if key not in self.resources:
                return self._missing(kind, parts[-1], group)
            resource = self.resources[key]
            if kind == "Microsoft.Compute/virtualMachines":
                return JSONResponse(self._vm_view(resource, query.get("$expand")))
            return JSONResponse(resource)
        if method == "DELETE":
            if key not in self.resources:
                return Response(status_code=204)  # ARM: deleting what is gone is fine
            return self._delete(key, kind)
        if method == "POST" and action and kind == "Microsoft.Compute/virtualMachines":
            if key not in self.resources:
                return self._missing(kind, parts[7], group)
            return self._vm_action(self.resources[key], action)
        return _arm_error(400, "UnsupportedRequest", f"{method} {path}")

    @staticmethod
    def _missing(kind: str, name: str, group: str) -> Response:
        return _arm_error(404, "ResourceNotFound", f"The Resource '{kind}/{name}' under "
                          f"resource group '{group}' was not found.")

    def _find(self, resource_id: str, kind: str) -> dict[str, Any]:
        found = self.resources.get(resource_id.lower())
        assert found is not None, f"{kind} {resource_id} does not exist"
        return found

    def _put(self, rid: str, kind: str, parts: list[str], body: Any) -> Response:
        props = body.get("properties", {}) if kind.endswith("/subnets") else body["properties"]
        if not kind.endswith("/subnets"):
            assert body["location"], "location is required"
        record: dict[str, Any] = {"id": rid, "name": parts[-1], "type": kind,
                                  "location": body.get("location"),
                                  "tags": body.get("tags", {}),
                                  "properties": {**props, "provisioningState": "Succeeded"}}
        check = {
            "Microsoft.Network/virtualNetworks": self._check_vnet,
            "Microsoft.Network/virtualNetworks/subnets": self._check_subnet,
            "Microsoft.Network/publicIPAddresses": self._check_ip,
            "Microsoft.Network/networkSecurityGroups": self._check_nsg,
            "Microsoft.Network/networkInterfaces": self._check_nic,
        }.get(kind)
        if kind == "Microsoft.Compute/virtualMachines":
            return self._put_vm(record, body)
        if check is None:
            return _arm_error(400, "UnsupportedResourceType", kind)
        check(record, body)
        created = rid.lower() not in self.resources
        self.resources[rid.lower()] = record
        return JSONResponse(record, status_code=201 if created else 200)

    def _check_vnet(self, record: dict[str, Any], body: Any) -> None:
        props = record["properties"]
        for prefix in props["addressSpace"]["addressPrefixes"]:
            ipaddress.ip_network(prefix)
        subnets = []
        for subnet in props.get("subnets", []):
            sid = f"{record['id']}/subnets/{subnet['name']}"
            child = {"id": sid, "name": subnet["name"],
                     "type": "Microsoft.Network/virtualNetworks/subnets",
                     "properties": {**subnet["properties"], "provisioningState": "Succeeded"}}
            self.resources[sid.lower()] = child
            subnets.append(child)
        props["subnets"] = subnets

    def _check_subnet(self, record: dict[str, Any], body: Any) -> None:
        vnet = self._find(record["id"].rsplit("/subnets/", 1)[0], "virtual network")
        prefix = ipaddress.ip_network(record["properties"]["addressPrefix"])
        space = [ipaddress.ip_network(p)
                 for p in vnet["properties"]["addressSpace"]["addressPrefixes"]]
        assert any(prefix.subnet_of(s) for s in space), f"{prefix} outside {space}"  # type: ignore[arg-type]
        record.pop("location")
        vnet["properties"]["subnets"] = [
            s for s in vnet["properties"]["subnets"] if s["id"] != record["id"]] + [record]

    def _check_ip(self, record: dict[str, Any], body: Any) -> None:
        assert body["sku"]["name"] == "Standard", "Basic public IPs are retired"
        assert record["properties"]["publicIPAllocationMethod"] == "Static", \
            "Standard public IPs are static"
        record["sku"] = body["sku"]
        record["properties"]["ipAddress"] = f"20.51.{next(self._ids) % 250}.{7}"

    def _check_nsg(self, record: dict[str, Any], body: Any) -> None:
        rules = record["properties"]["securityRules"]
        assert any(r["properties"]["destinationPortRange"] == "22"
                   and r["properties"]["access"] == "Allow"
                   and r["properties"]["direction"] == "Inbound" for r in rules), \
            "SSH must be allowed in"

    def _check_nic(self, record: dict[str, Any], body: Any) -> None:
        props = record["properties"]
        self._find(props["networkSecurityGroup"]["id"], "network security group")
        (config,) = props["ipConfigurations"]
        self._find(config["properties"]["subnet"]["id"], "subnet")
        self._find(config["properties"]["publicIPAddress"]["id"], "public IP")
        config["properties"]["privateIPAddress"] = "10.0.0.4"
        config["id"] = f"{record['id']}/ipConfigurations/{config['name']}"

    def _put_vm(self, record: dict[str, Any], body: Any) -> Response:
        props = record["properties"]
        storage = props["storageProfile"]
        image = storage["imageReference"]
        assert image["publisher"] == "Canonical" and image["version"] == "latest", image
        assert isinstance(storage["osDisk"]["diskSizeGB"], int)
        assert storage["osDisk"]["createOption"] == "FromImage"
        os_profile = props["osProfile"]
        user = os_profile["adminUsername"]
        assert user not in ("root", "admin"), f"adminUsername {user} is not allowed"
        linux = os_profile["linuxConfiguration"]
        assert linux["disablePasswordAuthentication"] is True
        (key,) = linux["ssh"]["publicKeys"]
        assert key["path"] == f"/home/{user}/.ssh/authorized_keys", key
        assert key["keyData"].startswith("ssh-"), key
        (nic,) = props["networkProfile"]["networkInterfaces"]
        self._find(nic["id"], "network interface")
        if self.quota_exceeded:
            return _arm_error(
                409, "OperationNotAllowed",
                "Operation could not be completed as it results in exceeding approved "
                f"standardBSFamily Cores quota. Additional details - Deployment Model: "
                f"Resource Manager, Location: {record['location']}, Current Limit: 4, "
                "Current Usage: 4, Additional Required: 2, (Minimum) New Limit Required: 6.",
            )
        disk_name = storage["osDisk"]["name"]
        group_id = record["id"].split("/providers/")[0]
        disk_id = f"{group_id}/providers/Microsoft.Compute/disks/{disk_name}"
        storage["osDisk"]["managedDisk"]["id"] = disk_id
        props["vmId"] = f"vm-{next(self._ids)}"
        props["provisioningState"] = "Creating"
        record["_power"] = None
        self.resources[record["id"].lower()] = record

        def created() -> None:
            props["provisioningState"] = "Succeeded"
            record["_power"] = "starting"
            self.resources[disk_id.lower()] = {
                "id": disk_id, "name": disk_name, "type": "Microsoft.Compute/disks",
                "location": record["location"],
                "properties": {"diskSizeGB": storage["osDisk"]["diskSizeGB"],
                               "diskState": "Attached"}}

        def failed() -> None:
            props["provisioningState"] = "Failed"

        fail = None
        if self.vm_fails:
            fail = {"code": "OSProvisioningTimedOut", "message": "OS Provisioning for VM "
                    f"'{record['name']}' did not finish in the allotted time."}
        op = self._operation(fail=fail, on_done=failed if fail else created)
        return JSONResponse(self._vm_view(record, None), status_code=201,
                            headers=self._lro_headers(op, location=False))

    def _vm_view(self, record: dict[str, Any], expand: str | None) -> dict[str, Any]:
        view = {k: v for k, v in record.items() if not k.startswith("_")}
        power = record.get("_power")
        if expand == "instanceView":
            state = view["properties"]["provisioningState"].lower()
            statuses = [{"code": f"ProvisioningState/{state}", "level": "Info"}]
            if power:
                statuses.append({"code": f"PowerState/{power}", "level": "Info",
                                 "displayStatus": f"VM {power}"})
            view = {**view, "properties": {**view["properties"], "instanceView": {
                "computerName": view["properties"]["osProfile"]["computerName"],
                "statuses": statuses}}}
        # Each look at the power state moves a transition on, as Azure does over time.
        if expand == "instanceView" and power in ("starting", "deallocating", "stopping"):
            record["_power"] = {"starting": "running", "deallocating": "deallocated",
                                "stopping": "stopped"}[power]
        return view

    def _vm_action(self, record: dict[str, Any], action: str) -> Response:
        targets = {"start": "starting", "deallocate": "deallocating", "restart": "running",
                   "powerOff": "stopping"}
        if action not in targets:
            return _arm_error(400, "UnsupportedAction", action)
        record.setdefault("_actions", []).append(action)
        op = self._operation(on_done=lambda: record.__setitem__("_power", targets[action]))
        headers = self._lro_headers(op, location=False)
        headers["Location"] = f"{self.management_url}/locations/{op}"
        return Response(status_code=202, headers=headers)

    def _delete(self, key: str, kind: str) -> Response:
        record = self.resources[key]
        if kind == "Microsoft.Network/networkInterfaces":
            assert not any(
                nic["id"].lower() == key
                for r in self.resources.values() if r["type"] == "Microsoft.Compute/virtualMachines"
                for nic in r["properties"]["networkProfile"]["networkInterfaces"]
            ), "the NIC is still attached to a VM"
        if kind == "Microsoft.Compute/virtualMachines":
            def drop() -> None:
                self.resources.pop(key, None)
                disk = record["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
                if disk.lower() in self.resources:
                    self.resources[disk.lower()]["properties"]["diskState"] = "Unattached"
            op = self._operation(on_done=drop)
            return Response(status_code=202, headers=self._lro_headers(op, location=True))
        if kind.endswith("/subnets"):
            vnet = self.resources[key.rsplit("/subnets/", 1)[0]]
            vnet["properties"]["subnets"] = [
                s for s in vnet["properties"]["subnets"] if s["id"].lower() != key]
        if kind == "Microsoft.Network/virtualNetworks":
            for sid in [r for r in self.resources if r.startswith(key + "/subnets/")]:
                del self.resources[sid]
        del self.resources[key]
        return Response(status_code=200)


def build_app(standin: AzureStandIn) -> Starlette:
    return Starlette(routes=[
        Route("/login/{tenant}/v2.0/.well-known/openid-configuration", standin.openid),
        Route("/login/{tenant}/oauth2/v2.0/token", standin.token, methods=["POST"]),
        Route("/arm/operations/{op}", standin.async_operation),
        Route("/arm/locations/{op}", standin.location),
        Route("/prices", standin.prices),
        Route("/arm/{rest:path}", standin.arm,
              methods=["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"]),
    ])


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) files for https://127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "standin.crt", folder / "standin.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_file, key_file


@contextmanager
def serve_tls(app: Any, port: int, cert: Path, key: Path) -> Iterator[str]:
    """Run `app` with uvicorn over TLS in a thread on 127.0.0.1:port until the block ends."""
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
        ssl_certfile=str(cert), ssl_keyfile=str(key),
        # The SDKs keep pooled connections open: do not wait on them at the end.
        timeout_graceful_shutdown=1,
    ))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("stand-in server did not start")
        time.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serving(standin: AzureStandIn, workdir: Path) -> Iterator[AzureStandIn]:
    """Serve `standin` over TLS with a fresh self-signed certificate that the SDKs trust
    (requests reads REQUESTS_CA_BUNDLE, the Retail Prices client SSL_CERT_FILE) until the
    block ends."""
    cert, key = self_signed_certificate(workdir)
    with pytest.MonkeyPatch.context() as patch, \
            serve_tls(build_app(standin), free_port(), cert, key) as url:
        patch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        patch.setenv("SSL_CERT_FILE", str(cert))
        standin.base = url
        yield standin
