"""`/static/*` option catalogues for the resource types this server manages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter

from app.access.auth import CurrentPrincipal
from app.core.pagination import PageDep, paginate_list
from app.static_options import catalog, stacks

router = APIRouter(tags=["Static Data"])


def _targets(resource_type: str) -> list[dict[str, str]]:
    return [
        {"name": name, "name_human_readable": catalog.VARIABLE_TARGETS[name][0],
         "hint": catalog.VARIABLE_TARGETS[name][1]}
        for name in catalog.RESOURCE_VARIABLE_TARGETS[resource_type]
    ]


def _framework_defaults(language: str, framework: str, engine_version: str) -> dict[str, Any]:
    """What an application of the stack starts with: the commands a deploy runs when the
    application's own are empty (`app.static_options.stacks`)."""
    commands = stacks.commands_for(language, framework)
    return {
        "default_branch": "main",
        "engine_version": engine_version,
        "framework": framework,
        "root_directory": "/",
        "deployments_keep": 5,
        "commands": {
            "dependencies": list(dict.fromkeys(
                [c for c in (commands.install,) if c] + list(commands.install_options))),
            "build": list(dict.fromkeys(
                [c for c in (commands.build,) if c] + list(commands.build_options))),
        },
        "install_dependencies_command": commands.install,
        "build_command": commands.build,
    }


@router.get("/static/application-options", operation_id="getStaticApplicationOptions")
async def get_static_application_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    runtimes = [
        {
            "name": name,
            "name_human_readable": human,
            "engine_versions": [{"version": v} for v in versions],
            "frameworks": [
                {
                    "name": framework,
                    "name_human_readable": framework_human,
                    "defaults": _framework_defaults(name, framework, versions[-1]),
                }
                for framework, framework_human in frameworks.items()
            ],
        }
        for name, (human, versions, frameworks) in catalog.LANGUAGE_RUNTIMES.items()
    ]
    return {
        "variable_targets": _targets("application"),
        "language_runtimes": runtimes,
        "script_runners": [
            {"value": "bash", "human_readable": "Bash", "hint": "Run the script with bash"},
            {"value": "sh", "human_readable": "POSIX shell", "hint": "Run the script with sh"},
        ],
        # Application templates are not offered by this server.
        "templates": [],
    }


@router.get("/static/server-options", operation_id="getStaticServerOptions")
async def get_static_server_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    return {"variable_targets": _targets("server")}


@router.get("/static/service-options", operation_id="getStaticServiceOptions")
async def get_static_service_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    types = [
        {
            "value": value,
            "human_readable": human,
            "hint": hint,
            "supported_versions": [
                {
                    "version": version,
                    "variable_targets": [
                        {"name": t, "name_human_readable": catalog.VARIABLE_TARGETS[t][0],
                         "hint": catalog.VARIABLE_TARGETS[t][1]}
                        for t in targets
                    ],
                }
                for version in versions
            ],
        }
        for value, (human, hint, versions, targets) in catalog.SERVICE_TYPES.items()
    ]
    return {"types": types}


@router.get("/static/cronjob-options", operation_id="getStaticCronJobOptions")
async def get_static_cron_job_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    from app.resources_common.validators import CRON_FREQUENCIES

    return {
        "frequencies": [
            {"value": pattern, "human_readable": label, "hint": f"{label}: {pattern}"}
            for pattern, label in CRON_FREQUENCIES
        ]
    }


@router.get("/static/network-rule-options", operation_id="getStaticNetworkRuleOptions")
async def get_static_network_rule_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    return {
        "directions": [
            {"value": "inbound", "human_readable": "Inbound",
             "hint": "Traffic coming into the server"},
            {"value": "outbound", "human_readable": "Outbound",
             "hint": "Traffic leaving the server"},
        ],
        "protocols": [
            {"value": "any", "human_readable": "Any", "defaults": {"port": None}},
            {"value": "icmp", "human_readable": "ICMP", "defaults": {"port": None}},
            {"value": "tcp", "human_readable": "TCP", "defaults": {"port": 80}},
            {"value": "udp", "human_readable": "UDP", "defaults": {"port": 53}},
        ],
    }


@router.get("/static/virtual-host-options", operation_id="getStaticVirtualHostOptions")
async def get_static_virtual_host_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    return {
        "variable_targets": _targets("virtual-host"),
        "virtual_host_types": [
            {"name": "name-based", "name_human_readable": "Name-based",
             "hint": "Served for a domain name, e.g. app.example.com"},
            {"name": "ip-based", "name_human_readable": "IP-based",
             "hint": "Served on an IP address and optional port, e.g. 10.0.0.5:8080"},
        ],
    }


@router.get("/static/environment-options", operation_id="getStaticEnvironmentOptions")
async def get_static_environment_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    return {
        "types": [
            {"value": "development", "human_readable": "Development",
             "hint": "Where changes are built and tried"},
            {"value": "staging", "human_readable": "Staging",
             "hint": "A copy of production for final checks"},
            {"value": "production", "human_readable": "Production",
             "hint": "What end users reach"},
        ]
    }


# resource type -> (singular, plural, operations beyond CRUD, parents, children)
_RESOURCE_TYPES: list[tuple[str, str, str, list[str], list[str], list[str]]] = [
    ("application", "Application", "Applications", ["deploy"], ["server"],
     ["cronjob", "daemon", "virtual-host"]),
    ("cronjob", "Cron Job", "Cron Jobs", ["deploy"], ["application", "server"], []),
    ("daemon", "Daemon", "Daemons", ["deploy", "start", "stop", "restart", "get-status"],
     ["application", "server"], []),
    ("network-rule", "Network Rule", "Network Rules", ["deploy"], ["server"], []),
    ("server", "Server", "Servers",
     ["deploy", "start", "stop", "restart", "get-status", "rotate-key"], [],
     ["application", "cronjob", "daemon", "network-rule", "service", "ssh-key",
      "virtual-host"]),
    ("service", "Service", "Services",
     ["deploy", "start", "stop", "restart", "reload", "get-status"], ["server"], []),
    ("ssh-key", "SSH Key", "SSH Keys", ["deploy"], ["server"], []),
    ("ssl-certificate", "SSL Certificate", "SSL Certificates", ["deploy"], ["virtual-host"],
     []),
    ("virtual-host", "Virtual Host", "Virtual Hosts", ["deploy", "get-status"],
     ["application", "server"], ["ssl-certificate"]),
]
_HUMAN = {t[0]: (t[1], t[2]) for t in _RESOURCE_TYPES}


def _related(types: list[str]) -> list[dict[str, Any]]:
    return [
        {"resource_type": t, "resource_type_human_readable": _HUMAN[t][0],
         "resource_type_human_readable_plural": _HUMAN[t][1], "can_be_linked": True}
        for t in types
    ]


@router.get("/static/resource-types", operation_id="listStaticResourceTypes")
async def list_static_resource_types(
    principal: CurrentPrincipal, page: PageDep
) -> Sequence[dict[str, Any]]:
    del principal
    items = [
        {
            "resource_type": resource_type,
            "resource_type_human_readable": human,
            "resource_type_human_readable_plural": plural,
            "supported_operations": [
                {"operation": op, "operation_human_readable": op.replace("-", " ").capitalize()}
                for op in operations
            ],
            "can_be_child_of": _related(parents),
            "can_be_parent_of": _related(children),
        }
        for resource_type, human, plural, operations, parents, children in _RESOURCE_TYPES
    ]
    return paginate_list(items, page)


@router.get("/static/user-profile-options", operation_id="getStaticUserProfileOptions")
async def get_static_user_profile_options(principal: CurrentPrincipal) -> dict[str, Any]:
    del principal
    return {
        # A self-hosted server bills nobody: no subscription plans exist.
        "billing": {"subscription_plans": []},
        "languages": ["en", "pt"],
        "timezones": sorted(available_timezones()),
    }


@router.get("/static/billing-plans-options", operation_id="listStaticBillingPlansOptions")
async def list_static_billing_plans_options(
    principal: CurrentPrincipal, page: PageDep
) -> Sequence[dict[str, Any]]:
    del principal
    # A self-hosted server bills nobody: there are no plans to list.
    return paginate_list([], page)
