from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.actions.models import Action
from app.applications.models import Application
from tests import resource_factories as f


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "storefront", "repository": "acme/storefront", "credential_id": 12,
            "programming_language": "php", "framework": "laravel", "engine_version": "8.3",
            "default_branch": "main"} | overrides


async def test_create_and_read_with_relations(client: httpx.AsyncClient, db: AsyncSession
                                              ) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    r = await client.post(
        f"/environments/{t.environment.id}/applications",
        json=body(root_directory="/src", build_command="npm run build",
                  linked_resources=[{"resource_type": "server", "resource_id": server.id}]),
        headers=t.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["repository_owner"], created["repository_name"]) == ("acme", "storefront")

    assert created["programming_language_human_readable"] == "PHP"
    assert created["framework_human_readable"] == "Laravel"
    assert created["deployments_keep"] == 5
    assert created["last_deployments"] == {"latest": None, "live": None}
    assert [s["id"] for s in created["servers"]] == [server.id]
    stored = await db.get(Application, created["id"])
    assert stored is not None and stored.credential_id == 12

    service = await f.create_service(db, t)
    await f.link(db, "service", service.id, server)
    daemon = await f.create_daemon(db, t, application_id=created["id"], working_directory="x")
    cron_job = await f.create_cron_job(db, t, application_id=created["id"])
    host = await f.create_virtual_host(db, t, application_id=created["id"],
                                       root_directory="public")
    r = await client.get(f"/applications/{created['id']}", headers=t.headers)
    assert r.status_code == 200
    detail = r.json()
    assert [d["id"] for d in detail["daemons"]] == [daemon.id]
    assert [c["id"] for c in detail["cronjobs"]] == [cron_job.id]
    assert [v["id"] for v in detail["virtual_hosts"]] == [host.id]
    assert [s["id"] for s in detail["services"]] == [service.id]

    # Dependents block deletion, with the reason.
    r = await client.delete(f"/applications/{created['id']}", headers=t.headers)
    assert r.status_code == 409
    assert "daemon" in r.json()["message"] and "virtual host" in r.json()["message"]


async def test_the_detail_shows_its_own_collections_in_order(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """Two applications side by side, each with its servers, daemons, cron jobs, virtual
    hosts and the services on its servers: each detail shows its own, in the order they
    were made, each once; a server linked to another kind of resource that happens to
    share the application's id is not one of them, nor is a service of another
    environment on its server. After an update the application reads the same (the reload
    after a write)."""
    t = await f.create_tenant(db)
    mine, other = await f.create_application(db, t), await f.create_application(db, t)
    servers = [await f.create_server(db, t) for _ in range(3)]
    for server in (servers[2], servers[0]):
        await f.link(db, "application", mine.id, server)
    await f.link(db, "application", other.id, servers[1])
    await f.link(db, "daemon", mine.id, servers[1])  # same id, another kind of resource
    owned: dict[int, dict[str, list[int]]] = {}
    for application, count in ((mine, 2), (other, 1)):
        daemons = [await f.create_daemon(db, t, application_id=application.id)
                   for _ in range(count)]
        cron_jobs = [await f.create_cron_job(db, t, application_id=application.id)
                     for _ in range(count)]
        hosts = [await f.create_virtual_host(db, t, application_id=application.id)
                 for _ in range(count)]
        owned[application.id] = {"daemons": [d.id for d in daemons],
                                 "cronjobs": [c.id for c in cron_jobs],
                                 "virtual_hosts": [h.id for h in hosts]}
    certificate = await f.create_ssl_certificate(
        db, t, virtual_host_id=owned[mine.id]["virtual_hosts"][1])
    await f.create_daemon(db, t)  # of no application
    on_other = await f.create_service(db, t)
    await f.link(db, "service", on_other.id, servers[1])
    on_both = await f.create_service(db, t)  # on two of mine's servers: shown once
    for server in (servers[2], servers[0]):
        await f.link(db, "service", on_both.id, server)
    on_one = await f.create_service(db, t)
    await f.link(db, "service", on_one.id, servers[2])
    await f.create_service(db, t)  # on no server
    elsewhere = await f.create_environment(db, t.project, t.user)
    foreign = await f.create_service(db, t, environment_id=elsewhere.id)
    await f.link(db, "service", foreign.id, servers[0])
    await db.commit()
    expected_servers = {mine.id: [servers[0].id, servers[2].id], other.id: [servers[1].id]}
    expected_services = {mine.id: [on_both.id, on_one.id], other.id: [on_other.id]}

    def check(detail: dict[str, Any], application_id: int) -> None:
        assert [s["id"] for s in detail["servers"]] == expected_servers[application_id]
        assert [s["id"] for s in detail["services"]] == expected_services[application_id]
        for key, ids in owned[application_id].items():
            assert [item["id"] for item in detail[key]] == ids, key

    for application in (mine, other):
        r = await client.get(f"/applications/{application.id}", headers=t.headers)
        assert r.status_code == 200, r.text
        check(r.json(), application.id)
    hosts = {h["id"]: h for h in (await client.get(
        f"/applications/{mine.id}", headers=t.headers)).json()["virtual_hosts"]}
    assert hosts[certificate.virtual_host_id]["ssl_certificate"]["id"] == certificate.id

    update = body(id=mine.id, name="renamed")
    del update["credential_id"], update["repository"]
    r = await client.put(f"/applications/{mine.id}", json=update, headers=t.headers)
    assert r.status_code == 204, r.text
    r = await client.get(f"/applications/{mine.id}", headers=t.headers)
    assert r.json()["name"] == "renamed"
    check(r.json(), mine.id)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "x" * 61}, "name"),
        ({"repository": "no-slash"}, "repository"),
        ({"repository": "a/" + "b" * 254}, "repository"),
        ({"repository": "https://host/x'; rm -rf /"}, "repository"),
        ({"repository": "relative/path/../x y"}, "repository"),
        ({"credential_id": None}, "credential_id"),
        ({"programming_language": "cobol"}, "programming_language"),
        ({"framework": "django"}, "framework"),
        ({"engine_version": "12345678901"}, "engine_version"),
        ({"default_branch": ""}, "default_branch"),
        ({"root_directory": "src"}, "root_directory"),
        ({"deployments_keep": 0}, "deployments_keep"),
        ({"deployments_keep": 11}, "deployments_keep"),
    ],
)
async def test_field_rules(
    overrides: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/applications",
                          json=body(**overrides), headers=t.headers)
    assert field in f.field_errors(r), r.json()


async def test_update_and_unique_name(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    await f.create_application(db, t, name="taken")
    application = await f.create_application(db, t)
    update = body(id=application.id, name="taken")
    del update["credential_id"], update["repository"]
    r = await client.put(f"/applications/{application.id}", json=update, headers=t.headers)
    assert "name" in f.field_errors(r)
    update["name"] = "renamed"
    update["deployments_keep"] = 3
    r = await client.put(f"/applications/{application.id}", json=update, headers=t.headers)
    assert r.status_code == 204, r.text
    await db.refresh(application)
    assert (application.name, application.deployments_keep, application.framework) == (
        "renamed", 3, "laravel")


async def test_name_is_unique_within_its_environment(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    taken = await f.create_application(db, t, name="storefront")
    r = await client.post(f"/environments/{t.environment.id}/applications", json=body(),
                          headers=t.headers)
    assert f.field_errors(r) == {"name": ["The name has already been taken."]}
    other = await f.create_environment(db, t.project, t.user)
    r = await client.post(f"/environments/{other.id}/applications", json=body(),
                          headers=t.headers)
    assert r.status_code == 201, r.text
    # Keeping its own name is no clash.
    update = body(id=taken.id)
    del update["credential_id"], update["repository"]
    r = await client.put(f"/applications/{taken.id}", json=update, headers=t.headers)
    assert r.status_code == 204, r.text


async def test_deployments(client: httpx.AsyncClient, db: AsyncSession) -> None:
    t = await f.create_tenant(db)
    application = await f.create_application(db, t)
    url = f"/applications/{application.id}/deployments"
    r = await client.post(url, json={"type": "launch"}, headers=t.headers)
    assert "type" in f.field_errors(r)
    r = await client.post(url, json={"type": "deploy", "source_type": "branch"},
                          headers=t.headers)
    assert "source_ref" in f.field_errors(r)
    r = await client.post(url, json={"type": "deploy", "source_type": "branch",
                                     "source_ref": "main"}, headers=t.headers)
    assert "servers" in f.field_errors(r)  # runs on no server yet
    server = await f.create_server(db, t)
    await f.link(db, "application", application.id, server)
    r = await client.post(url, json={"type": "deploy", "source_type": "branch",
                                     "source_ref": "main"}, headers=t.headers)
    await f.assert_action_started(
        client, r, t, resource_type="application", resource_id=application.id,
        operation="deploy", server_ids=[server.id],
    )
    # The deploy made the application's default pipeline: its id is recorded too.
    action = await db.get(Action, int(r.headers["X-Devopness-Action-Id"]))
    assert action is not None and action.action_data is not None
    assert action.pipeline_id
    assert action.action_data["deployment"]["pipeline_id"] == action.pipeline_id


async def test_a_deployment_records_the_pipeline_it_runs(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    r = await client.post(f"/environments/{t.environment.id}/applications", json=body(
        linked_resources=[{"resource_type": "server", "resource_id": server.id}]),
        headers=t.headers)
    application_id = r.json()["id"]
    r = await client.get(f"/pipelines/application/{application_id}", headers=t.headers)
    default = next(p["id"] for p in r.json() if p["operation"] == "deploy")
    r = await client.post(f"/pipelines/application/{application_id}", json={
        "name": "another deploy", "operation": "deploy"}, headers=t.headers)
    assert r.status_code in (200, 201), r.text
    chosen = r.json()["id"]
    for asked, pipeline in (({}, default), ({"pipeline_id": chosen}, chosen)):
        r = await client.post(f"/applications/{application_id}/deployments",
                              json={"type": "deploy", **asked}, headers=t.headers)
        assert r.status_code == 204, r.text
        action = await db.get(Action, int(r.headers["X-Devopness-Action-Id"]))
        assert action is not None and action.action_data is not None
        assert action.pipeline_id == pipeline
        assert action.action_data["deployment"]["pipeline_id"] == pipeline


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"template_id": "n8n", "template_inputs": {}}, "template_id"),
        ({"template": "kind: DevopnessTemplate", "template_inputs": {}}, "template"),
        ({"template_inputs": {}}, "template_id"),
        ({"template_id": "n8n"}, "template_inputs"),
    ],
)
async def test_templates_are_not_offered(
    payload: dict[str, Any], field: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    other = await f.create_tenant(db)
    url = f"/environments/{t.environment.id}/applications/apply-template"
    assert field in f.field_errors(await client.post(url, json=payload, headers=t.headers))
    if "template_inputs" in payload:
        r = await client.post(url, json=payload, headers=other.headers)
        assert r.status_code == 404


@pytest.mark.parametrize(("repository", "owner", "name"), [
    ("https://git.example.com/team/shop.git", "team", "shop"),
    ("git@gitea.internal:team/shop.git", "team", "shop"),
    ("ssh://git@gitea.internal:2222/team/shop.git", "team", "shop"),
    ("/srv/git/shop.git", "git", "shop"),
])
async def test_any_git_url_is_accepted(
    repository: str, owner: str, name: str, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    r = await client.post(f"/environments/{t.environment.id}/applications",
                          json=body(repository=repository), headers=t.headers)
    assert r.status_code == 201, r.text
    assert (r.json()["repository_owner"], r.json()["repository_name"]) == (owner, name)
    stored = await db.get(Application, r.json()["id"])
    assert stored is not None and stored.repository == repository


async def test_list_searches_by_name_case_insensitively(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    t = await f.create_tenant(db)
    api = await f.create_application(db, t, name="acme-api")
    await f.create_application(db, t, name="acme-web")
    literal = await f.create_application(db, t, name="100%_done")
    path = f"/environments/{t.environment.id}/applications"

    r = await client.get(path, params={"filter[name]": "API"}, headers=t.headers)
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()] == [api.id]
    r = await client.get(path, params={"filter[name]": "acme"}, headers=t.headers)
    assert len(r.json()) == 2
    # `%` and `_` are searched for as written, not as wildcards.
    r = await client.get(path, params={"filter[name]": "%_"}, headers=t.headers)
    assert [a["id"] for a in r.json()] == [literal.id]
    r = await client.get(path, headers=t.headers)
    assert len(r.json()) == 3


async def test_running_the_deploy_pipeline_records_the_ref_asked_for(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """POST /pipelines/{id}/actions on an application's deploy pipeline is a deployment
    like POST /applications/{id}/deployments: it records what to fetch."""
    t = await f.create_tenant(db)
    server = await f.create_server(db, t)
    r = await client.post(f"/environments/{t.environment.id}/applications", json=body(
        linked_resources=[{"resource_type": "server", "resource_id": server.id}]),
        headers=t.headers)
    application = await db.get(Application, r.json()["id"])
    assert application is not None
    r = await client.get(f"/pipelines/application/{application.id}", headers=t.headers)
    pipeline = next(p["id"] for p in r.json() if p["operation"] == "deploy")
    for asked, ref in (({"source_type": "tag", "source_ref": "v2.0"}, ("tag", "v2.0")),
                       ({}, ("branch", "main"))):
        r = await client.post(f"/pipelines/{pipeline}/actions", json=asked, headers=t.headers)
        assert r.status_code == 201, r.text
        action = await db.get(Action, r.json()["id"])
        assert action is not None and action.action_data is not None
        deployment = action.action_data["deployment"]
        assert (deployment["source_type"], deployment["source_ref"]) == ref
        assert (deployment["type"], deployment["pipeline_id"]) == ("deploy", pipeline)
        assert action.action_data["commit"]["repository"] == application.repository
