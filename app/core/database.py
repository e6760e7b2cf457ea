"""Engine, sessions and the declarative base shared by every domain's models.

One AsyncSession per request: services flush, the request dependency commits (or rolls
back), then runs the callbacks registered with `after_commit` (mail, action dispatch).
"""

from __future__ import annotations

import logging
import select
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from psycopg import AsyncCursor
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Select,
    String,
    Table,
    event,
    exc,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator

from app.core.changes import AccessCache
from app.core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back timezone-aware datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # PostgreSQL sessions run in UTC (build_engine)
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


# Moved by triggers in every transaction that changes who may do what (migration 0015):
# the access caches (app/core/changes.py) trust an entry only under the value it was read at.
access_generation = Table(
    "access_generation",
    Base.metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


class CallerPermissionsMixin:
    """Carries the calling principal's permissions on a loaded row (set by the Authorizer).

    Kept out of the column set: it belongs to one request, never to the stored row.
    """

    _PERMISSIONS_KEY = "_current_user_permissions"

    @property
    def current_user_permissions(self) -> list[str]:
        value: list[str] = self.__dict__.get(self._PERMISSIONS_KEY, [])
        return value

    def remember_permissions(self, permissions: Iterable[str]) -> None:
        self.__dict__[self._PERMISSIONS_KEY] = sorted(permissions)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction commits; dropped on rollback."""
    session.info.setdefault("after_commit", []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            # The change is already committed; a failed side effect must not turn
            # into an error response for a request that did succeed.
            logger.exception("after-commit callback failed")


WROTE = "wrote"


def _mark_written(session: Session, *_args: Any) -> None:
    session.info[WROTE] = True


def _mark_statement(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info[WROTE] = True


# A session that has written may read its own uncommitted rows: what it reads about access
# must not be cached (a rollback would leave the cache holding what never existed).
event.listen(Session, "after_flush", _mark_written)
event.listen(Session, "do_orm_execute", _mark_statement)


def session_wrote(session: AsyncSession) -> bool:
    return bool(session.info.get(WROTE))


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgresql_utc(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Timestamps come back in UTC whatever the server's default zone, as the very
    # `datetime.UTC` (no conversion per value when thousands are read). A statement,
    # not a startup option: connection poolers refuse unknown startup parameters.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.commit()


# A pooled connection is pinged before use only when it may have died unseen. A backend
# that PostgreSQL terminated, or a server that restarted, has written its last message and
# closed the socket, which the kernel reports as readable at once: that is checked on every
# checkout (one poll, no round trip). A connection idle for longer may also have been cut
# silently on the way (a firewall's idle timeout): that one gets a real ping. SQLAlchemy's
# pool_pre_ping would ping every checkout, a round trip per request on a busy pool.
PING_IDLE_SECONDS = 10.0
_IDLE_SINCE = "idle_since"


def _mark_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _socket_readable(dbapi_connection: Any) -> bool:
    try:
        fd = dbapi_connection.driver_connection.pgconn.socket
    except Exception:  # closed or broken: treat as something to look at
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _check_on_checkout(
    dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    idle_since = record.info.get(_IDLE_SINCE)
    if (idle_since is not None and time.monotonic() - idle_since < PING_IDLE_SECONDS
            and not _socket_readable(dbapi_connection)):
        return
    try:
        # One round trip: in a transaction the driver would send BEGIN first and the ping
        # would need a ROLLBACK after, three round trips in all. Each is a turn of a busy
        # event loop, and after an idle spell every connection of the pool is pinged at
        # once: a burst of requests then answered in twice their usual time.
        mode, dbapi_connection.autocommit = dbapi_connection.autocommit, True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
            dbapi_connection.autocommit = mode
    except Exception as error:
        # The pool discards this connection and checks out (or opens) another.
        raise exc.DisconnectionError(str(error)) from error


# A GET's reads need no transaction: under READ COMMITTED every statement takes its own
# snapshot anyway, so a read-only request's BEGIN and COMMIT were two round trips (about a
# sixth of a small read's CPU) that changed nothing it saw. Such a session runs its
# connection in the driver's autocommit mode, and any statement that is not a plain SELECT
# (a write, a locking read, raw SQL) first opens a real transaction, which the session's
# commit or rollback then ends: whatever a GET writes stays atomic.
READS_OUTSIDE_TRANSACTION = "reads_outside_transaction"


def _autocommit_reads(session: Session, _transaction: Any, connection: Any) -> None:
    if session.info.get(READS_OUTSIDE_TRANSACTION):
        pooled = connection.connection
        # Marked on the pooled connection: only those put in autocommit here get a BEGIN
        # before writing (a connection asked for AUTOCOMMIT on purpose keeps it).
        pooled.info[READS_OUTSIDE_TRANSACTION] = True
        pooled.dbapi_connection.autocommit = True


def _plain_read(context: Any) -> bool:
    compiled = getattr(context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    return isinstance(statement, Select) and statement._for_update_arg is None


def _begin_before_writing(
    connection: Any, cursor: Any, _statement: str, _parameters: Any, context: Any,
    _executemany: bool,
) -> None:
    pooled = connection.connection
    if not pooled.info.get(READS_OUTSIDE_TRANSACTION) or _plain_read(context):
        return
    status = pooled.dbapi_connection.driver_connection.info.transaction_status
    if status == TransactionStatus.IDLE:
        cursor.execute("BEGIN")


def _leave_autocommit(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # Checked in after the pool's reset (any transaction is over): the next session gets
    # the driver's default, transactions.
    if record.info.pop(READS_OUTSIDE_TRANSACTION, None) and dbapi_connection is not None:
        dbapi_connection.autocommit = False


event.listen(Session, "after_begin", _autocommit_reads)

_T = TypeVar("_T")


class RetryingSession(Session):
    """A session whose first statement survives a connection that died as it was handed out.

    When PostgreSQL terminates a backend (a failover, a restart, an operator), the backend
    takes a moment to exit, and until it has, its client's socket shows nothing: a
    connection checked out in that instant passes the pool's check and its first statement
    fails. Nothing has been done on it yet (no earlier statement, nothing loaded), so that
    one statement runs again, once, on a new connection: the pool, told of the disconnect,
    has dropped every connection opened before it. Anything later stays the caller's error:
    a transaction that has run statements cannot be replayed without its earlier work.
    """

    def _first_statement(self, run: Callable[[], _T]) -> _T:
        if self.in_transaction():
            return run()
        try:
            return run()
        except exc.DBAPIError as error:
            # Not retried: a live connection's error, a statement after the first, or a
            # first statement that was an autoflush of pending changes (a rollback would
            # discard them) or that follows loaded objects (a rollback would expire them).
            if (not error.connection_invalidated or self.identity_map
                    or self.new or self.dirty or self.deleted):
                raise
            logger.warning("retrying a first statement on a new connection: %s",
                           str(error.orig).strip())
            self.rollback()
            return run()

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._first_statement(lambda: super(RetryingSession, self).execute(
            *args, **kwargs))

    def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self._first_statement(lambda: super(RetryingSession, self).scalar(
            *args, **kwargs))

    def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self._first_statement(lambda: super(RetryingSession, self).scalars(
            *args, **kwargs))


_ROWS_STATUS = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE)


class _DescribingCursor(AsyncCursor[Any]):
    """psycopg's cursor whose `description` is plain tuples of each column's name and type
    (all SQLAlchemy reads of it) instead of `Column` objects. SQLAlchemy asks for it once per
    statement, and psycopg builds a `Column` per column, looking up its type's details
    each time: for an application's detail (seven statements, 235 columns) that was a
    tenth of the request's CPU."""

    @property
    def description(self) -> Any:
        res = self.pgresult
        if res is None or not (res.nfields or res.status in _ROWS_STATUS):
            return None
        encoding = self._encoding
        return [((res.fname(i) or b"").decode(encoding), res.ftype(i), None, None, None, None,
                 None)
                for i in range(res.nfields)]


def build_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if settings.is_sqlite:
        engine = create_async_engine(url, echo=settings.database_echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(
        url,
        echo=settings.database_echo,
        # The documented peak, 2 x DATABASE_POOL_SIZE per process, all of it kept once
        # opened: an overflow connection is closed on its return, and a busy API opened
        # and closed them burst after burst. Each is a PostgreSQL backend to start (a fork,
        # authentication, its caches), which cost a busy read a third of its throughput.
        pool_size=2 * settings.database_pool_size,
        max_overflow=0,
        connect_args={"cursor_factory": _DescribingCursor},
    )
    event.listen(engine.sync_engine, "connect", _postgresql_utc)
    event.listen(engine.sync_engine.pool, "connect", _mark_idle)
    event.listen(engine.sync_engine.pool, "checkin", _mark_idle)
    event.listen(engine.sync_engine.pool, "checkout", _check_on_checkout)
    event.listen(engine.sync_engine.pool, "checkin", _leave_autocommit)
    event.listen(engine.sync_engine, "before_cursor_execute", _begin_before_writing)
    # A bulk INSERT (the engine's log chunks) as one multi-row statement, not one Bind and
    # one socket write per row as psycopg's executemany sends them; psycopg2's dialect
    # does this by default.
    engine.sync_engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


class Database:
    """Owns the engine and session factory for one process (API or worker)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.engine = build_engine(self.settings)
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=RetryingSession)
        self.cache = AccessCache(self.settings.access_cache_seconds)

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self, *, reads_first: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on error, then after-commit hooks.
        `reads_first` (a GET): on PostgreSQL its reads run outside a transaction, which
        its first write opens."""
        async with self.sessionmaker() as session:
            # After-commit work that must reach listeners (an action finished outside the
            # engine) finds the database it committed to here.
            session.info["database"] = self
            if reads_first and not self.settings.is_sqlite:
                session.info[READS_OUTSIDE_TRANSACTION] = True
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                session.info.pop("after_commit", None)
                raise
            await run_after_commit(session)
