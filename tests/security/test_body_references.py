"""Generated: every id a request body names, tried with another tenant's id.

The operations come from the reference (`devopness-openapi-2026-08.json`): every operation
whose request body schema (with `$ref`s, `allOf`/`oneOf`/`anyOf` and arrays resolved) has a
property named `*_id` or `*_ids`, a `servers` list or a `linked_resources` list. For each
such field, two tenants are built with one resource of every kind; the attacker calls the
operation on her own resources with a valid body whose field names the victim's row. The
answer must be a 404, or a 422 naming that field, and the database must be unchanged. The
same body with the attacker's own id must then be accepted, so a refusal for any other
reason cannot pass for a check.

A new operation or field fails `test_every_reference_is_mapped` until it gets a kind in
`FIELD_KINDS` (or a reason in `NOT_REFERENCES`), so none can slip through unchecked.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.catalogue import ALL_PERMISSIONS
from app.actions.models import Pipeline
from app.core.settings import Settings
from app.models import Base
from app.networks.models import Subnet
from tests import factories_credentials as fc
from tests import reference
from tests import resource_factories as rf
from tests.factories import create_role, create_team
from tests.tenancy.test_isolation import _example

REFERENCE_SUFFIXES = ("_id", "_ids")
REFERENCE_LISTS = ("servers", "linked_resources")

# Fields that look like references but name nothing a tenant owns.
NOT_REFERENCES = {
    "settings.credential.": "a provider's own identifiers inside credential settings "
    "(an AWS access key id, an Azure tenant id...), not rows of this server",
    "template_id": "a template of the shared catalogue, the same for every tenant",
}

# body field -> the kind of row it names (operation-specific entries first).
FIELD_KINDS: dict[str, str] = {
    "credential_id": "credential",
    "application_id": "application",
    "virtual_host_id": "virtual-host",
    "pipeline_id": "pipeline",
    "role_id": "role",
    "provision_input.subnet_id": "subnet",
    "servers": "server",
    "linked_resources": "server",
    "linked_resources[].resource_id": "server",
    "addEnvironmentServer linked_resources": "application",
    "addEnvironmentServer linked_resources[].resource_id": "application",
}


def _resolve(schema: Any, doc: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _reference_fields(schema: Any, doc: dict[str, Any], prefix: str = "",
                      seen: frozenset[str] = frozenset()) -> set[str]:
    if isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        if name in seen:
            return set()
        seen = seen | {name}
    schema = _resolve(schema, doc)
    if not isinstance(schema, dict):
        return set()
    found: set[str] = set()
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            found |= _reference_fields(part, doc, prefix, seen)
    for name, prop in schema.get("properties", {}).items():
        path = prefix + name
        if name.endswith(REFERENCE_SUFFIXES) or name in REFERENCE_LISTS:
            found.add(path)
        resolved = _resolve(prop, doc)
        if isinstance(resolved, dict) and resolved.get("type") == "array":
            found |= _reference_fields(resolved.get("items", {}), doc, path + "[].", seen)
        else:
            found |= _reference_fields(prop, doc, path + ".", seen)
    return found


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    operation_id: str
    field: str
    example: Any

    def __str__(self) -> str:
        return f"{self.operation_id}:{self.field}"


def _is_reference(field: str) -> bool:
    return not any(field.startswith(p) or field == p for p in NOT_REFERENCES)


def _cases() -> list[Case]:
    if reference.reference_dir() is None:
        return []
    doc, _ = reference.documents()
    cases = []
    for path, item in doc["paths"].items():
        for method, spec in item.items():
            if not isinstance(spec, dict) or "requestBody" not in spec:
                continue
            content = spec["requestBody"].get("content", {}).get("application/json", {})
            if "schema" not in content:
                continue
            fields = {f for f in _reference_fields(content["schema"], doc) if _is_reference(f)}
            # `linked_resources` and its `[].resource_id` are one reference: try the id.
            if "linked_resources[].resource_id" in fields:
                fields.discard("linked_resources")
            example = _example(content["schema"], doc)
            for field in sorted(fields):
                cases.append(Case(method.upper(), path, spec["operationId"], field, example))
    return sorted(cases, key=str)


CASES = _cases()
# Reference 2026-08: 47 fields over 40 operations. A change here means the reference
# changed: check the new fields are mapped (and update the numbers).
EXPECTED_FIELDS = 47


def _kind(case: Case) -> str | None:
    return FIELD_KINDS.get(f"{case.operation_id} {case.field}") or FIELD_KINDS.get(case.field)


def test_every_reference_is_mapped() -> None:
    if not CASES:
        reference.require_reference()
    unmapped = [str(c) for c in CASES if _kind(c) is None]
    assert not unmapped, f"map these body fields to a kind in FIELD_KINDS: {unmapped}"
    operations = {c.operation_id for c in CASES}
    print(f"{len(CASES)} reference fields in {len(operations)} operations")
    assert len(CASES) == EXPECTED_FIELDS, sorted(str(c) for c in CASES)


# ---------------------------------------------------------------- two tenants


@dataclass
class World:
    tenant: fc.Tenant
    ids: dict[str, int]

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.headers


async def _world(db: AsyncSession, settings: Settings) -> World:
    t = await fc.create_tenant(db)
    rt = rf.Tenant(t.user, t.token, t.project, t.environment)
    cloud = await fc.create_credential(db, settings, t)
    source = await fc.create_credential(
        db, settings, t, provider_code="github", values={"access_token": "ghp_" + "a" * 36}
    )
    network = await fc.create_network(db, t, cloud)
    subnet = Subnet(
        network_id=network.id, environment_id=t.environment.id, project_id=t.project.id,
        credential_id=cloud.id, name="sub", region="us-east-1", zone="us-east-1a",
        cidr_block="10.0.1.0/24", created_by=t.user.id,
    )
    db.add(subnet)
    await db.commit()
    server = await rf.create_server(db, rt)
    application = await rf.create_application(db, rt, credential_id=source.id)
    daemon = await rf.create_daemon(db, rt, application_id=application.id)
    cron_job = await rf.create_cron_job(db, rt)
    service = await rf.create_service(db, rt)
    host = await rf.create_virtual_host(db, rt)
    # The certificate sits on a host of its own: `host` stays free to get one or be renamed.
    certified = await rf.create_virtual_host(db, rt)
    certificate = await rf.create_ssl_certificate(db, rt, virtual_host_id=certified.id)
    rule = await rf.create_network_rule(db, rt)
    key = await rf.create_ssh_key(db, rt)
    for kind, row in (("application", application), ("daemon", daemon),
                      ("cronjob", cron_job), ("service", service), ("virtual-host", host),
                      ("virtual-host", certified),
                      ("network-rule", rule), ("ssh-key", key)):
        await rf.link(db, kind, row.id, server)
    pipeline = Pipeline(
        name="deploy", resource_type="application", resource_id=application.id,
        operation="deploy", environment_id=t.environment.id, project_id=t.project.id,
        organization_id=t.organization.id, created_by=t.user.id,
    )
    db.add(pipeline)
    await db.commit()
    role = await create_role(db, permissions=sorted(ALL_PERMISSIONS),
                             organization=t.organization)
    team = await create_team(db, organization=t.organization, members=(t.user,))
    ids = {
        "organization_id": t.organization.id, "project_id": t.project.id,
        "environment_id": t.environment.id, "credential_id": cloud.id,
        "source_credential_id": source.id, "network_id": network.id,
        "subnet_id": subnet.id, "server_id": server.id, "application_id": application.id,
        "daemon_id": daemon.id, "cron_job_id": cron_job.id, "service_id": service.id,
        "virtual_host_id": host.id, "ssl_certificate_id": certificate.id,
        "network_rule_id": rule.id, "ssh_key_id": key.id, "pipeline_id": pipeline.id,
        "role_id": role.id, "team_id": team.id,
    }
    return World(t, ids)


def _kind_id(world: World, kind: str, case: Case) -> int:
    if kind == "credential" and case.operation_id in ("addEnvironmentApplication",
                                                      "updateApplication"):
        return world.ids["source_credential_id"]
    key = {"virtual-host": "virtual_host_id"}.get(kind, f"{kind}_id")
    return world.ids[key]


def _set(body: dict[str, Any], field: str, value: Any, kind: str) -> None:
    """Put `value` (an id) where `field` is, creating what leads to it."""
    if field.startswith("linked_resources"):
        body["linked_resources"] = [{"resource_type": kind, "resource_id": value}]
        return
    if field == "servers" or field.endswith("_ids"):
        body[field] = [value]
        return
    parts = field.split(".")
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


# Bodies the reference's examples get wrong for a valid request here.
BODY_FIXES: dict[str, dict[str, Any]] = {
    "addEnvironmentServer": {
        "hostname": "web-new", "ip_address": None, "blueprint": [], "ssh_user": "root",
        "provision_input": {"cloud_service_code": "aws-ec2", "settings": {
            "region": "us-east-1", "instance_type": "t3.micro", "storage_size": 20,
            "os_version_code": "ubuntu_24_04"}},
    },
    "addEnvironmentNetwork": {"name": "net-new"},
    "addNetworkSubnet": {"name": "sub-new", "provision_input": {"settings": {
        "zone": "us-east-1a", "cidr_block": "10.0.9.0/24"}}},
    "addEnvironmentApplication": {"name": "app-new"},
    "updateApplication": {"name": "app-renamed"},
    "addEnvironmentDaemon": {"name": "daemon-new", "run_as_user": "root"},
    "updateDaemon": {"name": "daemon-renamed", "run_as_user": "root"},
    "addEnvironmentCronJob": {"name": "cron-new"},
    "addEnvironmentVirtualHost": {"name": "new.example.com"},
    "updateVirtualHost": {"name": "renamed.example.com"},
    "addEnvironmentSslCertificate": {"issuer": "lets-encrypt", "custom_private_key": None,
                                     "custom_certificate": None},
    "addEnvironmentSshKey": {"name": "key-new"},
    "addProjectApiToken": {
        "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat()},
    "addApplicationDeployment": {"source_type": "branch", "source_ref": "main"},
}


def _path(case: Case, world: World) -> str:
    def fill(match: re.Match[str]) -> str:
        return str(world.ids[match.group(1)])

    return re.sub(r"\{(\w+)\}", fill, case.path)


def _body(case: Case, world: World, value: int, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(case.example) if isinstance(case.example, dict) else {}

    def merge(into: dict[str, Any], fix: dict[str, Any]) -> None:
        for k, v in fix.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            elif v is None:
                into.pop(k, None)
            else:
                into[k] = copy.deepcopy(v)

    merge(body, BODY_FIXES.get(case.operation_id, {}))
    last = re.findall(r"\{(\w+)\}", case.path)
    if "id" in body and last:
        body["id"] = world.ids[last[-1]]
    # Every other reference names the caller's own row: only `case.field` differs.
    for other in sorted(_reference_fields_of(case)):
        if other == case.field:
            continue
        other_kind = FIELD_KINDS.get(f"{case.operation_id} {other}") or FIELD_KINDS[other]
        if other.startswith("linked_resources") or other == "servers":
            body.pop(other.split("[")[0], None)
            continue
        _set(body, other, _kind_id(world, other_kind, case), other_kind)
    _set(body, case.field, value, kind)
    return body


def _reference_fields_of(case: Case) -> set[str]:
    return {c.field for c in CASES if c.operation_id == case.operation_id}


async def _state(db: AsyncSession) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for table in Base.metadata.sorted_tables:
        rows = (await db.execute(select(table))).all()
        snapshot[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return snapshot


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_foreign_id_is_refused_and_changes_nothing(
    case: Case, client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    kind = _kind(case)
    assert kind is not None, f"{case}: no kind in FIELD_KINDS"
    victim = await _world(db, settings)
    attacker = await _world(db, settings)
    path = _path(case, attacker)
    foreign = _body(case, attacker, _kind_id(victim, kind, case), kind)
    before = await _state(db)

    r = await client.request(case.method, path, json=foreign, headers=attacker.headers)
    assert r.status_code in (404, 422), (
        f"{case.method} {path} with the other tenant's {kind} in {case.field}: "
        f"{r.status_code} {r.text[:400]}"
    )
    if r.status_code == 422:
        top = case.field.split("[")[0].split(".")[0]
        errors = r.json().get("errors", {})
        assert any(key.split(".")[0] == top for key in errors), (
            f"{case}: refused for another reason: {r.text[:400]}"
        )
    assert await _state(db) == before, f"{case}: the refused request changed stored data"

    own = _body(case, attacker, _kind_id(attacker, kind, case), kind)
    r = await client.request(case.method, path, json=own, headers=attacker.headers)
    assert r.status_code < 300, (
        f"control: {case.method} {path} with the caller's own {kind} in {case.field}: "
        f"{r.status_code} {r.text[:400]}"
    )
