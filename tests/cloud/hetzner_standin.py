"""A Hetzner Cloud API (v1) stand-in: the endpoints `app.cloud.hetzner` reaches through
`hcloud`, with the documented error objects, action objects (running when returned,
success once read back through GET /actions/{id}, which is how hcloud waits) and resource
shapes hcloud parses. State is kept so tests see what a call left behind.

Faults: `server_limit` (403 resource_limit_exceeded), `fail_server_create` (500 server
error), `fail_attach` (attach_to_network action ends in error), `fail_key_delete`. A new server is
"initializing" for `boot_polls` reads, then running (or off when not started).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "hcloud-cloud-standin-token"
READ_ONLY_TOKEN = "hcloud-cloud-standin-read-only"
NOW = "2026-01-02T03:04:05+00:00"
SERVER_TYPES = {
    "cx22": {"id": 104, "cores": 2, "memory": 4.0, "disk": 40, "architecture": "x86",
             "cpu_type": "shared", "category": "cost_optimized", "net": "0.0060000000"},
    "cax11": {"id": 45, "cores": 2, "memory": 4.0, "disk": 40, "architecture": "arm",
              "cpu_type": "shared", "category": "cost_optimized", "net": "0.0062000000"},
    "ccx13": {"id": 96, "cores": 2, "memory": 8.0, "disk": 80, "architecture": "x86",
              "cpu_type": "dedicated", "category": "general_purpose", "net": "0.0200000000"},
}
# Where each type is sold (default: everywhere); cax11 is Arm, sold in Europe only.
TYPE_LOCATIONS = {"cax11": ("fsn1", "nbg1", "hel1")}
# A type Hetzner stopped selling: listed, deprecated.
RETIRED_TYPE = {"name": "cx11", "id": 1, "cores": 1, "memory": 2.0, "disk": 20,
                "architecture": "x86", "cpu_type": "shared", "category": "cost_optimized",
                "net": "0.0050000000"}
LOCATION_DETAILS = {"fsn1": ("Falkenstein", "DE"), "nbg1": ("Nuremberg", "DE"),
                    "hel1": ("Helsinki", "FI"), "ash": ("Ashburn, VA", "US"),
                    "hil": ("Hillsboro, OR", "US"), "sin": ("Singapore", "SG")}
LOCATIONS = {"fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central",
             "ash": "us-east", "hil": "us-west", "sin": "ap-southeast"}
IMAGES = {"ubuntu-22.04": 67794396, "ubuntu-24.04": 161547269}


def md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(a + b for a, b in zip(digest[::2], digest[1::2], strict=True))


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": {}}},
                        status_code=status)


def _not_found(what: str) -> JSONResponse:
    return _error(404, "not_found", f"{what} not found")


def _invalid(message: str) -> JSONResponse:
    return _error(400, "invalid_input", message)


def _price(net: str, location: str) -> dict[str, Any]:
    hourly = float(net)
    return {"location": location,
            "price_hourly": {"net": net, "gross": f"{hourly * 1.19:.10f}"},
            "price_monthly": {"net": f"{hourly * 730:.4f}", "gross": f"{hourly * 730 * 1.19:.4f}"},
            "included_traffic": 21990232555520, "price_per_tb_traffic": {"net": "1", "gross": "1"}}


def _meta(total: int) -> dict[str, Any]:
    return {"pagination": {"page": 1, "per_page": 50, "previous_page": None,
                           "next_page": None, "last_page": 1, "total_entries": total}}


def _location(name: str) -> dict[str, Any]:
    return {"id": list(LOCATIONS).index(name) + 1, "name": name, "description": name,
            "country": "DE", "city": name, "latitude": 0.0, "longitude": 0.0,
            "network_zone": LOCATIONS[name]}


@dataclass
class HetznerStandIn:
    servers: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[int, dict[str, Any]] = field(default_factory=dict)
    networks: dict[int, dict[str, Any]] = field(default_factory=dict)
    actions: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    power: list[tuple[int, str]] = field(default_factory=list)  # (server id, endpoint)
    server_limit: int | None = None
    fail_server_create: bool = False
    fail_attach: bool = False
    fail_key_delete: bool = False
    create_delay: float = 0.0  # seconds POST /servers takes
    boot_polls: int = 1
    page_size: int = 50
    _ids: Any = field(default_factory=lambda: itertools.count(5000))

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    # ------------------------------------------------------------------ helpers

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        self.requests.append((request.method, request.url.path, body))
        return body

    def _refused(self, request: Request) -> JSONResponse | None:
        auth = request.headers.get("authorization")
        if auth == f"Bearer {READ_ONLY_TOKEN}" and request.method != "GET":
            return _error(403, "token_readonly",
                          "The token is only allowed to perform GET requests")
        if auth not in (f"Bearer {TOKEN}", f"Bearer {READ_ONLY_TOKEN}"):
            return _error(401, "unauthorized", "unable to authenticate")
        return None

    def _action(self, command: str, resources: list[tuple[int, str]],
                error: str | None = None) -> dict[str, Any]:
        action_id = next(self._ids)
        self.actions[action_id] = {
            "id": action_id, "command": command, "status": "running", "progress": 0,
            "started": NOW, "finished": None,
            "resources": [{"id": i, "type": t} for i, t in resources],
            "error": None, "_fails": error,
        }
        return self._action_json(self.actions[action_id])

    @staticmethod
    def _action_json(action: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in action.items() if not k.startswith("_")}

    def _server_json(self, s: dict[str, Any]) -> dict[str, Any]:
        server_type = SERVER_TYPES[s["server_type"]]
        return {
            "id": s["id"], "name": s["name"], "status": s["status"], "created": NOW,
            "public_net": {
                "ipv4": {"id": s["id"] + 1, "ip": f"198.51.100.{s['id'] % 250}",
                         "blocked": False, "dns_ptr": f"static.{s['id']}.example"},
                "ipv6": {"id": s["id"] + 2, "ip": "2001:db8::/64", "blocked": False,
                         "dns_ptr": []},
                "floating_ips": [], "firewalls": [],
            },
            "private_net": [dict(n) for n in s["private_net"]],
            "server_type": {"id": server_type["id"], "name": s["server_type"],
                            "description": s["server_type"].upper(),
                            "cores": server_type["cores"], "memory": server_type["memory"],
                            "disk": server_type["disk"], "storage_type": "local",
                            "cpu_type": "shared", "architecture": server_type["architecture"],
                            "prices": [], "deprecation": None},
            "location": _location(s["location"]),
            "image": {"id": IMAGES[s["image"]], "type": "system", "status": "available",
                      "name": s["image"], "description": s["image"], "os_flavor": "ubuntu",
                      "os_version": s["image"].split("-")[1], "architecture":
                      server_type["architecture"], "labels": {}, "protection": {"delete": False},
                      "created": NOW, "deleted": None, "deprecated": None, "rapid_deploy": True,
                      "disk_size": 5, "image_size": None, "created_from": None,
                      "bound_to": None},
            "iso": None, "rescue_enabled": False, "locked": False, "backup_window": None,
            "outgoing_traffic": 0, "ingoing_traffic": 0, "included_traffic": 21990232555520,
            "protection": {"delete": False, "rebuild": False}, "labels": dict(s["labels"]),
            "volumes": list(s["volumes"]), "load_balancers": [],
            "primary_disk_size": server_type["disk"], "placement_group": None,
        }

    def _volume_json(self, v: dict[str, Any]) -> dict[str, Any]:
        return {"id": v["id"], "name": v["name"], "server": v["server"],
                "location": _location(v["location"]), "size": v["size"],
                "linux_device": f"/dev/disk/by-id/scsi-0HC_Volume_{v['id']}",
                "format": v["format"], "protection": {"delete": False},
                "labels": dict(v["labels"]), "status": "available", "created": NOW}

    @staticmethod
    def _network_json(n: dict[str, Any]) -> dict[str, Any]:
        return {"id": n["id"], "name": n["name"], "ip_range": n["ip_range"],
                "subnets": [dict(s) for s in n["subnets"]], "routes": [],
                "servers": list(n["servers"]), "load_balancers": [],
                "protection": {"delete": False}, "labels": dict(n["labels"]),
                "created": NOW, "expose_routes_to_vswitch": False}

    def _key_json(self, k: dict[str, Any]) -> dict[str, Any]:
        return {"id": k["id"], "name": k["name"], "fingerprint": k["fingerprint"],
                "public_key": k["public_key"], "labels": {}, "created": NOW}

    def _join(self, server: dict[str, Any], network: dict[str, Any], ip_range: str) -> None:
        subnet = ipaddress.ip_network(ip_range)
        used = sum(len(n["servers"]) for n in self.networks.values())
        server["private_net"].append({
            "network": network["id"], "ip": str(subnet.network_address + 2 + used),
            "alias_ips": [], "mac_address": f"86:00:00:00:00:{server['id'] % 99:02d}",
        })
        network["servers"].append(server["id"])

    # ------------------------------------------------------------------ endpoints

    async def server_types(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        name = request.query_params.get("name")
        found = [self._server_type(n, t, retired=False) for n, t in SERVER_TYPES.items()
                 if name in (None, n)]
        if name in (None, RETIRED_TYPE["name"]):
            found.append(self._server_type(str(RETIRED_TYPE["name"]), RETIRED_TYPE,
                                           retired=True))
        return self._paged(request, "server_types", found)

    @staticmethod
    def _server_type(name: str, t: dict[str, Any], *, retired: bool) -> dict[str, Any]:
        where = TYPE_LOCATIONS.get(name, tuple(LOCATIONS))
        deprecation = ({"announced": NOW, "unavailable_after": NOW} if retired else None)
        return {
            "id": t["id"], "name": name, "description": name.upper(), "cores": t["cores"],
            "memory": t["memory"], "disk": t["disk"],
            "prices": [_price(t["net"], loc) for loc in where],
            "storage_type": "local", "cpu_type": t["cpu_type"], "category": t["category"],
            "architecture": t["architecture"], "deprecated": retired,
            "deprecation": deprecation, "included_traffic": 21990232555520,
            "locations": [{"id": i + 1, "name": loc, "deprecation": deprecation,
                           "available": not retired, "recommended": not retired}
                          for i, loc in enumerate(LOCATIONS) if loc in where],
        }

    def _location(self, index: int, name: str) -> dict[str, Any]:
        city, country = LOCATION_DETAILS[name]
        return {"id": index + 1, "name": name, "description": f"{city} DC Park 1",
                "country": country, "city": city, "latitude": 50.47612, "longitude": 12.370071,
                "network_zone": LOCATIONS[name]}

    async def locations(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        found = [self._location(i, n) for i, n in enumerate(LOCATIONS)]
        return self._paged(request, "locations", found)

    def _paged(self, request: Request, field: str, items: list[dict[str, Any]]) -> Response:
        self.requests.append((request.method, f"{request.url.path}?{request.url.query}", None))
        per_page = min(int(request.query_params.get("per_page", 25)), self.page_size)
        page = int(request.query_params.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        pagination = {"page": page, "per_page": per_page,
                      "previous_page": page - 1 if page > 1 else None,
                      "next_page": page + 1 if page < last else None,
                      "last_page": last, "total_entries": len(items)}
        return JSONResponse({field: items[(page - 1) * per_page: page * per_page],
                             "meta": {"pagination": pagination}})

    async def ssh_keys(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await self._body(request)
        if request.method == "GET":
            fingerprint = request.query_params.get("fingerprint")
            found = [self._key_json(k) for k in self.keys.values()
                     if fingerprint in (None, k["fingerprint"])]
            return JSONResponse({"ssh_keys": found, "meta": _meta(len(found))})
        if not body or not body.get("name") or not body.get("public_key"):
            return _invalid("name and public_key are required")
        fingerprint = md5_fingerprint(body["public_key"])
        if any(k["fingerprint"] == fingerprint or k["name"] == body["name"]
               for k in self.keys.values()):
            return _error(409, "uniqueness_error", "SSH key with the same fingerprint "
                                                   "already exists")
        key_id = next(self._ids)
        self.keys[key_id] = {"id": key_id, "name": body["name"], "fingerprint": fingerprint,
                             "public_key": body["public_key"]}
        return JSONResponse({"ssh_key": self._key_json(self.keys[key_id])}, status_code=201)

    async def ssh_key(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        await self._body(request)
        key = self.keys.get(int(request.path_params["id"]))
        if key is None:
            return _not_found("ssh_key")
        if request.method == "DELETE":
            if self.fail_key_delete:
                return _error(500, "server_error", "internal server error")
            del self.keys[key["id"]]
            return Response(status_code=204)
        return JSONResponse({"ssh_key": self._key_json(key)})

    async def volumes_collection(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await self._body(request)
        if not body.get("name") or not isinstance(body.get("size"), int) or body["size"] < 10:
            return _invalid("name and a size of at least 10 GB are required")
        if body.get("location") not in LOCATIONS or "server" in body:
            return _invalid("a valid location (and no server) is expected")
        if body.get("format") not in (None, "ext4", "xfs"):
            return _invalid("format must be ext4 or xfs")
        volume_id = next(self._ids)
        self.volumes[volume_id] = {
            "id": volume_id, "name": body["name"], "server": None,
            "location": body["location"], "size": body["size"], "format": body.get("format"),
            "labels": body.get("labels", {}),
        }
        return JSONResponse({
            "volume": self._volume_json(self.volumes[volume_id]),
            "action": self._action("create_volume", [(volume_id, "volume")]),
            "next_actions": [],
        }, status_code=201)

    async def volume(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        await self._body(request)
        volume = self.volumes.get(int(request.path_params["id"]))
        if volume is None:
            return _not_found("volume")
        if request.method == "DELETE":
            if volume["server"] is not None:
                return _error(423, "locked", "volume is attached to a server")
            del self.volumes[volume["id"]]
            return Response(status_code=204)
        return JSONResponse({"volume": self._volume_json(volume)})

    async def servers_collection(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await self._body(request)
        if request.method == "GET":
            selector = request.query_params.get("label_selector")
            found = []
            for server in self.servers.values():
                if selector:
                    key, _, value = selector.partition("=")
                    if server["labels"].get(key) != value:
                        continue
                found.append(self._server_json(server))
            return JSONResponse({"servers": found, "meta": _meta(len(found))})
        await asyncio.sleep(self.create_delay)
        if self.fail_server_create:
            return _error(500, "server_error", "internal server error")
        if self.server_limit is not None and len(self.servers) >= self.server_limit:
            return _error(403, "resource_limit_exceeded",
                          f"server limit of {self.server_limit} exceeded")
        if not body.get("name") or body.get("server_type") not in SERVER_TYPES:
            return _invalid("name and a known server_type are required")
        if body.get("image") not in IMAGES:
            return _not_found("image")
        if body.get("location") not in LOCATIONS:
            return _invalid("location is required and must exist")
        for key in body.get("ssh_keys", []):
            if not any(key in (k["id"], k["name"]) for k in self.keys.values()):
                return _not_found("ssh_key")
        for volume_id in body.get("volumes", []):
            volume = self.volumes.get(volume_id)
            if volume is None or volume["location"] != body["location"] or volume["server"]:
                return _invalid("volumes must be free and in the server's location")
        zone = LOCATIONS[body["location"]]
        joins = []
        for network_id in body.get("networks", []):
            network = self.networks.get(network_id)
            if network is None:
                return _not_found("network")
            subnet = next((s for s in network["subnets"] if s["network_zone"] == zone), None)
            if subnet is None:
                return _invalid("network has no subnet in the server's network zone")
            joins.append((network, subnet["ip_range"]))
        server_id = next(self._ids)
        started = body.get("start_after_create", True)
        server = {
            "id": server_id, "name": body["name"], "server_type": body["server_type"],
            "image": body["image"], "location": body["location"], "status": "initializing",
            "labels": body.get("labels", {}), "volumes": list(body.get("volumes", [])),
            "private_net": [], "ssh_keys": body.get("ssh_keys", []),
            "user_data": body.get("user_data"), "automount": body.get("automount"),
            "polls": self.boot_polls, "after_boot": "running" if started else "off",
            "start_after_create": started,
        }
        self.servers[server_id] = server
        for volume_id in server["volumes"]:
            self.volumes[volume_id]["server"] = server_id
        for network, ip_range in joins:
            self._join(server, network, ip_range)
        action = self._action("create_server", [(server_id, "server")])
        server["creating_action"] = action["id"]
        next_actions = [self._action("start_server", [(server_id, "server")])] if started else []
        return JSONResponse({"server": self._server_json(server), "action": action,
                             "next_actions": next_actions, "root_password": None},
                            status_code=201)

    def _find_server(self, request: Request) -> dict[str, Any] | None:
        return self.servers.get(int(request.path_params["id"]))

    async def server(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        await self._body(request)
        server = self._find_server(request)
        if server is None:
            return _not_found("server")
        if request.method == "DELETE":
            for volume in self.volumes.values():
                if volume["server"] == server["id"]:
                    volume["server"] = None
            for network in self.networks.values():
                if server["id"] in network["servers"]:
                    network["servers"].remove(server["id"])
            del self.servers[server["id"]]
            return JSONResponse({"action": self._action("delete_server",
                                                        [(server["id"], "server")])})
        if server["status"] == "initializing":
            server["polls"] -= 1
            if server["polls"] < 0:
                server["status"] = server["after_boot"]
                creating = self.actions[server["creating_action"]]
                creating.update(status="success", progress=100, finished=NOW)
        return JSONResponse({"server": self._server_json(server)})

    async def server_action(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await self._body(request) or {}
        server = self._find_server(request)
        if server is None:
            return _not_found("server")
        creating = self.actions.get(server.get("creating_action", -1))
        if creating is not None and creating["status"] == "running":
            return _error(423, "locked", "server is locked by a running action")
        name = request.path_params["action"]
        resources = [(server["id"], "server")]
        if name == "attach_to_network":
            network = self.networks.get(int(body.get("network", 0)))
            if network is None:
                return _not_found("network")
            if not any(s["ip_range"] == body.get("ip_range") for s in network["subnets"]):
                return _invalid("ip_range is not a subnet of the network")
            if self.fail_attach:
                return JSONResponse({"action": self._action(
                    "attach_to_network", [*resources, (network["id"], "network")],
                    error="no free IP in the subnet")}, status_code=201)
            self._join(server, network, body["ip_range"])
            return JSONResponse({"action": self._action(
                "attach_to_network", [*resources, (network["id"], "network")])},
                status_code=201)
        commands = {"poweron": ("start_server", "running"),
                    "shutdown": ("shutdown_server", "off"),
                    "poweroff": ("stop_server", "off"),
                    "reboot": ("reboot_server", "running")}
        if name not in commands:
            return _not_found("action")
        command, status = commands[name]
        if name == "reboot" and server["status"] != "running":
            return _invalid("server is not running")
        server["status"] = status
        self.power.append((server["id"], name))
        return JSONResponse({"action": self._action(command, resources)}, status_code=201)

    async def action(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        action = self.actions.get(int(request.path_params["id"]))
        if action is None:
            return _not_found("action")
        if action["status"] == "running":
            failure = action["_fails"]
            action.update(status="error" if failure else "success", progress=100,
                          finished=NOW)
            if failure:
                action["error"] = {"code": "action_failed", "message": failure}
        return JSONResponse({"action": self._action_json(action)})

    async def networks_collection(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await self._body(request)
        try:
            ip_range = ipaddress.ip_network(body.get("ip_range", ""))
        except ValueError:
            return _invalid("ip_range must be a CIDR block")
        if not body.get("name") or not ip_range.is_private:
            return _invalid("name and a private ip_range are required")
        network_id = next(self._ids)
        self.networks[network_id] = {"id": network_id, "name": body["name"],
                                     "ip_range": str(ip_range), "subnets": [],
                                     "servers": [], "labels": body.get("labels", {})}
        return JSONResponse({"network": self._network_json(self.networks[network_id])},
                            status_code=201)

    async def network(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        await self._body(request)
        network = self.networks.get(int(request.path_params["id"]))
        if network is None:
            return _not_found("network")
        if request.method == "DELETE":
            for server_id in network["servers"]:
                server = self.servers[server_id]
                server["private_net"] = [n for n in server["private_net"]
                                         if n["network"] != network["id"]]
            del self.networks[network["id"]]
            return Response(status_code=204)
        return JSONResponse({"network": self._network_json(network)})

    async def network_action(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await self._body(request) or {}
        network = self.networks.get(int(request.path_params["id"]))
        if network is None:
            return _not_found("network")
        name = request.path_params["action"]
        resources = [(network["id"], "network")]
        if name == "add_subnet":
            if body.get("type") != "cloud" or body.get("network_zone") not in set(
                LOCATIONS.values()
            ):
                return _invalid("type cloud and a known network_zone are required")
            subnet = ipaddress.IPv4Network(body.get("ip_range", ""))
            whole = ipaddress.IPv4Network(network["ip_range"])
            if not subnet.subnet_of(whole) or any(
                subnet.overlaps(ipaddress.ip_network(s["ip_range"])) for s in network["subnets"]
            ):
                return _invalid("ip_range must be inside the network and not overlap")
            network["subnets"].append({
                "type": "cloud", "ip_range": str(subnet), "network_zone": body["network_zone"],
                "gateway": str(whole.network_address + 1), "vswitch_id": None,
            })
            return JSONResponse({"action": self._action("add_subnet", resources)},
                                status_code=201)
        if name == "delete_subnet":
            before = len(network["subnets"])
            network["subnets"] = [s for s in network["subnets"]
                                  if s["ip_range"] != body.get("ip_range")]
            if len(network["subnets"]) == before:
                return _invalid("subnet not found")
            return JSONResponse({"action": self._action("delete_subnet", resources)},
                                status_code=201)
        return _not_found("action")

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/server_types", self.server_types),
            Route("/v1/locations", self.locations),
            Route("/v1/ssh_keys", self.ssh_keys, methods=["GET", "POST"]),
            Route("/v1/ssh_keys/{id:int}", self.ssh_key, methods=["GET", "DELETE"]),
            Route("/v1/volumes", self.volumes_collection, methods=["POST"]),
            Route("/v1/volumes/{id:int}", self.volume, methods=["GET", "DELETE"]),
            Route("/v1/servers", self.servers_collection, methods=["GET", "POST"]),
            Route("/v1/servers/{id:int}", self.server, methods=["GET", "DELETE"]),
            Route("/v1/servers/{id:int}/actions/{action}", self.server_action,
                  methods=["POST"]),
            Route("/v1/actions/{id:int}", self.action),
            Route("/v1/networks", self.networks_collection, methods=["POST"]),
            Route("/v1/networks/{id:int}", self.network, methods=["GET", "DELETE"]),
            Route("/v1/networks/{id:int}/actions/{action}", self.network_action,
                  methods=["POST"]),
        ])
