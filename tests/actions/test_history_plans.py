"""The engine's per-action queries stay off the history of every action ever run.

A production database holds millions of action, target and step rows. A query that an
action or a read runs and that PostgreSQL can only answer by reading all of them costs more
with every deploy: the look-up of steps that may have left processes running read the whole
steps table (seen in the fan-out benchmark); a server's action list read every target, an
action's retries every action. Here a history is written, the planner gets its statistics,
and each such query (run under EXPLAIN ANALYZE) must read a small part of it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests import resource_factories as rf
from tests.actions.conftest import World, add_step, run_pipeline
from workers.engine.plans import left_running

HISTORY_STEPS = 200_000
HISTORY_ACTIONS = 50_000
HISTORY_TABLES = ("actions", "action_targets", "action_steps")


def _nodes(plan: Any) -> str:
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        lines.append("  " * depth + " ".join(str(node.get(k, "")) for k in (
            "Node Type", "Relation Name", "Alias", "Index Name", "Actual Rows", "Actual Loops",
            "Rows Removed by Filter", "Index Cond", "Filter")))
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan[0]["Plan"], 0)
    return "\n".join(lines)


def rows_read(plan: Any) -> dict[str, float]:
    """Rows each history table's scans went through (returned and filtered out, all loops)
    in an `EXPLAIN (ANALYZE, FORMAT JSON)` plan."""
    read: dict[str, float] = {}

    def walk(node: dict[str, Any]) -> None:
        table = node.get("Relation Name")
        if table in HISTORY_TABLES:
            per_loop = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0) \
                + node.get("Rows Removed by Index Recheck", 0)
            read[table] = read.get(table, 0) + per_loop * node.get("Actual Loops", 1)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return read


async def test_a_new_action_does_not_read_the_steps_history(
    client: httpx.AsyncClient, world: World, app: Any, postgresql: str
) -> None:
    await add_step(client, world, "echo history")
    action = await run_pipeline(client, world)
    assert action["status"] == "completed", action
    target = action["targets"][0]
    async with app.state.database.transaction() as session:
        await session.execute(text(
            'INSERT INTO action_steps (action_id, action_target_id, "order", name, command, '
            "timeout_seconds, status, status_reason_code, log_chunks, log_bytes, created_at, "
            "updated_at) SELECT :action, :target, 100 + g, 'old', 'true', 600, 'completed', "
            "'COMPLETED', 0, 0, now(), now() FROM generate_series(1, :n) g"
        ), {"action": action["id"], "target": target["id"], "n": HISTORY_STEPS})
    async with app.state.database.transaction() as session:
        await session.execute(text("ANALYZE action_steps"))
        await session.execute(text("ANALYZE action_targets"))
        statement = left_running(action["id"] + 1, [target["resource_id"], 102, 103])
        compiled = statement.compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        plan = (await session.scalars(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}"))).one()
    assert rows_read(plan).get("action_steps", 0) < HISTORY_STEPS / 10, plan


async def test_reads_of_actions_do_not_go_through_the_history(
    client: httpx.AsyncClient, db: AsyncSession, app: Any, postgresql: str,
    count_queries: Any,
) -> None:
    """`GET /actions/targets/server/{id}` (a server's actions) counts and pages through the
    actions that targeted that server, and `GET /actions/{id}` finds that action's retries,
    without reading every action or target ever run."""
    tenant = await rf.create_tenant(db)
    server = await rf.create_server(db, tenant)
    async with app.state.database.transaction() as session:
        await session.execute(text(
            "INSERT INTO actions (type, status, status_reason_code, resource_type, "
            "resource_id, triggered_from, environment_id, project_id, created_at, "
            "updated_at) SELECT 'deploy', 'completed', 'COMPLETED', 'application', 1, '{}', "
            ":environment, :project, now(), now() FROM generate_series(1, :n)"
        ), {"environment": tenant.environment.id, "project": tenant.project.id,
            "n": HISTORY_ACTIONS})
        # Two servers per action; the listed server is one target in a thousand.
        await session.execute(text(
            "INSERT INTO action_targets (action_id, resource_type, resource_id, server_id, "
            "status, status_reason_code, max_parallel_actions, total_steps, created_at, "
            "updated_at) SELECT a.id, 'server', s, s, 'completed', 'COMPLETED', 0, 1, now(), "
            "now() FROM actions a, LATERAL (SELECT CASE WHEN (a.id * 2 + k) % 1000 = 0 THEN "
            ":server ELSE 1000000 + (a.id * 2 + k) % 2000 END AS s "
            "FROM generate_series(0, 1) k) t WHERE a.environment_id = :environment"
        ), {"server": server.id, "environment": tenant.environment.id})
        await session.execute(text("ANALYZE actions"))
        await session.execute(text("ANALYZE action_targets"))
    with count_queries() as list_queries:
        listed = await client.get(f"/actions/targets/server/{server.id}",
                                  params={"per_page": 20}, headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()) == 20
    with count_queries() as get_queries:
        one = await client.get(f"/actions/{listed.json()[0]['id']}", headers=tenant.headers)
    assert one.status_code == 200, one.text
    # The list's count may go through the caller's visible actions (PostgreSQL's choice
    # while they are few; the targets' side is the history that grows fastest): what must
    # not happen is reading every target. Reading one action touches a handful of both.
    checks = [(list_queries, ("action_targets",)), (get_queries, ("actions", "action_targets"))]
    async with app.state.database.engine.connect() as conn:
        for queries, tables in checks:
            for statement, parameters in zip(queries.statements, queries.parameters,
                                             strict=True):
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                plan = (await conn.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)).scalar_one()
                read = rows_read(plan)
                for table in tables:
                    assert read.get(table, 0) < HISTORY_ACTIONS / 10, (
                        f"{table}: {read}\n{statement}\n{_nodes(plan)}")
