"""The till's hottest statements, sent straight to the session's asyncpg connection.

Through the ORM session a statement costs 250–340 µs of the worker's CPU; the same statement
on the driver costs about 90 µs (`bench/README`-style micro-measure in `docs/performance.md`,
sixth round). A commit sends five or six, so the difference is a fifth of a sale's CPU. The
statements are still written with SQLAlchemy (or as SQL text) and compiled once; only the
execution skips the session's machinery. They run on the session's own connection and in its
transaction, so the session's commit, rollback and savepoints cover them as before.

Errors are the driver's own (`asyncpg.PostgresError`), not SQLAlchemy's wrappers: classify
them with `loyalty.db.errors`, which reads the SQLSTATE from either.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

_DIALECT = asyncpg_dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
_CONNECTION_KEY = "loyalty.db.driver.connection"
# Set in a read-only (autocommit) session's `info`: see `_on_pooled_connection`.
STATEMENTS_ON_POOL = "loyalty.db.driver.statements_on_pool"


class Row(asyncpg.Record):  # type: ignore[misc]
    """A result row that reads like SQLAlchemy's: `row.name` as well as `row["name"]`."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], self)


@dataclass(frozen=True)
class Statement:
    """A statement compiled once for the driver: its SQL with `$n` placeholders and the
    parameter each placeholder takes (a value bound into the statement itself is its default)."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]

    def bind(self, params: Mapping[str, Any]) -> list[Any]:
        try:
            return [params[name] if name in params else self.defaults[name] for name in self.names]
        except KeyError as missing:
            raise TypeError(f"statement parameter {missing} is not bound") from None


def compiled(clause: sa.ClauseElement) -> Statement:
    """`clause` for the driver; an INSERT names its columns' bind parameters in `values()`."""
    done = cast(SQLCompiler, clause.compile(dialect=_DIALECT))
    names = tuple(done.positiontup or ())
    defaults = {name: value for name, value in done.params.items() if value is not None}
    return Statement(done.string, names, defaults)


def array_literal(values: Iterable[Any]) -> str:
    """`values` as one PostgreSQL array literal, for a parameter the SQL casts from text to an
    array (`CAST(CAST(:ids AS text) AS bigint[])`).

    asyncpg encodes an array parameter element by element, with three abstract-class checks
    for each: nine arrays of ten elements cost about 150 µs of the worker's CPU, the same
    values as text about 70 µs, and a receipt of 100 positions ten times that. Text elements
    are quoted and escaped, so any text is safe; None is NULL; numbers and UUIDs need no quotes.
    """
    return "{" + ",".join(map(_array_element, values)) + "}"


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool) or not isinstance(value, int | Decimal | uuid.UUID):
        raise TypeError(f"no array literal for {type(value).__name__}")
    return str(value)


async def connection_of(session: AsyncSession) -> asyncpg.Connection:
    """The session's connection, with its transaction begun (SQLAlchemy begins lazily, at the
    first statement it sends itself): a statement sent here must never run outside it.

    Remembered for as long as the session's transaction lasts: asking the session costs two
    greenlet switches, more than a fifth of a statement."""
    transaction = session.sync_session.get_transaction()
    remembered = session.info.get(_CONNECTION_KEY)
    if transaction is None or remembered is None or remembered[0] is not transaction:
        pooled = await (await session.connection()).get_raw_connection()
        transaction = session.sync_session.get_transaction()
        adapted: Any = pooled.dbapi_connection  # SQLAlchemy's asyncpg adapter
        remembered = (transaction, adapted, pooled.driver_connection)
        session.info[_CONNECTION_KEY] = remembered
    _, adapted, connection = remembered
    if adapted._transaction is None and adapted.isolation_level != "autocommit":
        await adapted._start_transaction()
    return cast(asyncpg.Connection, connection)


async def _on_pooled_connection(
    session: AsyncSession, send: Callable[[asyncpg.Connection], Awaitable[Any]]
) -> Any:
    """A read-only session's statement before it holds a connection: run on a connection taken
    from the pool for this statement alone. In autocommit every statement is its own
    transaction, so nothing is lost, and a recalc (one statement) skips the session's
    connection machinery: its begin, connection characteristics and close cost more than the
    statement itself. Once the session holds a connection (it sent a statement of its own),
    its statements share it, so a request never holds two."""
    bind = session.sync_session.bind
    assert isinstance(bind, sa.Engine), "a read-only session is bound to its engine"
    pooled = await greenlet_spawn(bind.raw_connection)
    try:
        return await send(cast(asyncpg.Connection, pooled.driver_connection))
    finally:
        # In a greenlet: returning an overflow connection closes it, which awaits.
        await greenlet_spawn(pooled.close)


async def _send(session: AsyncSession, send: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    if session.info.get(STATEMENTS_ON_POOL) and not session.in_transaction():
        return await _on_pooled_connection(session, send)
    return await send(await connection_of(session))


async def fetch_one(
    session: AsyncSession, statement: Statement, params: Mapping[str, Any]
) -> Row | None:
    args = statement.bind(params)
    row = await _send(
        session, lambda connection: connection.fetchrow(statement.sql, *args, record_class=Row)
    )
    return cast(Row | None, row)


async def fetch_all(
    session: AsyncSession, statement: Statement, params: Mapping[str, Any]
) -> list[Row]:
    args = statement.bind(params)
    rows = await _send(
        session, lambda connection: connection.fetch(statement.sql, *args, record_class=Row)
    )
    return cast(list[Row], rows)


async def execute(session: AsyncSession, statement: Statement, params: Mapping[str, Any]) -> None:
    args = statement.bind(params)
    await _send(session, lambda connection: connection.execute(statement.sql, *args))
