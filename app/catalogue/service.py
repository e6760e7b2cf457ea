"""The cloud catalogue: services, regions and instance types, from data files (one JSON
per cloud service). The project ships them in `app/catalogue/data/`;
`devopness-server catalogue-refresh` rewrites them from the providers' APIs, into the
folder `CATALOGUE_DIR` names when set (files there win over the shipped ones).

An instance type is either priced per region (`prices`: region -> [hourly, monthly], sold
only there: what a refresh writes) or priced once and sold in every region, times the
file's `region_price_factor` (what a person maintains by hand)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.core.errors import NotFound
from app.credentials.catalogue import PROVIDERS, ProviderType

DATA = Path(__file__).parent / "data"
_override: Path | None = None


def use_directory(directory: Path | None) -> None:
    """Serve the catalogue files of `directory` before the shipped ones (CATALOGUE_DIR)."""
    global _override
    _override = directory


def file_for(code: str) -> Path | None:
    """Where the catalogue of `code` is read from: the override folder first."""
    if "/" in code or "\\" in code or code.startswith("."):
        return None
    for folder in (_override, DATA):
        if folder is not None and (folder / f"{code}.json").is_file():
            return folder / f"{code}.json"
    return None

UBUNTU = {
    "code": "ubuntu",
    "name": "Ubuntu",
    "hint": "Ubuntu LTS releases",
    "supported_versions": [
        {"name": "Ubuntu 22.04 LTS", "code_name": "jammy", "version": "22.04",
         "os_version_code": "ubuntu_22_04",
         "os_version_code_human_readable": "Ubuntu 22.04 LTS (Jammy Jellyfish)",
         "released_at": "2022-04-21", "end_standard_support_at": "2027-06-01",
         "end_of_life_at": "2032-04-01"},
        {"name": "Ubuntu 24.04 LTS", "code_name": "noble", "version": "24.04",
         "os_version_code": "ubuntu_24_04",
         "os_version_code_human_readable": "Ubuntu 24.04 LTS (Noble Numbat)",
         "released_at": "2024-04-25", "end_standard_support_at": "2029-05-31",
         "end_of_life_at": "2034-04-25"},
    ],
}


@lru_cache(maxsize=32)
def _load(path: Path, _version: tuple[int, int]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _raw(code: str) -> dict[str, Any] | None:
    path = file_for(code)
    if path is None:
        return None
    # Keyed on the file's identity and time, so a refreshed file is served without a
    # restart (the refresh replaces it atomically: a new inode).
    stat = path.stat()
    return _load(path, (stat.st_ino, stat.st_mtime_ns))


def service_codes() -> list[str]:
    codes = {p.stem for p in DATA.glob("*.json")}
    if _override is not None and _override.is_dir():
        codes.update(p.stem for p in _override.glob("*.json") if not p.stem.startswith("."))
    return sorted(codes)


def _input(name: str, human: str, kind: str, default: Any, allowed: list[str],
           low: int = 1, high: int = 255) -> dict[str, Any]:
    return {
        "name": name, "name_human_readable": human, "default_value": default,
        "sensitive": False,
        "validation": {"required": True, "type": kind, "min": low, "max": high,
                       "allowed_values": allowed},
    }


def provider_relation(code: str) -> dict[str, Any]:
    definition = PROVIDERS[code]
    return {
        "active": True, "code": code, "code_human_readable": definition.name,
        "type": ProviderType.CLOUD.value, "type_human_readable": ProviderType.CLOUD.human_readable,
    }


def cloud_service(code: str) -> dict[str, Any]:
    raw = _raw(code)
    if raw is None:
        raise NotFound("Cloud provider service not found.")
    regions = [
        {"code": r["code"], "name": r["name"], "hint": f"{r['name']} {r['code']}",
         "zones": r["zones"]}
        for r in raw["regions"]
    ]
    server_inputs = []
    if regions:
        server_inputs.append(_input("region", "Region", "string", regions[0]["code"],
                                    [r["code"] for r in regions]))
        server_inputs.append(_input("instance_type", "Instance type", "string",
                                    raw["instances"][0]["type"],
                                    [i["type"] for i in raw["instances"]]))
    if raw.get("storage"):
        low, high, default = raw["storage"]
        server_inputs.append(_input("storage_size", "Storage size (GB)", "integer", default, [],
                                    low, high))
    body: dict[str, Any] = {
        "code": raw["code"],
        "name": raw["name"],
        "regions": regions,
        "resource_types": [
            {"provider_resource_type": "instance", "devopness_resource_type": "server",
             "scope": "region" if regions else "global", "input_settings": server_inputs,
             "os": [UBUNTU], "can_keep_disk_after_delete_server": bool(raw.get("storage"))},
        ],
    }
    if raw.get("provider"):
        body["provider"] = provider_relation(raw["provider"])
    return body


def cloud_service_summary(code: str) -> dict[str, Any]:
    full = cloud_service(code)
    return {k: full[k] for k in ("code", "name", "provider", "regions") if k in full}


def region_codes(code: str) -> set[str]:
    raw = _raw(code)
    return {r["code"] for r in raw["regions"]} if raw else set()


def zone_codes(code: str, region: str) -> set[str]:
    raw = _raw(code)
    if not raw:
        return set()
    return {z for r in raw["regions"] if r["code"] == region for z in r["zones"]}


def priced_instances(raw: Mapping[str, Any], region: str) -> list[dict[str, Any]]:
    """The instance types one catalogue file sells in `region`, priced there."""
    factor = float(raw.get("region_price_factor", {}).get(region, 1.0))
    result = []
    for item in raw["instances"]:
        entry = {k: v for k, v in item.items() if k != "prices"}
        if "prices" in item:
            if region not in item["prices"]:
                continue
            entry["price_hourly"], entry["price_monthly"] = item["prices"][region]
        else:
            entry["price_hourly"] = round(item["price_hourly"] * factor, 5)
            entry["price_monthly"] = round(item["price_monthly"] * factor, 2)
        result.append(entry)
    return result


def instances(code: str, region: str) -> list[dict[str, Any]]:
    raw = _raw(code)
    if raw is None:
        raise NotFound("Cloud provider service not found.")
    if region not in {r["code"] for r in raw["regions"]}:
        raise NotFound("Region not found for this cloud provider service.")
    return priced_instances(raw, region)


def credential_options() -> dict[str, Any]:
    return {
        "provider_types": [
            {"type": t.value, "type_human_readable": t.human_readable} for t in ProviderType
        ],
        "supported_providers": [
            {"code": p.code, "name": p.name, "hint": p.hint, "type": p.type.value,
             "type_human_readable": p.type.human_readable}
            for p in PROVIDERS.values()
        ],
    }


def region_name(code: str, region: str) -> str:
    raw = _raw(code)
    for r in raw["regions"] if raw else []:
        if r["code"] == region:
            return f"{r['name']} {region}"
    return region
