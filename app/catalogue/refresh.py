"""Refreshing the cloud catalogue from the providers' own APIs
(`devopness-server catalogue-refresh`).

For each cloud service with a credential, the provider lists its regions and instance
types (`CatalogueProvider`); the result is merged with the catalogue file it replaces:
- regions and types are the provider's (what the account can order today); a region name
  the provider does not tell (Google's) keeps the name the file had;
- each type carries its price per region (`prices`), so `instances by region` lists only
  where it is sold; a price the provider's list lacks keeps the file's price for that
  type and region, and where the file had none that region is left out for the type
  (reported, never invented);
- what a person maintains by hand (the service's name, storage limits) is kept.

A file is replaced atomically and only when its provider answered in full: a rejected
credential or an empty answer leaves the catalogue as it was.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.catalogue import service as catalogue_data
from app.cloud.base import (
    CatalogueProvider,
    CloudError,
    CredentialRejected,
    InstanceTypeInfo,
    RegionInfo,
)
from app.cloud.providers import catalogue_provider
from app.core.settings import Settings

# Where a credential can come from when none is stored: the variables each provider's own
# command-line tools read.
ENVIRONMENT_CREDENTIALS: dict[str, dict[str, str]] = {
    "aws-ec2": {"access_key_id": "AWS_ACCESS_KEY_ID",
                "secret_access_key": "AWS_SECRET_ACCESS_KEY"},
    "digitalocean-droplet": {"api_token": "DIGITALOCEAN_TOKEN"},
    "hetzner-hcloud": {"api_token": "HCLOUD_TOKEN"},
    # A path to the service account's JSON key, as Google's libraries take it.
    "gcp-gce": {"service_account_key": "GOOGLE_APPLICATION_CREDENTIALS"},
    "azure-rm": {"tenant_id": "AZURE_TENANT_ID", "subscription_id": "AZURE_SUBSCRIPTION_ID",
                 "client_id": "AZURE_CLIENT_ID", "client_secret": "AZURE_CLIENT_SECRET"},
}


class RefreshError(Exception):
    """Nothing was written for this service; the message says why."""


def credential_from_environment(
    code: str, environ: Mapping[str, str]
) -> dict[str, str] | None:
    """The credential the environment holds for `code`, or None when any part is missing."""
    names = ENVIRONMENT_CREDENTIALS[code]
    if not all(environ.get(variable) for variable in names.values()):
        return None
    values = {key: environ[variable] for key, variable in names.items()}
    if code == "gcp-gce":
        path = Path(values["service_account_key"])
        try:
            values["service_account_key"] = path.read_text()
        except OSError as exc:
            raise RefreshError(
                f"GOOGLE_APPLICATION_CREDENTIALS: cannot read {path} ({exc.strerror})."
            ) from exc
    return values


@dataclass
class Report:
    code: str
    regions: int = 0
    types: int = 0
    regions_added: list[str] = field(default_factory=list)
    regions_removed: list[str] = field(default_factory=list)
    types_added: list[str] = field(default_factory=list)
    types_removed: list[str] = field(default_factory=list)
    prices_changed: int = 0
    prices_kept: int = 0  # the provider gave none; the file's price stays
    unpriced: list[str] = field(default_factory=list)  # "type@region" left out

    def lines(self) -> list[str]:
        out = [f"{self.code}: {self.regions} region(s), {self.types} instance type(s)"]
        for label, items in (
            ("regions added", self.regions_added), ("regions removed", self.regions_removed),
            ("types added", self.types_added), ("types removed", self.types_removed),
        ):
            if items:
                shown = ", ".join(items[:12]) + (" ..." if len(items) > 12 else "")
                out.append(f"  {label} ({len(items)}): {shown}")
        if self.prices_changed:
            out.append(f"  prices changed: {self.prices_changed}")
        if self.prices_kept:
            out.append(f"  prices kept from the previous catalogue (none listed): "
                       f"{self.prices_kept}")
        if self.unpriced:
            shown = ", ".join(self.unpriced[:12]) + (" ..." if len(self.unpriced) > 12 else "")
            out.append(f"  left out, no price known ({len(self.unpriced)}): {shown}")
        return out


def _old_prices(old: Mapping[str, Any] | None) -> dict[str, dict[str, tuple[float, float, str]]]:
    """type -> region -> (hourly, monthly, currency) as the previous catalogue served them."""
    if not old:
        return {}
    found: dict[str, dict[str, tuple[float, float, str]]] = {}
    for region in old.get("regions", []):
        for item in catalogue_data.priced_instances(old, region["code"]):
            found.setdefault(item["type"], {})[region["code"]] = (
                item["price_hourly"], item["price_monthly"], item["price_currency"])
    return found


def merge(
    code: str,
    old: Mapping[str, Any] | None,
    regions: Sequence[RegionInfo],
    types: Sequence[InstanceTypeInfo],
) -> tuple[dict[str, Any], Report]:
    """The new catalogue file for `code` and what changed."""
    report = Report(code)
    old_names = {r["code"]: r["name"] for r in (old or {}).get("regions", [])}
    old_types = {i["type"] for i in (old or {}).get("instances", [])}
    old_prices = _old_prices(old)
    region_codes = {r.code for r in regions}

    new_regions = [
        {"code": r.code,
         "name": r.name if r.name and r.name != r.code else old_names.get(r.code, r.code),
         "zones": list(r.zones)}
        for r in sorted(regions, key=lambda r: r.code)
    ]
    instances: list[dict[str, Any]] = []
    for info in types:
        prices: dict[str, list[float]] = {}
        currency = None
        for region, price in sorted(info.regions.items()):
            if region not in region_codes:
                continue
            before = old_prices.get(info.type, {}).get(region)
            if price is None:
                if before is None:
                    report.unpriced.append(f"{info.type}@{region}")
                    continue
                hourly, monthly, price_currency = before
                report.prices_kept += 1
            else:
                hourly, monthly = round(price.hourly, 6), round(price.monthly, 2)
                price_currency = price.currency
                if before is not None and (before[0], before[2]) != (hourly, price_currency):
                    report.prices_changed += 1
            if currency not in (None, price_currency):
                # One currency per type: the API has one price_currency field.
                report.unpriced.append(f"{info.type}@{region}")
                continue
            currency = price_currency
            prices[region] = [hourly, monthly]
        if not prices or currency is None:
            continue
        cheapest = min(prices.values())
        instances.append({
            "name": info.type, "type": info.type, "family": info.family,
            "architecture": info.architecture, "default_disk_size": info.default_disk_size_gb,
            "price_hourly": cheapest[0], "price_monthly": cheapest[1],
            "price_currency": currency, "vcpus": info.vcpus, "memory": info.memory_mb,
            "prices": prices,
        })
    # The first type is the default a client offers: the cheapest, then the smallest.
    instances.sort(key=lambda i: (i["price_hourly"], i["vcpus"], i["memory"], i["type"]))

    new_types = {i["type"] for i in instances}
    report.regions, report.types = len(new_regions), len(instances)
    report.regions_added = sorted(region_codes - set(old_names))
    report.regions_removed = sorted(set(old_names) - region_codes)
    report.types_added = sorted(new_types - old_types)
    report.types_removed = sorted(old_types - new_types)

    data: dict[str, Any] = {
        key: value for key, value in (old or {}).items()
        if key not in ("regions", "instances", "region_price_factor", "refreshed_at")
    }
    data.update({
        "code": code,
        "regions": new_regions,
        "instances": instances,
        "refreshed_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    })
    return data, report


def _matches(type_code: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(type_code, p) for p in patterns)


async def refresh(
    code: str,
    provider: CatalogueProvider,
    *,
    old: Mapping[str, Any] | None,
    only_regions: Sequence[str] = (),
    only_types: Sequence[str] = (),
) -> tuple[dict[str, Any], Report]:
    """Ask the provider and build the new file (nothing is written here)."""
    regions = await provider.list_regions()
    if only_regions:
        unknown = sorted(set(only_regions) - {r.code for r in regions})
        if unknown:
            raise RefreshError(f"the account has no region {', '.join(unknown)}.")
        regions = [r for r in regions if r.code in set(only_regions)]
    if not regions:
        raise RefreshError("the provider listed no region this account can use.")
    types = [
        t for t in await provider.list_instance_types([r.code for r in regions])
        if _matches(t.type, only_types)
    ]
    data, report = merge(code, old, regions, types)
    if not data["instances"]:
        raise RefreshError("no instance type with a known price is offered in those regions.")
    return data, report


def write(path: Path, data: Mapping[str, Any]) -> None:
    """Replace `path` atomically: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out, indent=1)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class Outcome:
    code: str
    report: Report | None = None
    path: Path | None = None  # written (None: dry run, skipped or failed)
    skipped: str | None = None  # why nothing was asked (no credential)
    error: str | None = None  # why nothing was written

    @property
    def failed(self) -> bool:
        return self.error is not None


async def stored_credential(settings: Settings, credential_id: int) -> tuple[str, dict[str, str]]:
    """The cloud service code and decrypted values of a stored cloud credential."""
    from app.core.database import Database
    from app.core.security import SecretBox
    from app.credentials.catalogue import ProviderType, provider
    from app.credentials.models import Credential
    from app.credentials.secrets import unseal

    database = Database(settings)
    try:
        async with database.transaction() as session:
            credential = await session.get(Credential, credential_id)
            if credential is None:
                raise RefreshError(f"there is no credential {credential_id}.")
            definition = provider(credential.provider_code)
            if (credential.provider_type != ProviderType.CLOUD.value or definition is None
                    or definition.cloud_service is None):
                raise RefreshError(f"credential {credential_id} is not a cloud credential.")
            return definition.cloud_service, unseal(SecretBox(settings),
                                                    credential.settings_encrypted)
    finally:
        await database.dispose()


async def refresh_catalogues(
    settings: Settings,
    *,
    codes: Sequence[str] = (),
    credential_id: int | None = None,
    only_regions: Sequence[str] = (),
    only_types: Sequence[str] = (),
    output: Path | None = None,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """Refresh the catalogue of each service in `codes` (all five when empty) that has a
    credential: the stored one given, else one from the environment."""
    environ = os.environ if environ is None else environ
    folder = output or settings.catalogue_dir or catalogue_data.DATA
    unknown = sorted(set(codes) - set(ENVIRONMENT_CREDENTIALS))
    if unknown:
        known = ", ".join(ENVIRONMENT_CREDENTIALS)
        raise RefreshError(f"no cloud service {', '.join(unknown)} (known: {known}).")
    stored: tuple[str, dict[str, str]] | None = None
    if credential_id is not None:
        stored = await stored_credential(settings, credential_id)
        if codes and list(codes) != [stored[0]]:
            raise RefreshError(f"credential {credential_id} is for {stored[0]} only.")
        codes = [stored[0]]
    outcomes = []
    for code in codes or list(ENVIRONMENT_CREDENTIALS):
        outcome = Outcome(code)
        outcomes.append(outcome)
        try:
            values = stored[1] if stored else credential_from_environment(code, environ)
            if values is None:
                variables = " and ".join(ENVIRONMENT_CREDENTIALS[code].values())
                outcome.skipped = f"no credential (set {variables}, or pass --credential-id)"
                if codes:  # asked for by name: not refreshing it is a failure
                    outcome.error, outcome.skipped = outcome.skipped, None
                continue
            target = folder / f"{code}.json"
            # What the new file replaces: the one there, else the one served today.
            source = target if target.is_file() else catalogue_data.file_for(code)
            old = json.loads(source.read_text()) if source is not None else None
            data, outcome.report = await refresh(
                code, catalogue_provider(code, values, settings), old=old,
                only_regions=only_regions, only_types=only_types,
            )
            if not dry_run:
                write(target, data)
                outcome.path = target
        except RefreshError as exc:
            outcome.error = str(exc)
        except CredentialRejected as exc:
            outcome.error = f"the provider rejected the credential ({exc})"
        except CloudError as exc:
            outcome.error = str(exc)
    return outcomes
