"""No N+1 on any read: every GET operation of the reference runs a fixed, small number of SQL
statements, whatever the page size and however many related rows exist.

The cases are generated from the reference's GET operations: a new operation without a row
in CEILINGS fails here. Each case seeds a world holding one of every resource, counts the
statements of one request, grows every relation the request could walk (list items,
servers per resource, targets and steps per action, members, links, variables...), and
counts again: the two counts must be equal and within the operation's ceiling. Lists are
also read at per_page=5 and per_page=50, which must cost the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import PrincipalCache
from app.core.changes import AccessCache
from app.core.settings import Settings
from tests import contract, reference
from tests.perf.world import grow, seed

GROWTH = 6

# Statements per request at most, by operationId: the measured count of each read (the
# same on SQLite and PostgreSQL), so that one more statement fails here and the change shows
# in this table. Counted with the access cache off (`cold_access`): each includes resolving
# the caller's token, one statement; 1: the read touches no other row (static catalogues,
# the user's URLs), and a query added to one of them shows too. The caller is a team
# member, not an owner: the counts include the permission checks members pay for.
CEILINGS: dict[str, int] = {
    "getAction": 5,
    "getActionLog": 10,
    "getApplication": 4,
    "getCredential": 5,
    "getCredentialRepository": 5,
    "getCronJob": 5,
    "getDaemon": 5,
    "getEnvironment": 6,
    "getEnvironmentCredentialSettings": 4,
    "getHook": 5,
    "getHookRequest": 5,
    "getNetwork": 5,
    "getNetworkRule": 4,
    "getOrganization": 6,
    "getOrganizationCredentialSettings": 3,
    "getPipeline": 5,
    "getProject": 3,
    "getProjectApiToken": 4,
    "getRole": 5,
    "getServer": 3,
    "getServerCommands": 3,
    "getService": 4,
    "getSocialAccount": 2,
    "getSocialAccountStatus": 2,
    "getSshKey": 4,
    "getSslCertificate": 3,
    "getStaticApplicationOptions": 1,
    "getStaticCloudProviderService": 1,
    "getStaticCredentialOptions": 1,
    "getStaticCronJobOptions": 1,
    "getStaticEnvironmentOptions": 1,
    "getStaticNetworkRuleOptions": 1,
    "getStaticServerOptions": 1,
    "getStaticServiceOptions": 1,
    "getStaticUserProfileOptions": 1,
    "getStaticVirtualHostOptions": 1,
    "getSubnet": 5,
    "getTeam": 9,
    "getTeamMember": 10,
    "getUser": 2,
    "getUserActivity": 3,
    "getUserBilling": 2,
    "getUserLogout": 1,
    "getUserMe": 2,
    "getUserPersonalAccessToken": 2,
    "getUserUrls": 1,
    "getVariable": 5,
    "getVirtualHost": 6,
    "listActions": 6,
    "listActionsByResourceType": 9,
    "listActionsByTargetResourceType": 9,
    "listApplicationHooks": 6,
    "listApplicationVariables": 7,
    "listCredentialRepositories": 5,
    "listEnvironmentActions": 8,
    "listEnvironmentActionsByResourceType": 8,
    "listEnvironmentApplications": 5,
    "listEnvironmentCredentials": 7,
    "listEnvironmentCronJobs": 7,
    "listEnvironmentDaemons": 7,
    "listEnvironmentNetworkRules": 6,
    "listEnvironmentNetworks": 5,
    "listEnvironmentServers": 5,
    "listEnvironmentServices": 6,
    "listEnvironmentSshKeys": 6,
    "listEnvironmentSslCertificates": 5,
    "listEnvironmentSubnets": 5,
    "listEnvironmentTeamMemberships": 5,
    "listEnvironmentVirtualHosts": 8,
    "listHookRequestsByHookType": 7,
    "listNetworkSubnets": 7,
    "listOrganizationCredentials": 7,
    "listOrganizationRoles": 5,
    "listOrganizationTeamMemberships": 5,
    "listOrganizationTeams": 5,
    "listOrganizations": 3,
    "listPipelineActions": 10,
    "listPipelineHooks": 6,
    "listPipelinesByResourceType": 7,
    "listProjectActionsByResourceType": 8,
    "listProjectApiTokens": 5,
    "listProjectArchivedEnvironments": 4,
    "listProjectEnvironments": 4,
    "listProjectTeamMemberships": 5,
    "listProjects": 3,
    "listResourceEventsByResourceType": 7,
    "listResourceLinksByResourceType": 8,
    "listResourceLinksByResourceTypeAndLinkType": 8,
    "listServiceVariables": 7,
    "listSocialAccounts": 3,
    "listStaticBillingPlansOptions": 1,
    "listStaticCloudInstancesByCloudProviderServiceCodeAndRegionCode": 1,
    "listStaticPermissions": 1,
    "listStaticResourceTypes": 1,
    "listTeamInvitations": 7,
    "listTeamMembers": 7,
    "listTeamMemberships": 7,
    "listUserEnvironments": 4,
    "listUserPersonalAccessTokens": 3,
    "listUserProjects": 4,
    "listUserTeamInvitations": 4,
    "listVariablesByResourceType": 7,
}


@dataclass(frozen=True)
class Case:
    """How to call an operation in the seeded world, where the defaults do not fit."""

    params: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    # A list whose items do not grow with the world (read from a provider stand-in).
    fixed_list: bool = False
    # A list that grows, but by nature to fewer items than a page of 5 (one per provider).
    short_list: bool = False


CASES: dict[str, Case] = {
    "listResourceLinksByResourceType": Case(params={"resource_type": "network",
                                                     "resource_id": "network_id"}),
    "listResourceLinksByResourceTypeAndLinkType": Case(
        params={"resource_type": "network", "resource_id": "network_id"}),
    "listSocialAccounts": Case(short_list=True),
    "listCredentialRepositories": Case(fixed_list=True),
    "listStaticCloudInstancesByCloudProviderServiceCodeAndRegionCode": Case(fixed_list=True),
    "listStaticBillingPlansOptions": Case(fixed_list=True),
    "listStaticPermissions": Case(fixed_list=True),
    "listStaticResourceTypes": Case(fixed_list=True),
}

# GET operations not covered, each with its reason. Empty: every read is measured, those
# that read no row included (their ceiling is 0).
EXCLUDED: dict[str, str] = {}


def _get_operations() -> list[tuple[str, str, bool]]:
    """(operationId, path, answers a list) of every GET operation of the reference."""
    if reference.reference_dir() is None:
        return []
    current, _ = reference.documents()
    schemas = current["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    found = []
    for path, item in current["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        schema = (op.get("responses", {}).get("200", {}).get("content", {})
                  .get("application/json", {}).get("schema", {}))
        found.append((op["operationId"], path, resolve(schema).get("type") == "array"))
    return sorted(found)


OPERATIONS = _get_operations()


def test_every_get_operation_is_covered() -> None:
    reference.require_reference()
    ids = {op_id for op_id, _, _ in OPERATIONS}
    covered = ids - set(EXCLUDED)
    assert not set(EXCLUDED) - ids, "exclusions name operations the reference lacks"
    assert not set(CASES) - ids, "cases name operations the reference lacks"
    assert set(CEILINGS) == covered, (
        f"ceilings missing for {sorted(covered - set(CEILINGS))}, "
        f"stale for {sorted(set(CEILINGS) - covered)}"
    )
    assert len(covered) == len(OPERATIONS) - len(EXCLUDED)


@pytest.fixture
async def plain_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process without the per-response contract check: the grown world's
    responses are large and validating each one would dominate the run. The small world's
    response is checked explicitly."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                 headers={"Accept": "application/json"}) as c:
        yield c


@pytest.fixture
def stand_ins(settings: Settings, providers: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub (repositories, OAuth status) answered by the local stand-in."""
    monkeypatch.setattr(settings, "github_client_id", "gh-client")
    monkeypatch.setattr(settings, "github_client_secret", "gh-secret")


@pytest.fixture
def cold_access(app: Any) -> None:
    """Every request resolves its token and permissions: the counts are the cost of a read
    with nothing cached (after any change to access), so a lookup repeated per item shows
    here even though the access cache would hide it on the next request.
    tests/perf/test_access_cache_statements.py shows what the cache saves."""
    app.state.database.cache = AccessCache(0.0)
    app.state.principal_cache = PrincipalCache(app.state.database.cache)


async def _count(client: httpx.AsyncClient, count_queries: Any, path: str,
                 query: dict[str, Any], headers: dict[str, str]) -> tuple[int, httpx.Response]:
    # A warm-up request first: the one-off bookkeeping of a token (its first use, the
    # cached principal) is not the read's cost.
    await client.get(path, params=query, headers=headers)
    with count_queries() as q:
        r = await client.get(path, params=query, headers=headers)
    assert r.status_code < 300, f"{path}: {r.status_code} {r.text}"
    return q.count, r


@pytest.mark.parametrize(
    ("operation_id", "template", "is_list"),
    [pytest.param(*op, id=op[0]) for op in OPERATIONS if op[0] not in EXCLUDED]
    or [pytest.param("", "", False, id="no-reference", marks=pytest.mark.skip(
        reason="API reference not found: put it at ../shared/reference or set "
               "DEVOPNESS_REFERENCE_DIR (the cases are generated from it)"))],
)
async def test_statements_do_not_grow(
    operation_id: str, template: str, is_list: bool, plain_client: httpx.AsyncClient,
    db: AsyncSession, settings: Settings, stand_ins: None, cold_access: None,
    count_queries: Any,
) -> None:
    case = CASES.get(operation_id, Case())
    world = await seed(db, settings)
    params = world.params()
    params |= {k: params.get(v, v) if isinstance(v, str) else v for k, v in case.params.items()}
    path = template.format(**params)
    query = dict(case.query) | ({"per_page": 50} if is_list else {})

    client = plain_client
    small, r_small = await _count(client, count_queries, path, query, world.headers)
    contract.check_response(r_small)
    await grow(db, world, GROWTH)
    grown, r_grown = await _count(client, count_queries, path, query, world.headers)
    counts = {"small world": small, "grown world": grown}
    if is_list:
        sizes = (len(r_small.json()), len(r_grown.json()))
        if not case.fixed_list:
            assert sizes[1] > (0 if case.short_list else 5) and sizes[1] > sizes[0], (
                f"{path}: growing the world did not grow the list ({sizes})")
        counts["per_page=5"], _ = await _count(
            client, count_queries, path, query | {"per_page": 5}, world.headers)
    print(f"{operation_id}: {counts}")
    ceiling = CEILINGS.get(operation_id)
    assert ceiling is not None, f"{operation_id}: no ceiling in CEILINGS (measured {counts})"
    assert len(set(counts.values())) == 1, f"{path}: statements differ: {counts}"
    if ceiling:
        assert small > 0, f"{path}: the counter saw none of the request's statements"
    assert grown <= ceiling, f"{path}: {grown} statements, ceiling {ceiling}"
