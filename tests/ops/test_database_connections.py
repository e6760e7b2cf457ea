"""The API keeps answering when PostgreSQL drops its connections.

A restarted server or an operator's `pg_terminate_backend` leaves the API's pool holding
connections that are dead. The pool skips the ping on connections it used a moment ago
(a round trip per request saved), so what it checks instead must catch them: every request
after the drop must be answered as if nothing happened, reads and writes alike.
"""

from __future__ import annotations

import asyncio
import os
import threading

import httpx
import psycopg
import pytest
from devopness import DevopnessClient
from devopness.core.api_error import DevopnessApiError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.settings import Settings
from tests.conftest import free_port, terminate_backends
from tests.factories import auth, user_with_token
from tests.live import api_process


def _terminate_other_backends(url: str) -> list[int]:
    """Every other backend of this database, terminated; returns once they are gone."""
    with psycopg.connect(url, autocommit=True) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )]
    terminate_backends(url, pids)
    return pids


async def test_requests_after_the_pools_backends_were_terminated_are_answered(
    settings: Settings, postgresql: str, db: AsyncSession
) -> None:
    _, token = await user_with_token(db)
    await db.commit()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": url, "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    with api_process(env, port, start_seconds=30):
        async with httpx.AsyncClient(base_url=url, headers=auth(token), timeout=30) as http:

            async def burst(n: int) -> list[int]:
                answers = await asyncio.gather(*(http.get("/users/me") for _ in range(n)))
                return [answer.status_code for answer in answers]

            # Concurrent requests hold several pooled connections at once; all of them are
            # idle in the pool, used under a second ago, when their backends go.
            assert await burst(16) == [200] * 16
            assert len(_terminate_other_backends(postgresql)) >= 2

            assert await burst(16) == [200] * 16
            created = await http.post("/projects", json={"name": "after-the-drop"})
            assert created.status_code == 201, created.text
            read = await http.get(f"/projects/{created.json()['id']}")
            assert read.status_code == 200 and read.json()["name"] == "after-the-drop"

            # Twice in a row: the connections the pool opened in place of the dead ones
            # are themselves dropped.
            assert _terminate_other_backends(postgresql)
            assert await burst(8) == [200] * 8


class CountingProxy:
    """A TCP relay on loopback in a thread of its own, counting the connections made
    through it: what one process (the API, pointed at it) opened, and nobody else."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port, self.accepted = target_port, free_port(), 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10), "the proxy did not start"

    def _serve(self, ready: threading.Event) -> None:
        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.accepted += 1
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            await asyncio.gather(relay(reader, up_writer), relay(up_reader, writer))

        async def main() -> None:
            await asyncio.start_server(accept, "127.0.0.1", self.port)
            ready.set()

        self.loop.run_until_complete(main())
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def test_bursts_of_requests_reuse_the_pools_connections(
    settings: Settings, postgresql: str, db: AsyncSession
) -> None:
    """Bursts of concurrent requests, more than the pool's size at once, again and again:
    the API keeps the connections it opened (up to its documented peak, 2 x
    DATABASE_POOL_SIZE) instead of closing the extra ones after each burst and opening new
    ones for the next: a PostgreSQL connection costs a backend process and its start, and
    that churn took a third of the throughput of a busy read. The API reaches PostgreSQL
    through a relay that counts its connections."""
    _, token = await user_with_token(db)
    await db.commit()
    proxy = CountingProxy(5432)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    pool_size = 4
    database_url = settings.database_url.replace(":5432/", f":{proxy.port}/")
    assert database_url != settings.database_url
    env = {
        **os.environ, "DATABASE_URL": database_url, "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": url, "LOG_LEVEL": "WARNING", "DATABASE_POOL_SIZE": str(pool_size),
    }
    env.pop("REDIS_URL", None)
    try:
        with api_process(env, port, start_seconds=30):
            async with httpx.AsyncClient(base_url=url, headers=auth(token), timeout=30) as http:
                before = proxy.accepted
                for _ in range(8):
                    answers = await asyncio.gather(
                        *(http.get("/users/me") for _ in range(2 * pool_size)))
                    assert [a.status_code for a in answers] == [200] * 2 * pool_size
                    await asyncio.sleep(0.05)
                opened = proxy.accepted - before
    finally:
        proxy.close()
    assert proxy.accepted > 0  # the API did reach PostgreSQL through the relay
    assert opened <= 2 * pool_size, f"{opened} connections opened for a peak of {2 * pool_size}"


async def test_requests_while_the_database_refuses_connections_get_503(
    settings: Settings, postgresql: str
) -> None:
    """PostgreSQL down (nothing listens where DATABASE_URL points): a request that needs it
    is answered 503 with Retry-After in the documented error shape, not a 500."""
    port, closed = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    database_url = settings.database_url.replace(":5432/", f":{closed}/")
    assert database_url != settings.database_url
    env = {
        **os.environ, "DATABASE_URL": database_url, "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": url, "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    with api_process(env, port, start_seconds=30):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            for path in ("/users/me", "/projects"):
                answer = await http.get(path, headers=auth("dvp_" + "a" * 40))
                assert answer.status_code == 503, (path, answer.text)
                assert answer.headers["Retry-After"] == "5"
                assert answer.json() == {
                    "message": "The database is unavailable; try again shortly."}
            login = await http.post("/users/login",
                                    json={"email": "a@example.com", "password": "x" * 12})
            assert login.status_code == 503, login.text
        # What an SDK user sees: the API's error with its status and message, not a
        # validation error of the SDK's own (strict mode checks response bodies).
        client = DevopnessClient({"base_url": url, "api_token": "dvp_" + "a" * 40,
                                  "strict_validation_mode": True})
        with pytest.raises(DevopnessApiError) as raised:
            await asyncio.to_thread(client.users.get_user_me)
        assert raised.value.status_code == 503
        assert raised.value.message == "The database is unavailable; try again shortly."


async def test_requests_checked_out_as_their_backends_are_going_are_answered(
    client: httpx.AsyncClient, postgresql: str, db: AsyncSession
) -> None:
    """A failover's first instant, over HTTP: the API's backends are signalled and the next
    requests check out their connections before those backends have exited (nothing on
    the socket shows it yet). Each is answered as usual: its first statement runs again
    on a new connection."""
    _, token = await user_with_token(db)
    await db.commit()
    own = (await (await db.connection()).get_raw_connection()).driver_connection
    keep = own.info.backend_pid

    async def burst() -> list[int]:
        answers = await asyncio.gather(
            *(client.get("/users/me", headers=auth(token)) for _ in range(16)))
        return [answer.status_code for answer in answers]

    with psycopg.connect(postgresql, autocommit=True) as admin:
        for round_ in range(10):
            assert await burst() == [200] * 16
            # Signalled, not waited for: the next requests race the backends' exit.
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s) "
                "AND backend_type = 'client backend'", (keep,))
            assert await burst() == [200] * 16, f"round {round_}"
