"""Shared fixtures: a real database migrated once per run, a real SMTP server, the app.

TEST_DATABASE_URL picks the database (default: a SQLite file in a temporary folder); CI
runs the suite once on PostgreSQL and once on SQLite. Tables are emptied after each test.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import socket
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, event, make_url, pool, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.access.auth import PrincipalCache
from app.actions.answers import FinishedAnswers
from app.core.changes import AccessCache
from app.core.database import access_generation
from app.core.migrations import sync_url, upgrade
from app.core.ratelimit import MemoryCounter
from app.core.settings import Settings
from app.models import Base
from launcher.api import create_app
from tests import contract, reference

# Provider stand-ins (GitHub, GitLab, Bitbucket, clouds, moto) for any test that asks.
pytest_plugins = ["tests.provider_fixtures"]


TEST_SECRET_KEY = "test-secret-key-not-for-production"


# Test targets (SSH servers, hook receivers, stand-ins) listen on loopback, which the
# outbound policy refuses by default: the suite allows it, in this process and in every
# server or worker it starts. tests/security/test_outbound.py turns it off again.
ALLOW_PRIVATE = "OUTBOUND_ALLOW_PRIVATE_NETWORKS"
os.environ[ALLOW_PRIVATE] = "true"


# The discard port: nothing listens there, so a connection is refused at once.
CLOSED = "http://127.0.0.1:9"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def terminate_backends(url: str, pids: Sequence[int]) -> None:
    """PostgreSQL backends `pids` terminated, as an operator or a failover would; returns
    once they are gone. (Until a backend exits, its client's socket shows nothing: a
    connection checked out in that instant fails its first statement, with or without a
    ping before it. Tests of what follows a drop start after it.)"""
    with psycopg.connect(url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                           (list(pids),)).fetchone() != (0,):
            assert time.monotonic() < deadline, "terminated backends did not exit"
            time.sleep(0.05)


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def last_to(self, address: str) -> Message:
        for message in reversed(self.messages):
            if address.lower() in str(message["To"]).lower():
                return message
        raise AssertionError(f"no mail to {address}; got {[m['To'] for m in self.messages]}")

    @staticmethod
    def body(message: Message) -> str:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    box, _ = smtp
    box.messages.clear()
    return box


def _reset_postgres(url: str) -> None:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    elif url.startswith("postgresql"):
        _reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, smtp: tuple[Mailbox, int]) -> Settings:
    _, port = smtp
    test_settings = Settings(
        environment="test",
        database_url=database_url,
        redis_url=None,
        secret_key=TEST_SECRET_KEY,
        public_url="http://testserver",
        smtp_host="127.0.0.1",
        smtp_port=port,
        email_verification_required=True,
        registration_open=True,
        # Tests fire many requests from one address; the rate-limit tests lower these.
        rate_limit_per_minute=1_000_000,
        rate_limit_ip_per_minute=1_000_000,
        rate_limit_auth_per_minute=1_000_000,
        log_format="text",
        # Nothing in a test may reach a real provider: unless a test points these at its
        # stand-in (or moto), every provider API is a closed port on loopback.
        aws_endpoint_url=CLOSED,
        digitalocean_api_url=f"{CLOSED}/v2",
        hetzner_api_url=f"{CLOSED}/v1",
        azure_login_url=f"{CLOSED}/azure-login",
        azure_management_url=f"{CLOSED}/azure",
        gcp_compute_url=f"{CLOSED}/compute/v1",
        runtime_nodejs_mirror=f"{CLOSED}/runtimes/nodejs",
        runtime_python_mirror=f"{CLOSED}/runtimes/python",
        runtime_go_mirror=f"{CLOSED}/runtimes/go",
        runtime_java_mirror=f"{CLOSED}/runtimes/java",
        runtime_ruby_mirror=f"{CLOSED}/runtimes/ruby",
        runtime_php_mirror=f"{CLOSED}/runtimes/php",
        provider_timeout_seconds=5.0,
        outbound_allow_private_networks=True,
        _env_file=None,  # type: ignore[call-arg]
    )
    upgrade(test_settings)
    return test_settings


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    application.state.test_globals = _process_globals()
    yield application
    await application.state.database.dispose()


def _process_globals() -> dict[str, Any]:
    from app.actions import bus, dispatch, targets

    return {
        "bus": bus.get_bus(),
        "dispatcher": dispatch._dispatcher,
        "provider": targets._provider,
        "resolvers": dict(targets._resolvers),
        "scopes": dict(targets._scopes),
    }


def _restore_process_globals(saved: dict[str, Any], settings: Settings) -> None:
    """Building another app (other settings, REDIS_URL) re-registers process-wide hooks;
    put back the session app's, so one test cannot change how the next one runs."""
    from app.actions import bus, dispatch, targets
    from app.wiring import register_all

    register_all(settings)
    bus.set_bus(saved["bus"])
    dispatch.set_dispatcher(saved["dispatcher"])
    targets.set_server_access_provider(saved["provider"])
    targets._resolvers.clear()
    targets._resolvers.update(saved["resolvers"])
    targets._scopes.clear()
    targets._scopes.update(saved["scopes"])


@pytest.fixture
def postgresql(settings: Settings) -> str:
    """For tests of PostgreSQL's own behaviour (row locks, backends, query plans): skips on
    SQLite; the libpq URL of the test database."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's own behaviour: set TEST_DATABASE_URL to a PostgreSQL "
                    "database (the PostgreSQL pass of CI runs it)")
    return make_url(sync_url(settings.database_url)).set(drivername="postgresql") \
        .render_as_string(hide_password=False)


@pytest.fixture
async def db(app: Any) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking stored state directly; commit to share it."""
    async with app.state.database.sessionmaker() as session:
        yield session


@pytest.fixture(autouse=True)
async def _clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    runner = getattr(application.state, "runner", None)
    if runner is not None:
        # Actions a test started finish before their rows go away.
        await runner.wait_idle()
    async with application.state.database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table is not access_generation:  # the migrations' row, not a test's
                await conn.execute(table.delete())
    application.state.counter = MemoryCounter()
    database = application.state.database
    database.cache = AccessCache(database.settings.access_cache_seconds)
    application.state.principal_cache = PrincipalCache(database.cache)
    application.state.finished_answers = FinishedAnswers(
        application.state.settings.finished_actions_cache_mb << 20)
    _restore_process_globals(application.state.test_globals, application.state.settings)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process; every response is checked against the reference."""
    hooks: dict[str, list[Any]] = {"response": []}
    if reference.reference_dir() is not None:
        hooks["response"].append(contract.async_hook)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        event_hooks=hooks,
        headers={"Accept": "application/json"},
    ) as c:
        yield c


_COUNTING: contextvars.ContextVar[QueryCounter | None] = contextvars.ContextVar(
    "counting", default=None
)


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.parameters: list[Any] = []  # each statement's, as the driver got them

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Any) -> Any:
    """`with count_queries() as q:` records the SQL statements run inside the block."""
    engine = app.state.database.engine.sync_engine

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()
        # Only the statements of the code inside the block (the request it makes): the
        # app's background tasks (the action reaper's periodic queries) run in contexts
        # of their own and would otherwise land in the count now and then.
        mine = _COUNTING.set(counter)

        def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any
                   ) -> None:
            if _COUNTING.get() is counter:
                counter.statements.append(statement)
                counter.parameters.append(parameters)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)
            _COUNTING.reset(mine)

    return counting


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def strace() -> None:
    """strace, which the tests that count a session's processes or writes run: CI has it."""
    if shutil.which("strace") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs strace (apt-get install strace) for this test")
        pytest.skip("this test needs strace (apt-get install strace)")
