"""A DigitalOcean API v2 stand-in: the endpoints `app.cloud.digitalocean` calls, with the
documented request checks, status codes and JSON shapes, keeping droplets, keys, volumes
and VPCs in memory so tests can see what a call left behind.

Faults are switched on through attributes: `droplet_limit` (422 with DigitalOcean's
limit message), `rate_limited` (429), `fail_droplet_create` (500), `fail_key_delete`
(500), `create_delay` (a slow POST /droplets), `vpc_delay` and `fail_vpc_create` (500);
READ_ONLY_TOKEN gets 403 on writes.
Collections page at `page_size` items (at most the `per_page` asked), with DigitalOcean's
`links.pages` object.
A droplet is "new" for `boot_polls` reads, then "active" with addresses.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "dop_v1_cloud_standin"
READ_ONLY_TOKEN = "dop_v1_cloud_standin_read_only"
SIZES = {"s-1vcpu-1gb": 25, "s-2vcpu-4gb": 80, "s-4vcpu-8gb": 160}
# slug -> (vcpus, memory MB, hourly, monthly, description, available) as GET /sizes tells.
SIZE_DETAILS = {
    "s-1vcpu-1gb": (1, 1024, 0.00893, 6.0, "Basic", True),
    "s-2vcpu-4gb": (2, 4096, 0.03571, 24.0, "Basic", True),
    "s-4vcpu-8gb": (4, 8192, 0.07143, 48.0, "Basic", True),
}
# Sold only in some regions; and one size DigitalOcean no longer sells.
SIZE_REGIONS = {"s-4vcpu-8gb": ["fra1", "nyc3"]}
RETIRED_SIZE = {"slug": "512mb", "memory": 512, "vcpus": 1, "disk": 20, "transfer": 1.0,
                "price_monthly": 5.0, "price_hourly": 0.00744, "regions": [],
                "available": False, "description": "Legacy"}
REGIONS = {"nyc1", "nyc3", "fra1", "ams3", "sgp1"}
REGION_NAMES = {"nyc1": "New York 1", "nyc3": "New York 3", "fra1": "Frankfurt 1",
                "ams3": "Amsterdam 3", "sgp1": "Singapore 1", "ams2": "Amsterdam 2"}
IMAGES = {"ubuntu-22-04-x64", "ubuntu-24-04-x64"}


def md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()
    return ":".join(a + b for a, b in zip(digest[::2], digest[1::2], strict=True))


def _error(status: int, ident: str, message: str) -> JSONResponse:
    return JSONResponse({"id": ident, "message": message, "request_id": "req-1"},
                        status_code=status)


def _not_found() -> JSONResponse:
    return _error(404, "not_found", "The resource you were accessing could not be found.")


def _unprocessable(message: str) -> JSONResponse:
    return _error(422, "unprocessable_entity", message)


@dataclass
class DigitalOceanStandIn:
    droplets: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    vpcs: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: list[tuple[int, str]] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    droplet_limit: int | None = None
    rate_limited: bool = False
    fail_droplet_create: bool = False
    fail_key_delete: bool = False
    create_delay: float = 0.0  # seconds POST /droplets takes
    boot_polls: int = 1
    page_size: int = 200
    vpc_delay: float = 0.0  # seconds POST /vpcs takes
    fail_vpc_create: bool = False
    _ids: Any = field(default_factory=lambda: itertools.count(1000))
    _polls: dict[int, int] = field(default_factory=dict)

    def reset(self) -> None:
        """Empty state and faults between tests, keeping the one running server."""
        self.__init__()  # type: ignore[misc]

    # ------------------------------------------------------------------ helpers

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        self.requests.append((request.method, request.url.path, body))
        return body

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") in (
            f"Bearer {TOKEN}", f"Bearer {READ_ONLY_TOKEN}"
        )

    def _read_only(self, request: Request) -> JSONResponse | None:
        if request.method != "GET" and (
            request.headers.get("authorization") == f"Bearer {READ_ONLY_TOKEN}"
        ):
            return _error(403, "forbidden", "You are not authorized to perform this operation")
        return None

    def _key_json(self, key: dict[str, Any]) -> dict[str, Any]:
        return {k: key[k] for k in ("id", "fingerprint", "public_key", "name")}

    def _droplet_json(self, droplet: dict[str, Any]) -> dict[str, Any]:
        d = droplet
        v4 = []
        if d["status"] != "new":
            v4 = [
                {"ip_address": f"10.10.0.{d['id'] % 250}", "netmask": "255.255.0.0",
                 "gateway": "10.10.0.1", "type": "private"},
                {"ip_address": f"203.0.113.{d['id'] % 250}", "netmask": "255.255.240.0",
                 "gateway": "203.0.113.1", "type": "public"},
            ]
        return {
            "id": d["id"], "name": d["name"], "memory": 1024, "vcpus": 1,
            "disk": SIZES[d["size"]], "locked": False, "status": d["status"],
            "created_at": "2026-01-02T03:04:05Z", "features": ["private_networking"],
            "backup_ids": [], "snapshot_ids": [], "next_backup_window": None,
            "image": {"slug": d["image"], "distribution": "Ubuntu"},
            "volume_ids": list(d["volume_ids"]), "size_slug": d["size"],
            "size": {"slug": d["size"], "disk": SIZES[d["size"]]},
            "networks": {"v4": v4, "v6": []},
            "region": {"slug": d["region"], "name": d["region"]},
            "tags": list(d["tags"]), "vpc_uuid": d["vpc_uuid"],
        }

    # ------------------------------------------------------------------ endpoints

    async def sizes(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        sizes: list[dict[str, Any]] = [RETIRED_SIZE]
        for slug, disk in SIZES.items():
            vcpus, memory, hourly, monthly, description, available = SIZE_DETAILS[slug]
            sizes.append({"slug": slug, "memory": memory, "vcpus": vcpus, "disk": disk,
                          "transfer": 1.0, "price_monthly": monthly, "price_hourly": hourly,
                          "regions": SIZE_REGIONS.get(slug, sorted(REGIONS)),
                          "available": available, "description": description})
        return self._page(request, "sizes", sizes)

    async def regions(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        regions = [{"slug": slug, "name": name, "sizes": sorted(SIZES),
                    "available": slug in REGIONS, "features": ["metadata"]}
                   for slug, name in REGION_NAMES.items()]
        return self._page(request, "regions", regions)

    def _page(self, request: Request, field: str, items: list[dict[str, Any]]) -> Response:
        self.requests.append((request.method, f"{request.url.path}?{request.url.query}", None))
        per_page = min(int(request.query_params.get("per_page", 20)), 200, self.page_size)
        page = int(request.query_params.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        pages: dict[str, str] = {}
        if page * per_page < len(items):
            base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
            pages = {"next": f"{base}?page={page + 1}&per_page={per_page}",
                     "last": f"{base}?page={-(-len(items) // per_page)}&per_page={per_page}"}
        return JSONResponse({field: chunk, "links": {"pages": pages},
                             "meta": {"total": len(items)}})

    async def keys_collection(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        body = await self._body(request)
        if refused := self._read_only(request):
            return refused
        if request.method == "GET":
            return JSONResponse({"ssh_keys": [self._key_json(k) for k in self.keys.values()]})
        if not body or not body.get("name") or not body.get("public_key"):
            return _unprocessable("name and public_key are required")
        fingerprint = md5_fingerprint(body["public_key"])
        if any(k["fingerprint"] == fingerprint for k in self.keys.values()):
            return _unprocessable("SSH Key is already in use on your account")
        key_id = next(self._ids)
        self.keys[key_id] = {"id": key_id, "fingerprint": fingerprint,
                             "public_key": body["public_key"], "name": body["name"]}
        return JSONResponse({"ssh_key": self._key_json(self.keys[key_id])}, status_code=201)

    async def key(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        await self._body(request)
        ref = request.path_params["ref"]
        found = next((k for k in self.keys.values()
                      if str(k["id"]) == ref or k["fingerprint"] == ref), None)
        if found is None:
            return _not_found()
        if request.method == "DELETE":
            if self.fail_key_delete:
                return _error(500, "server_error", "Server was unable to give you a response.")
            del self.keys[found["id"]]
            return Response(status_code=204)
        return JSONResponse({"ssh_key": self._key_json(found)})

    async def volumes_collection(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        body = await self._body(request)
        for required in ("name", "region", "size_gigabytes"):
            if not body.get(required):
                return _unprocessable(f"{required} is required")
        if body["region"] not in REGIONS:
            return _unprocessable("invalid region")
        volume_id = str(uuid.uuid4())
        self.volumes[volume_id] = {
            "id": volume_id, "name": body["name"], "region": {"slug": body["region"]},
            "size_gigabytes": body["size_gigabytes"],
            "filesystem_type": body.get("filesystem_type", ""), "droplet_ids": [],
            "tags": body.get("tags", []), "description": body.get("description", ""),
            "created_at": "2026-01-02T03:04:05Z",
        }
        return JSONResponse({"volume": self.volumes[volume_id]}, status_code=201)

    async def volume(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        await self._body(request)
        volume = self.volumes.get(request.path_params["id"])
        if volume is None:
            return _not_found()
        if request.method == "DELETE":
            if volume["droplet_ids"]:
                return _error(409, "conflict", "Volume is attached to a Droplet")
            del self.volumes[volume["id"]]
            return Response(status_code=204)
        return JSONResponse({"volume": volume})

    async def droplets_collection(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        if self.rate_limited:
            return _error(429, "too_many_requests", "API Rate limit exceeded.")
        body = await self._body(request)
        if request.method == "GET":
            tag = request.query_params.get("tag_name")
            found = [self._droplet_json(d) for d in self.droplets.values()
                     if tag is None or tag in d["tags"]]
            return JSONResponse({"droplets": found, "links": {},
                                 "meta": {"total": len(found)}})
        await asyncio.sleep(self.create_delay)
        if self.fail_droplet_create:
            return _error(500, "server_error", "Server was unable to give you a response.")
        if self.droplet_limit is not None and len(self.droplets) >= self.droplet_limit:
            return _unprocessable(
                "creating this/these droplet(s) will exceed your droplet limit"
            )
        for required in ("name", "region", "size", "image"):
            if not body.get(required):
                return _unprocessable(f"{required} is required")
        if body["region"] not in REGIONS:
            return _unprocessable("You specified an invalid region for Droplet creation.")
        if body["size"] not in SIZES:
            return _unprocessable("You specified an invalid size for Droplet creation.")
        if body["image"] not in IMAGES:
            return _unprocessable("You specified an invalid image for Droplet creation.")
        for key in body.get("ssh_keys", []):
            if not any(key in (k["id"], k["fingerprint"]) for k in self.keys.values()):
                return _unprocessable("You specified an invalid ssh key for Droplet creation.")
        vpc = body.get("vpc_uuid")
        if vpc is not None and (vpc not in self.vpcs or self.vpcs[vpc]["region"] != body["region"]):
            return _unprocessable("The VPC must exist and be in the Droplet's region.")
        for volume_id in body.get("volumes", []):
            volume = self.volumes.get(volume_id)
            if volume is None or volume["region"]["slug"] != body["region"]:
                return _unprocessable("Volumes must exist in the Droplet's region.")
        droplet_id = next(self._ids)
        self.droplets[droplet_id] = {
            "id": droplet_id, "name": body["name"], "region": body["region"],
            "size": body["size"], "image": body["image"], "status": "new",
            "tags": body.get("tags", []), "vpc_uuid": vpc or "default-vpc",
            "volume_ids": list(body.get("volumes", [])), "ssh_keys": body.get("ssh_keys", []),
            "user_data": body.get("user_data"),
        }
        for volume_id in body.get("volumes", []):
            self.volumes[volume_id]["droplet_ids"].append(droplet_id)
        self._polls[droplet_id] = self.boot_polls
        return JSONResponse(
            {"droplet": self._droplet_json(self.droplets[droplet_id]),
             "links": {"actions": [{"id": 1, "rel": "create", "href": "http://x/v2/actions/1"}]}},
            status_code=202,
        )

    def _find(self, request: Request) -> dict[str, Any] | None:
        try:
            return self.droplets.get(int(request.path_params["id"]))
        except ValueError:
            return None

    def _detach_all(self, droplet: dict[str, Any]) -> None:
        for volume in self.volumes.values():
            if droplet["id"] in volume["droplet_ids"]:
                volume["droplet_ids"].remove(droplet["id"])

    async def droplet(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        await self._body(request)
        droplet = self._find(request)
        if droplet is None:
            return _not_found()
        if request.method == "DELETE":
            self._detach_all(droplet)  # volumes survive, detached
            del self.droplets[droplet["id"]]
            return Response(status_code=204)
        if droplet["status"] == "new":
            self._polls[droplet["id"]] -= 1
            if self._polls[droplet["id"]] < 0:
                droplet["status"] = "active"
        return JSONResponse({"droplet": self._droplet_json(droplet)})

    async def destroy_selective(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        body = await self._body(request) or {}
        droplet = self._find(request)
        if droplet is None:
            return _not_found()
        for volume_id in body.get("volumes", []):
            if volume_id not in droplet["volume_ids"]:
                return _unprocessable(f"volume {volume_id} is not associated with the Droplet")
        self._detach_all(droplet)
        for volume_id in body.get("volumes", []):
            del self.volumes[volume_id]
        del self.droplets[droplet["id"]]
        return Response(status_code=202)

    async def droplet_actions(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        body = await self._body(request) or {}
        droplet = self._find(request)
        if droplet is None:
            return _not_found()
        kind = body.get("type")
        transitions = {"power_on": "active", "shutdown": "off", "power_off": "off",
                       "reboot": "active"}
        if kind not in transitions:
            return _unprocessable(f"invalid action type {kind!r}")
        if kind == "reboot" and droplet["status"] == "off":
            return _unprocessable("Droplet is not powered on.")
        droplet["status"] = transitions[kind]
        self.actions.append((droplet["id"], kind))
        return JSONResponse({"action": {
            "id": len(self.actions), "status": "in-progress", "type": kind,
            "started_at": "2026-01-02T03:04:05Z", "completed_at": None,
            "resource_id": droplet["id"], "resource_type": "droplet",
            "region_slug": droplet["region"],
        }}, status_code=201)

    async def vpcs_collection(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        body = await self._body(request)
        if not body.get("name") or not body.get("region"):
            return _unprocessable("name and region are required")
        if body["region"] not in REGIONS:
            return _unprocessable("invalid region")
        await asyncio.sleep(self.vpc_delay)
        if self.fail_vpc_create:
            return _error(500, "server_error", "Server was unable to give you a response.")
        vpc_id = str(uuid.uuid4())
        self.vpcs[vpc_id] = {
            "id": vpc_id, "urn": f"do:vpc:{vpc_id}", "name": body["name"],
            "description": body.get("description", ""), "region": body["region"],
            "ip_range": body.get("ip_range", "10.116.0.0/20"), "default": False,
            "created_at": "2026-01-02T03:04:05Z",
        }
        return JSONResponse({"vpc": self.vpcs[vpc_id]}, status_code=201)

    async def vpc(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error(401, "unauthorized", "Unable to authenticate you")
        await self._body(request)
        vpc = self.vpcs.get(request.path_params["id"])
        if vpc is None:
            return _not_found()
        if request.method == "DELETE":
            if any(d["vpc_uuid"] == vpc["id"] for d in self.droplets.values()):
                return _error(403, "forbidden", "Can not delete VPC with members")
            del self.vpcs[vpc["id"]]
            return Response(status_code=204)
        return JSONResponse({"vpc": vpc})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v2/sizes", self.sizes),
            Route("/v2/regions", self.regions),
            Route("/v2/account/keys", self.keys_collection, methods=["GET", "POST"]),
            Route("/v2/account/keys/{ref}", self.key, methods=["GET", "DELETE"]),
            Route("/v2/volumes", self.volumes_collection, methods=["POST"]),
            Route("/v2/volumes/{id}", self.volume, methods=["GET", "DELETE"]),
            Route("/v2/droplets", self.droplets_collection, methods=["GET", "POST"]),
            Route("/v2/droplets/{id}", self.droplet, methods=["GET", "DELETE"]),
            Route("/v2/droplets/{id}/actions", self.droplet_actions, methods=["POST"]),
            Route("/v2/droplets/{id}/destroy_with_associated_resources/selective",
                  self.destroy_selective, methods=["DELETE"]),
            Route("/v2/vpcs", self.vpcs_collection, methods=["POST"]),
            Route("/v2/vpcs/{id}", self.vpc, methods=["GET", "DELETE"]),
        ])
