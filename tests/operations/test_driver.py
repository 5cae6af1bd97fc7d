"""Statements sent straight on the driver belong to the session's transaction like any other."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.config import Settings
from loyalty.db import driver
from loyalty.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker
from loyalty.db.errors import is_unique_violation
from tests.support.db import Database

_SCRATCH = "driver_scratch"
_CACHE_OFF = "prepared_statement_cache_size=0"
_INSERT = driver.compiled(
    sa.text(f"INSERT INTO {_SCRATCH} (id, label) VALUES (:id, :label) RETURNING id, label")
)
_TWICE = driver.compiled(sa.text("SELECT CAST(:value AS bigint) + CAST(:value AS bigint) AS sum"))
_IN_TRANSACTION = driver.compiled(
    sa.text("SELECT now() = statement_timestamp() AS autocommit, txid_current_if_assigned() AS xid")
)


@pytest.fixture
def scratch(db: Database) -> Database:
    async def create(session: AsyncSession) -> None:
        await session.execute(sa.text(f"DROP TABLE IF EXISTS {_SCRATCH}"))
        await session.execute(
            sa.text(f"CREATE TABLE {_SCRATCH} (id uuid PRIMARY KEY, label text NOT NULL)")
        )

    db.run(create)
    return db


def _with_session(
    db: Database, work: Callable[[AsyncSession], Awaitable[Any]], *, read_only: bool = False
) -> Any:
    async def main() -> Any:
        engine = make_engine(db.settings)
        makers = make_read_sessionmaker(engine) if read_only else make_sessionmaker(engine)
        try:
            async with makers() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _labels(db: Database) -> list[str]:
    return [row["label"] for row in db.fetch(f"SELECT label FROM {_SCRATCH} ORDER BY label")]


def test_a_first_statement_on_the_driver_is_undone_by_the_sessions_rollback(
    scratch: Database,
) -> None:
    async def work(session: AsyncSession) -> None:
        async with session.begin():
            row = await driver.fetch_one(session, _INSERT, {"id": uuid.uuid4(), "label": "x"})
            assert row is not None
            assert (row.label, row["label"], row._mapping["label"]) == ("x", "x", "x")
            await session.rollback()

    _with_session(scratch, work)
    assert _labels(scratch) == []


def test_driver_and_session_statements_share_one_transaction_and_its_savepoints(
    scratch: Database,
) -> None:
    async def work(session: AsyncSession) -> None:
        async with session.begin():
            await session.execute(
                sa.text(f"INSERT INTO {_SCRATCH} VALUES (:id, 'kept')"), {"id": uuid.uuid4()}
            )
            savepoint = await session.begin_nested()
            await driver.execute(session, _INSERT, {"id": uuid.uuid4(), "label": "undone"})
            await savepoint.rollback()
            await driver.execute(session, _INSERT, {"id": uuid.uuid4(), "label": "after"})
            # Seen by the session's own statements before commit: the same transaction.
            seen = await session.scalar(sa.text(f"SELECT count(*) FROM {_SCRATCH}"))
            assert seen == 2

    _with_session(scratch, work)
    assert _labels(scratch) == ["after", "kept"]


def test_a_read_only_session_sends_no_begin(db: Database) -> None:
    async def work(session: AsyncSession) -> Any:
        return await driver.fetch_one(session, _IN_TRANSACTION, {})

    row = _with_session(db, work, read_only=True)
    assert row.xid is None


def test_a_parameter_used_twice_is_bound_once_and_a_missing_one_is_refused(db: Database) -> None:
    async def work(session: AsyncSession) -> Any:
        row = await driver.fetch_one(session, _TWICE, {"value": 21})
        with pytest.raises(TypeError, match="value"):
            await driver.fetch_one(session, _TWICE, {})
        return row

    assert _TWICE.names == ("value",)
    assert _with_session(db, work, read_only=True).sum == 42


def test_driver_errors_carry_their_sqlstate_and_the_session_recovers(scratch: Database) -> None:
    taken = uuid.uuid4()

    async def work(session: AsyncSession) -> None:
        async with session.begin():
            await driver.execute(session, _INSERT, {"id": taken, "label": "first"})
        with pytest.raises(asyncpg.UniqueViolationError) as raised:
            async with session.begin():
                await driver.execute(session, _INSERT, {"id": taken, "label": "again"})
        assert is_unique_violation(raised.value)
        async with session.begin():
            await driver.execute(session, _INSERT, {"id": uuid.uuid4(), "label": "then"})

    _with_session(scratch, work)
    assert _labels(scratch) == ["first", "then"]


_ROUND_TRIP = driver.compiled(
    sa.text(
        "SELECT CAST(CAST(:texts AS text) AS text[]) AS texts,"
        " CAST(CAST(:numbers AS text) AS numeric[]) AS numbers,"
        " CAST(CAST(:ids AS text) AS uuid[]) AS ids"
    )
)
AWKWARD_TEXTS = [
    "plain",
    "",
    "NULL",
    "with space",
    'a "quoted" word',
    "back\\slash\\",
    "{braces},commas",
    "кириллица ✓ 𝔘",
    " leading and trailing ",
    "new\nline\ttab",
]


def test_array_literals_carry_any_text_numbers_uuids_and_nulls_exactly(db: Database) -> None:
    numbers = [Decimal("1.500"), Decimal("-0.001"), Decimal("1E+3"), 7, None]
    ids = [uuid.uuid4(), None, uuid.uuid4()]

    async def work(session: AsyncSession) -> Any:
        return await driver.fetch_one(
            session,
            _ROUND_TRIP,
            {
                "texts": driver.array_literal([*AWKWARD_TEXTS, None]),
                "numbers": driver.array_literal(numbers),
                "ids": driver.array_literal(ids),
            },
        )

    row = _with_session(db, work, read_only=True)
    assert row.texts == [*AWKWARD_TEXTS, None]
    assert row.numbers == numbers
    assert row.ids == ids
    assert driver.array_literal([]) == "{}"


def test_an_array_literal_refuses_what_it_cannot_spell() -> None:
    with pytest.raises(TypeError):
        driver.array_literal([1.5])
    with pytest.raises(TypeError):
        driver.array_literal([True])


_PREPARED_HERE = driver.compiled(
    sa.text("SELECT count(*) AS prepared FROM pg_prepared_statements WHERE NOT from_sql")
)


@pytest.mark.parametrize(("query", "named_statements"), [("", True), (_CACHE_OFF, False)])
def test_turning_the_statement_cache_off_covers_the_drivers_statements(
    db: Database, query: str, named_statements: bool
) -> None:
    """Behind an older pgbouncer in transaction mode no statement may stay prepared by name."""
    separator = "&" if "?" in db.url else "?"
    settings = Settings(DATABASE_URL=f"{db.url}{separator}{query}" if query else db.url)

    async def main() -> int:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await driver.fetch_one(session, _TWICE, {"value": 1})
                row = await driver.fetch_one(session, _PREPARED_HERE, {})
                assert row is not None
                return int(row.prepared)
        finally:
            await engine.dispose()

    prepared = asyncio.run(main())
    assert (prepared > 0) is named_statements


_BACKEND = driver.compiled(sa.text("SELECT pg_backend_pid() AS pid"))
_SLEEP = driver.compiled(sa.text("SELECT pg_sleep(5) AS slept"))


def test_a_read_only_sessions_statement_borrows_a_pooled_connection_for_itself_alone(
    db: Database,
) -> None:
    async def work(session: AsyncSession) -> tuple[int, int, int, bool]:
        pool = session.sync_session.bind.pool  # type: ignore[union-attr]
        first = await driver.fetch_one(session, _BACKEND, {})
        second = await driver.fetch_one(session, _BACKEND, {})
        assert first is not None and second is not None
        # Returned to the pool at once, though the session is still open.
        return first.pid, second.pid, pool.checkedout(), session.in_transaction()

    first_pid, second_pid, checked_out, in_transaction = _with_session(db, work, read_only=True)
    assert (checked_out, in_transaction) == (0, False)
    assert first_pid == second_pid  # the pool handed the same connection back


def test_once_a_read_only_session_holds_a_connection_its_driver_statements_share_it(
    db: Database,
) -> None:
    async def work(session: AsyncSession) -> tuple[int, int, int]:
        pool = session.sync_session.bind.pool  # type: ignore[union-attr]
        own_pid = (await session.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        row = await driver.fetch_one(session, _BACKEND, {})
        assert row is not None
        return own_pid, row.pid, pool.checkedout()

    own_pid, driver_pid, checked_out = _with_session(db, work, read_only=True)
    assert driver_pid == own_pid
    assert checked_out == 1  # never a second connection for one request


def test_a_failed_or_cancelled_pooled_statement_gives_its_connection_back_usable(
    db: Database,
) -> None:
    async def work(session: AsyncSession) -> tuple[int, int, int]:
        pool = session.sync_session.bind.pool  # type: ignore[union-attr]
        with pytest.raises(TypeError):
            await driver.fetch_one(session, _TWICE, {})
        with pytest.raises(asyncpg.DivisionByZeroError):
            await driver.fetch_one(
                session, driver.compiled(sa.text("SELECT 1 / CAST(:zero AS int)")), {"zero": 0}
            )
        before = await driver.fetch_one(session, _BACKEND, {})
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(driver.fetch_one(session, _SLEEP, {}), timeout=0.2)
        after = await asyncio.wait_for(driver.fetch_one(session, _BACKEND, {}), timeout=2)
        assert before is not None and after is not None
        return before.pid, after.pid, pool.checkedout()

    before_pid, after_pid, checked_out = _with_session(db, work, read_only=True)
    assert checked_out == 0
    assert after_pid == before_pid  # the cancelled statement's connection served the next one
