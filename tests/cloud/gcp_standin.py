"""A local stand-in for Google's OAuth token endpoint, the Compute Engine v1 REST API
(the subset GcpCompute/GcpNetworks/GcpCatalogue call) and the Cloud Billing Catalog
API's SKU list, with the documented JSON shapes.

It verifies the service account's RS256 assertion with the key's public half, requires
the Bearer token it issued (for the scope the API needs) on every call, checks request
bodies and query parameters, and keeps the instances, disks, networks and subnetworks it
holds so tests can assert cleanup. The list calls page with a small page size.
"""

from __future__ import annotations

import itertools
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PROJECT = "devopness-test"
CLIENT_EMAIL = f"provisioner@{PROJECT}.iam.gserviceaccount.com"
ACCESS_TOKEN = "ya29.gce-standin-token"
BILLING_TOKEN = "ya29.billing-standin-token"
BILLING_SCOPES = ("https://www.googleapis.com/auth/cloud-billing.readonly",
                  "https://www.googleapis.com/auth/cloud-platform")
COMPUTE_ENGINE_SERVICE = "6F81-5844-456A"
BASE = "https://www.googleapis.com/compute/v1"


def _error(code: int, message: str, reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message,
                   "errors": [{"message": message, "domain": "global", "reason": reason}]}},
        status_code=code,
    )


def new_key() -> tuple[str, Any]:
    """(PEM private key, public key) of a fresh RSA pair."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, private.public_key()


@dataclass
class GceStandIn:
    public_key: Any = None
    instances: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    disks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    subnets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # path, query
    failures: list[str] = field(default_factory=list)  # our requests it found wrong
    self_signed: int = 0  # requests authorised by a self-signed service account JWT
    # Knobs a test turns.
    quota_exceeded: bool = False
    operation_polls: int = 0  # GETs an operation answers RUNNING before it is DONE
    page_size: int = 3  # what list calls answer at most per page, whatever is asked
    billing_disabled: bool = False  # the project has not enabled the Cloud Billing API
    machine_types_status: int | None = None  # aggregated machineTypes answers this error
    regions: list[dict[str, Any]] = field(default_factory=lambda: _regions())
    machine_types: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: _machine_types())
    skus: list[dict[str, Any]] = field(default_factory=lambda: _skus())
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def reset(self) -> None:
        for store in (self.instances, self.disks, self.networks, self.subnets,
                      self.operations):
            store.clear()
        self.requests.clear()
        self.queries.clear()
        self.failures.clear()
        self.quota_exceeded = False
        self.operation_polls = 0
        self.page_size = 3
        self.billing_disabled = False
        self.machine_types_status = None

    def key_json(self, private_pem: str) -> str:
        return json.dumps({
            "type": "service_account", "project_id": PROJECT, "private_key_id": "k1",
            "private_key": private_pem, "client_email": CLIENT_EMAIL,
            "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
        })

    # ------------------------------------------------------------------ auth

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = jwt.decode(
                form.get("assertion", ""), self.public_key, algorithms=["RS256"],
                # google-auth names Google's token endpoint whatever token_uri says, and
                # Google requires that audience.
                audience=["https://oauth2.googleapis.com/token", str(request.url)],
            )
        except jwt.PyJWTError:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status_code=400,
            )
        scopes = claims.get("scope", "").split()
        if claims.get("iss") != CLIENT_EMAIL:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if "https://www.googleapis.com/auth/compute" in scopes:
            token = ACCESS_TOKEN
        elif any(scope in scopes for scope in BILLING_SCOPES):
            token = BILLING_TOKEN
        else:
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        return JSONResponse({"access_token": token, "expires_in": 3599,
                             "token_type": "Bearer"})

    # ------------------------------------------------------------------ plumbing

    def _operation(self, kind: str, target: str, *, zone: str | None = None,
                   region: str | None = None, error: dict[str, Any] | None = None,
                   on_done: Any = None) -> dict[str, Any]:
        name = f"operation-{next(self._ids)}"
        op: dict[str, Any] = {
            "kind": "compute#operation", "id": str(next(self._ids)), "name": name,
            "operationType": kind, "targetLink": target, "status": "RUNNING",
            "progress": 0, "selfLink": f"{BASE}/projects/{PROJECT}/operations/{name}",
        }
        if zone:
            op["zone"] = f"{BASE}/projects/{PROJECT}/zones/{zone}"
        if region:
            op["region"] = f"{BASE}/projects/{PROJECT}/regions/{region}"
        op["_polls"] = self.operation_polls
        op["_error"] = error
        op["_on_done"] = on_done
        self.operations[name] = op
        self._advance(op)
        return self._public(op)

    def _advance(self, op: dict[str, Any]) -> None:
        if op["status"] == "DONE":
            return
        if op["_polls"] > 0:
            op["_polls"] -= 1
            return
        op["status"], op["progress"] = "DONE", 100
        if op["_error"]:
            op["error"] = {"errors": [op["_error"]]}
            op["httpErrorStatusCode"] = 403
            op["httpErrorMessage"] = "FORBIDDEN"
        elif op["_on_done"]:
            op["_on_done"]()

    @staticmethod
    def _public(op: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in op.items() if not k.startswith("_")}

    def _authorized(self, request: Request) -> bool:
        """The token from /token, or (what google-auth sends for service accounts to
        Google APIs) a JWT the service account signed itself, scoped for compute."""
        header = request.headers.get("authorization", "")
        if header == f"Bearer {ACCESS_TOKEN}":
            return True
        if not header.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(header.removeprefix("Bearer "), self.public_key,
                                algorithms=["RS256"], options={"verify_aud": False})
        except jwt.PyJWTError:
            return False
        self.self_signed += 1
        return (claims.get("iss") == claims.get("sub") == CLIENT_EMAIL
                and "https://www.googleapis.com/auth/compute" in claims.get("scope", ""))

    async def _log(self, request: Request) -> Any:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        self.requests.append((request.method, request.url.path, body))
        return body

    # ------------------------------------------------------------------ compute API

    async def compute(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Request had invalid authentication credentials.",
                          "authError")
        if request.path_params["project"] != PROJECT:
            return _error(403, "Required 'compute.instances.get' permission", "forbidden")
        body = await self._log(request)
        self.queries.append((request.url.path, dict(request.query_params)))
        parts = request.path_params["rest"].split("/")
        method = request.method
        try:
            return self._route(method, parts, body, dict(request.query_params))
        except AssertionError as exc:
            self.failures.append(f"{method} {request.url.path}: {exc}")
            return _error(400, f"Invalid value: {exc}", "invalid")
        except KeyError as exc:
            return _error(404, f"The resource '{exc.args[0]}' was not found", "notFound")

    def _route(self, method: str, parts: list[str], body: Any,
               query: dict[str, str]) -> Response:
        match parts:
            case ["zones" | "regions", _, "operations", name] | ["global", "operations", name]:
                op = self.operations[name]
                self._advance(op)
                return JSONResponse(self._public(op))
            case ["regions"] if method == "GET":
                return JSONResponse(self._region_list(query))
            case ["aggregated", "machineTypes"] if method == "GET":
                if self.machine_types_status:
                    return _error(self.machine_types_status, "Internal error. Please try "
                                  "again or contact Google Support.", "backendError")
                return JSONResponse(self._machine_type_list(query))
            case ["zones", zone, "instances"] if method == "POST":
                return self._insert_instance(zone, body)
            case ["zones", zone, "instances", name] if method == "GET":
                return JSONResponse(self._instance_view(zone, name))
            case ["zones", zone, "instances", name] if method == "DELETE":
                instance = self.instances[(zone, name)]

                def delete() -> None:
                    for disk in instance["disks"]:
                        if disk["autoDelete"]:
                            self.disks.pop((zone, disk["deviceName"]), None)
                    del self.instances[(zone, name)]
                return JSONResponse(self._operation("delete", name, zone=zone, on_done=delete))
            case ["zones", zone, "instances", name, action] if method == "POST":
                return self._instance_action(zone, name, action, query)
            case ["global", "networks"] if method == "POST":
                assert body["autoCreateSubnetworks"] is False
                name = body["name"]
                if name in self.networks:
                    return _error(409, f"The resource '{name}' already exists",
                                  "alreadyExists")

                def make() -> None:
                    self.networks[name] = {
                        **body, "id": str(next(self._ids)), "kind": "compute#network",
                        "selfLink": f"{BASE}/projects/{PROJECT}/global/networks/{name}",
                        "subnetworks": [],
                    }
                return JSONResponse(self._operation("insert", name, on_done=make))
            case ["global", "networks", name] if method == "GET":
                return JSONResponse(self.networks[name])
            case ["global", "networks", name] if method == "DELETE":
                network = self.networks[name]
                if network["subnetworks"]:
                    return _error(400, f"The network resource '{name}' is already being "
                                  "used by a subnetwork", "resourceInUseByAnotherResource")
                return JSONResponse(self._operation(
                    "delete", name, on_done=lambda: self.networks.pop(name)))
            case ["regions", region, "subnetworks"] if method == "POST":
                return self._insert_subnet(region, body)
            case ["regions", region, "subnetworks", name] if method == "GET":
                return JSONResponse(self.subnets[(region, name)])
            case ["regions", region, "subnetworks", name] if method == "DELETE":
                subnet = self.subnets[(region, name)]

                def drop() -> None:
                    del self.subnets[(region, name)]
                    network = self.networks.get(subnet["network"].rsplit("/", 1)[-1])
                    if network:
                        network["subnetworks"].remove(subnet["selfLink"])
                return JSONResponse(self._operation("delete", name, region=region,
                                                    on_done=drop))
        return _error(400, f"stand-in does not serve {method} {'/'.join(parts)}", "invalid")

    def _insert_instance(self, zone: str, body: dict[str, Any]) -> Response:
        name = body["name"]
        # What the real API requires of a request (and what our tests rely on).
        assert body["machineType"].startswith(f"zones/{zone}/machineTypes/"), body
        (disk,) = body["disks"]
        assert disk["boot"] is True and disk["autoDelete"] is True
        params = disk["initializeParams"]
        assert params["sourceImage"].startswith("projects/ubuntu-os-cloud/global/images/family/")
        int(params["diskSizeGb"])  # int64 travels as a JSON string
        (nic,) = body["networkInterfaces"]
        assert nic["accessConfigs"][0]["type"] == "ONE_TO_ONE_NAT"
        items = {i["key"]: i["value"] for i in body["metadata"]["items"]}
        assert items["ssh-keys"].split(":", 1)[1].startswith("ssh-")
        if (zone, name) in self.instances:
            return _error(409, f"The resource 'projects/{PROJECT}/zones/{zone}/instances/"
                          f"{name}' already exists", "alreadyExists")
        error = None
        if self.quota_exceeded:
            error = {"code": "QUOTA_EXCEEDED",
                     "message": "Quota 'CPUS' exceeded.  Limit: 8.0 in region "
                                f"{zone.rsplit('-', 1)[0]}."}

        def make() -> None:
            self.disks[(zone, name)] = {"name": name, "sizeGb": params["diskSizeGb"],
                                        "sourceImage": params["sourceImage"]}
            self.instances[(zone, name)] = {
                "kind": "compute#instance", "id": str(next(self._ids)), "name": name,
                "zone": f"{BASE}/projects/{PROJECT}/zones/{zone}",
                "machineType": f"{BASE}/projects/{PROJECT}/{body['machineType']}",
                "status": "PROVISIONING", "labels": body.get("labels", {}),
                "metadata": body["metadata"],
                "networkInterfaces": [{
                    "name": "nic0", "network": nic.get("network", ""),
                    "subnetwork": nic.get("subnetwork", ""), "networkIP": "10.128.0.7",
                    "accessConfigs": [{"kind": "compute#accessConfig",
                                       "type": "ONE_TO_ONE_NAT", "name": "External NAT"}],
                }],
                "disks": [{"kind": "compute#attachedDisk", "boot": True, "autoDelete": True,
                           "deviceName": disk.get("deviceName", name), "index": 0,
                           "source": f"{BASE}/projects/{PROJECT}/zones/{zone}/disks/{name}"}],
            }
        return JSONResponse(self._operation("insert", name, zone=zone, error=error,
                                            on_done=None if error else make))

    def _instance_view(self, zone: str, name: str) -> dict[str, Any]:
        instance = self.instances[(zone, name)]
        # Each look moves a booting instance one step on, as GCE does over time.
        if instance["status"] == "PROVISIONING":
            instance["status"] = "STAGING"
        elif instance["status"] == "STAGING":
            instance["status"] = "RUNNING"
            instance["networkInterfaces"][0]["accessConfigs"][0]["natIP"] = "34.70.1.2"
        elif instance["status"] == "STOPPING":
            instance["status"] = "TERMINATED"
            instance["networkInterfaces"][0]["accessConfigs"][0].pop("natIP", None)
        return instance

    def _instance_action(self, zone: str, name: str, action: str,
                         query: dict[str, str]) -> Response:
        instance = self.instances[(zone, name)]

        def set_status(status: str) -> Any:
            return lambda: instance.__setitem__("status", status)

        if action == "start":
            on_done = set_status("STAGING")
        elif action == "stop":
            on_done = set_status("STOPPING")
        elif action == "reset":
            on_done = set_status("RUNNING")
        elif action == "setDiskAutoDelete":
            (disk,) = [d for d in instance["disks"] if d["deviceName"] == query["deviceName"]]
            assert query["autoDelete"] in ("true", "false"), query
            value = query["autoDelete"] == "true"

            def on_done() -> None:
                disk["autoDelete"] = value
        else:
            return _error(400, f"unknown action {action}", "invalid")
        instance.setdefault("_actions", []).append(action)
        return JSONResponse(self._operation(action, name, zone=zone, on_done=on_done))

    def _insert_subnet(self, region: str, body: dict[str, Any]) -> Response:
        network_name = body["network"].rsplit("/", 1)[-1]
        network = self.networks[f"projects/{PROJECT}/global/networks/{network_name}"] \
            if network_name not in self.networks else self.networks[network_name]
        name = body["name"]
        assert body["ipCidrRange"], body
        self_link = f"{BASE}/projects/{PROJECT}/regions/{region}/subnetworks/{name}"

        def make() -> None:
            self.subnets[(region, name)] = {
                "kind": "compute#subnetwork", "id": str(next(self._ids)), "name": name,
                "network": network["selfLink"], "ipCidrRange": body["ipCidrRange"],
                "region": f"{BASE}/projects/{PROJECT}/regions/{region}",
                "gatewayAddress": body["ipCidrRange"].rsplit(".", 1)[0] + ".1",
                "selfLink": self_link, "state": "READY",
            }
            network["subnetworks"].append(self_link)
        return JSONResponse(self._operation("insert", name, region=region, on_done=make))


    # ------------------------------------------------------------------ catalogue

    def _page(self, query: dict[str, str], size_name: str,
              items: list[Any]) -> tuple[list[Any], str | None]:
        """One page of `items` and the next page token, as Google pages: the asked size
        is a maximum, the token is opaque."""
        asked = int(query.get(size_name, 500))
        assert 0 < asked <= (5000 if size_name == "pageSize" else 500), query
        start = 0
        if query.get("pageToken"):
            assert query["pageToken"].startswith("after-"), query
            start = int(query["pageToken"].removeprefix("after-"))
        end = start + min(asked, self.page_size)
        return items[start:end], f"after-{end}" if end < len(items) else None

    def _region_list(self, query: dict[str, str]) -> dict[str, Any]:
        page, token = self._page(query, "maxResults", self.regions)
        body: dict[str, Any] = {
            "kind": "compute#regionList", "id": f"projects/{PROJECT}/regions",
            "items": page, "selfLink": f"{BASE}/projects/{PROJECT}/regions",
        }
        if token:
            body["nextPageToken"] = token
        return body

    def _machine_type_list(self, query: dict[str, str]) -> dict[str, Any]:
        zones = list(self.machine_types)
        if "filter" in query:
            # The regular-expression form: `field eq "RE2"`, matching the whole field.
            match = re.fullmatch(r'zone eq "(.+)"', query["filter"])
            assert match, query["filter"]
            zones = [z for z in zones if re.fullmatch(match.group(1), z)]
        flat = [(zone, mt) for zone in zones for mt in self.machine_types[zone]]
        page, token = self._page(query, "maxResults", flat)
        items: dict[str, Any] = {}
        for zone, mt in page:
            items.setdefault(f"zones/{zone}", {"machineTypes": []})["machineTypes"].append(mt)
        for zone in self.machine_types:
            # Every other scope is listed with a warning, as the API does.
            items.setdefault(f"zones/{zone}", {"warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": f"There are no results for scope 'zones/{zone}' on this page.",
                "data": [{"key": "scope", "value": f"zones/{zone}"}],
            }})
        body: dict[str, Any] = {
            "kind": "compute#machineTypeAggregatedList",
            "id": f"projects/{PROJECT}/aggregated/machineTypes", "items": items,
            "selfLink": f"{BASE}/projects/{PROJECT}/aggregated/machineTypes",
        }
        if token:
            body["nextPageToken"] = token
        return body

    async def sku_list(self, request: Request) -> Response:
        """GET /v1/services/{service}/skus of the Cloud Billing Catalog API."""
        if request.headers.get("authorization") != f"Bearer {BILLING_TOKEN}":
            return JSONResponse({"error": {
                "code": 401, "status": "UNAUTHENTICATED",
                "message": "Request had invalid authentication credentials. Expected OAuth "
                           "2 access token, login cookie or other valid authentication "
                           "credential.",
            }}, status_code=401)
        query = dict(request.query_params)
        self.requests.append(("GET", request.url.path, None))
        self.queries.append((request.url.path, query))
        if self.billing_disabled:
            return JSONResponse({"error": {
                "code": 403, "status": "PERMISSION_DENIED",
                "message": "Cloud Billing API has not been used in project 123456 before or "
                           "it is disabled. Enable it by visiting https://console.developers"
                           ".google.com/apis/api/cloudbilling.googleapis.com/overview?project"
                           "=123456 then retry.",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
                             "metadata": {"service": "cloudbilling.googleapis.com",
                                          "consumer": "projects/123456"}}],
            }}, status_code=403)
        if request.path_params["service"] != COMPUTE_ENGINE_SERVICE:
            return JSONResponse({"error": {"code": 404, "status": "NOT_FOUND",
                                           "message": "Service not found."}}, status_code=404)
        if query.get("currencyCode") != "USD":
            self.failures.append(f"skus asked in {query.get('currencyCode')!r}, not USD")
        page, token = self._page(query, "pageSize", self.skus)
        return JSONResponse({"skus": page, "nextPageToken": token or ""})


def _id(text: str) -> str:
    return str(zlib.crc32(text.encode()))


def _regions() -> list[dict[str, Any]]:
    def region(code: str, zones: str, description: str | None = None) -> dict[str, Any]:
        return {
            "kind": "compute#region", "id": _id(code), "name": code,
            "description": description or code, "status": "UP",
            "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
            "zones": [f"{BASE}/projects/{PROJECT}/zones/{code}-{z}" for z in zones],
            "quotas": [{"metric": "CPUS", "limit": 24, "usage": 0}],
            "selfLink": f"{BASE}/projects/{PROJECT}/regions/{code}", "supportsPzs": False,
        }
    return [
        region("us-central1", "cfab"), region("us-east1", "bcd"),
        region("europe-west1", "bcd"),
        # The API's descriptions are usually the code; one that names the place is used.
        region("asia-northeast1", "abc", description="Tokyo, Japan"),
        {**region("us-west9", "a"), "status": "DOWN",
         "deprecated": {"state": "DELETED", "deleted": "2020-01-01T00:00:00Z"}},
    ]


def _machine_type(zone: str, name: str, cpus: int, memory_mb: int,
                  **extra: Any) -> dict[str, Any]:
    return {
        "kind": "compute#machineType", "id": _id(name), "name": name,
        "description": f"{cpus} vCPUs, {memory_mb} MB RAM", "guestCpus": cpus,
        "memoryMb": memory_mb, "imageSpaceGb": 0, "maximumPersistentDisks": 128,
        "maximumPersistentDisksSizeGb": "263168", "zone": zone,
        "creationTimestamp": "1969-12-31T16:00:00.000-08:00", "isSharedCpu": False,
        "selfLink": f"{BASE}/projects/{PROJECT}/zones/{zone}/machineTypes/{name}", **extra,
    }


def _machine_types() -> dict[str, list[dict[str, Any]]]:
    x86 = {"architecture": "X86_64"}
    shared = {**x86, "isSharedCpu": True}

    def standard(zone: str) -> list[dict[str, Any]]:
        return [_machine_type(zone, "e2-standard-2", 2, 8192, **x86),
                _machine_type(zone, "n2-standard-4", 4, 16384, **x86)]

    return {
        "us-central1-a": [
            _machine_type("us-central1-a", "e2-micro", 2, 1024, **shared),
            _machine_type("us-central1-a", "e2-medium", 2, 4096, **shared),
            *standard("us-central1-a"),
            _machine_type("us-central1-a", "f1-micro", 1, 614, **shared),
            _machine_type("us-central1-a", "n1-standard-1", 1, 3840, **x86),
            _machine_type("us-central1-a", "t2a-standard-1", 1, 4096, architecture="ARM64"),
            # No architecture field: the family tells.
            _machine_type("us-central1-a", "c4a-standard-1", 1, 4096),
            _machine_type("us-central1-a", "a2-highgpu-1g", 12, 87040, accelerators=[
                {"guestAcceleratorType": "nvidia-tesla-a100", "guestAcceleratorCount": 1}],
                **x86),
            _machine_type("us-central1-a", "c3-standard-4-lssd", 4, 16384, bundledLocalSsds={
                "defaultInterface": "NVME", "partitionCount": 1}, **x86),
            _machine_type("us-central1-a", "n1-ultramem-40", 40, 980992, deprecated={
                "state": "DEPRECATED", "replacement": "m1-ultramem-40"}, **x86),
        ],
        "us-central1-b": [*standard("us-central1-b"),
                          _machine_type("us-central1-b", "c3-standard-4", 4, 16384, **x86)],
        "europe-west1-b": standard("europe-west1-b"),
        "europe-west1-c": [_machine_type("europe-west1-c", "e2-standard-2", 2, 8192, **x86)],
        "asia-northeast1-a": [
            *standard("asia-northeast1-a"),
            _machine_type("asia-northeast1-a", "h3-standard-88", 88, 360448, **x86)],
    }


def _sku(description: str, regions: list[str], group: str, unit: str, usd: float,
         usage: str = "OnDemand", family: str = "Compute") -> dict[str, Any]:
    sku_id = _id(description + " ".join(regions))
    units, nanos = int(usd), round((usd - int(usd)) * 1e9)
    per_hour = unit == "h"
    return {
        "name": f"services/{COMPUTE_ENGINE_SERVICE}/skus/{sku_id}", "skuId": sku_id,
        "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": family,
                     "resourceGroup": group, "usageType": usage},
        "serviceRegions": regions,
        "pricingInfo": [{
            "summary": "", "effectiveTime": "2026-01-01T00:00:00Z",
            "currencyConversionRate": 1,
            "pricingExpression": {
                "usageUnit": unit, "displayQuantity": 1,
                "usageUnitDescription": "hour" if per_hour else "gibibyte hour",
                "baseUnit": "s" if per_hour else "By.s",
                "baseUnitDescription": "second" if per_hour else "byte second",
                "baseUnitConversionFactor": 3600 if per_hour else 3865470566400,
                "tieredRates": [{"startUsageAmount": 0, "unitPrice": {
                    "currencyCode": "USD", "units": str(units), "nanos": nanos}}],
            },
            "aggregationInfo": {"aggregationLevel": "ACCOUNT",
                                "aggregationInterval": "DAILY", "aggregationCount": 1},
        }],
        "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "REGIONAL", "regions": regions},
    }


# Unit prices the tests compose machine type prices from (USD per vCPU or GiB hour).
E2_CORE, E2_RAM = 0.02181159, 0.002923408
E2_CORE_EU, E2_RAM_EU = 0.023992749, 0.003215748
N2_CORE, N2_RAM = 0.031611, 0.004237
N1_CORE, N1_RAM = 0.031611, 0.004237
T2A_CORE, T2A_RAM = 0.0308, 0.0042
F1_MICRO = 0.0076


def _skus() -> list[dict[str, Any]]:
    us, eu = ["us-central1"], ["europe-west1"]
    return [
        _sku("E2 Instance Core running in Americas", us, "CPU", "h", E2_CORE),
        _sku("Spot Preemptible E2 Instance Core running in Americas", us, "CPU", "h",
             0.006543, usage="Preemptible"),
        _sku("E2 Instance Ram running in Americas", us, "RAM", "GiBy.h", E2_RAM),
        _sku("E2 Instance Core running in Belgium", eu, "CPU", "h", E2_CORE_EU),
        _sku("E2 Instance Ram running in Belgium", eu, "RAM", "GiBy.h", E2_RAM_EU),
        _sku("Commitment v1: E2 Cpu in Americas for 1 Year", us, "CPU", "h", 0.013741,
             usage="Commit1Yr"),
        _sku("N2 Custom Instance Core running in Americas", us, "CPU", "h", 0.033191),
        _sku("N2 Instance Core running in Americas", us, "CPU", "h", N2_CORE),
        _sku("N2 Instance Ram running in Americas", us, "RAM", "GiBy.h", N2_RAM),
        _sku("N1 Predefined Instance Core running in Americas", us, "N1Standard", "h",
             N1_CORE),
        _sku("N1 Predefined Instance Ram running in Americas", us, "N1Standard", "GiBy.h",
             N1_RAM),
        _sku("T2A Arm Instance Core running in Americas", us, "CPU", "h", T2A_CORE),
        _sku("T2A Arm Instance Ram running in Americas", us, "RAM", "GiBy.h", T2A_RAM),
        _sku("E2 Sole Tenancy Instance Core running in Americas", us, "CPU", "h", 0.023992),
        _sku("Micro Instance with burstable CPU running in Americas", us, "F1Micro", "h",
             F1_MICRO),
        _sku("Storage PD Capacity", us, "PDStandard", "GiBy.mo", 0.04, family="Storage"),
    ]


def build_app(standin: GceStandIn) -> Starlette:
    return Starlette(routes=[
        Route("/token", standin.token, methods=["POST"]),
        Route("/billing/v1/services/{service}/skus", standin.sku_list, methods=["GET"]),
        Route("/compute/v1/projects/{project}/{rest:path}", standin.compute,
              methods=["GET", "POST", "DELETE", "PATCH"]),
    ])
