"""Which reference operations this server serves.

Prints `served N/237`. Fails only for operations whose tag is claimed below: add a tag here
when the issue that implements it lands, so it can never silently regress.
"""

from __future__ import annotations

from typing import Any

from tests import reference

CLAIMED_TAGS = {
    # Platform foundation
    "Users",
    "Users - Passwords",
    "Users - Personal Access Tokens",
    "Projects - API Tokens",
    # Action engine (issue 8)
    "Actions",
    "Actions - Logs",
    "Environments - Actions",
    "Projects - Actions",
    "Pipelines",
    "Pipelines - Actions",
    "Pipelines - Steps",
    # Tenancy and access control
    "Organizations",
    "Projects",
    "Projects - Environments",
    "Projects - Archived Environments",
    "Environments",
    "Roles",
    "Projects - Roles",
    "Projects - Teams",
    "Teams",
    "Teams - Members",
    "Teams - Invitations",
    "Team Invitations",
    "Users - Team Invitations",
    "Users - Projects",
    "Users - Environments",
    # Environment resources II: credentials, networks, hooks, links, events, social accounts
    "Credentials",
    "Credentials - Repositories",
    "Networks",
    "Networks - Subnets",
    "Subnets",
    "Resource Links",
    "Resource Events",
    "Hooks",
    "Hooks - Requests",
    "Hook Requests",
    "Pipelines - Hooks",
    "Social Accounts",
    # Environment resources I
    "Servers",
    "Applications",
    "Applications - Hooks",
    "Applications - Variables",
    "Services",
    "Services - Variables",
    "Daemons",
    "Cron Jobs",
    "SSL Certificates",
    "Virtual Hosts",
    "Network Rules",
    "SSH Keys",
    "Variables",
}

# Operations claimed one by one where their tag is shared with other issues.
CLAIMED_OPERATIONS = {
    "getStaticApplicationOptions",
    "getStaticServerOptions",
    "getStaticServiceOptions",
    "getStaticCronJobOptions",
    "getStaticNetworkRuleOptions",
    "getStaticVirtualHostOptions",
    "getStaticEnvironmentOptions",
    "listStaticResourceTypes",
    "getStaticUserProfileOptions",
    "listStaticBillingPlansOptions",
    "listStaticPermissions",
    "getStaticCredentialOptions",
    "getStaticCloudProviderService",
    "listStaticCloudInstancesByCloudProviderServiceCodeAndRegionCode",
}


def served_routes(app: Any) -> dict[tuple[str, str], str]:
    """(METHOD, path template) -> operationId, from the app's own OpenAPI document."""
    served: dict[tuple[str, str], str] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            served[(method.upper(), path)] = operation.get("operationId", "")
    return served


async def test_reference_operations_are_served(app: Any) -> None:
    ops = reference.operations()
    served = served_routes(app)
    missing = [op for op in ops if (op.method, op.path) not in served]
    print(f"\nserved {len(ops) - len(missing)}/{len(ops)}")
    claimed_missing = [
        op for op in missing if op.tag in CLAIMED_TAGS or op.operation_id in CLAIMED_OPERATIONS
    ]
    assert not claimed_missing, "claimed but not served: " + ", ".join(
        f"{op.method} {op.path} ({op.operation_id})" for op in claimed_missing
    )


async def test_operation_ids_match_the_reference(app: Any) -> None:
    served = served_routes(app)
    wrong = [
        f"{op.method} {op.path}: {served[(op.method, op.path)]} != {op.operation_id}"
        for op in reference.operations()
        if (op.method, op.path) in served and served[(op.method, op.path)] != op.operation_id
    ]
    assert not wrong, "\n".join(wrong)
