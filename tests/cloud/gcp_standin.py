"""A local stand-in for Google's OAuth token endpoint and the Compute Engine v1 REST API
(the subset GcpCompute/GcpNetworks call), with the documented JSON shapes.

It verifies the service account's RS256 assertion with the key's public half, requires
the Bearer token it issued on every compute call, checks request bodies, and keeps the
instances, disks, networks and subnetworks it holds so tests can assert cleanup.
"""

from __future__ import annotations

import itertools
import json
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
    failures: list[str] = field(default_factory=list)  # our requests it found wrong
    self_signed: int = 0  # requests authorised by a self-signed service account JWT
    # Knobs a test turns.
    quota_exceeded: bool = False
    operation_polls: int = 0  # GETs an operation answers RUNNING before it is DONE
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def reset(self) -> None:
        for store in (self.instances, self.disks, self.networks, self.subnets,
                      self.operations):
            store.clear()
        self.requests.clear()
        self.failures.clear()
        self.quota_exceeded = False
        self.operation_polls = 0

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
                audience=str(request.url),
            )
        except jwt.PyJWTError:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status_code=400,
            )
        if claims.get("iss") != CLIENT_EMAIL or "auth/compute" not in claims.get("scope", ""):
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        return JSONResponse({"access_token": ACCESS_TOKEN, "expires_in": 3599,
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


def build_app(standin: GceStandIn) -> Starlette:
    return Starlette(routes=[
        Route("/token", standin.token, methods=["POST"]),
        Route("/compute/v1/projects/{project}/{rest:path}", standin.compute,
              methods=["GET", "POST", "DELETE", "PATCH"]),
    ])
