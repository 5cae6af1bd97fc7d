"""The till-token cache: each worker answers a known token from memory, and a change to the
token, its account or its program reaches the tills within moments, through PostgreSQL
notifications, never through a timer. This server does not wait for notifications before
each request (the suite's shared one does), so what is tested here is what a till sees."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import service as accounts_service
from loyalty.accounts.cache import CHANNEL, AccountCache
from loyalty.accounts.repository import set_status
from loyalty.accounts.schemas import AccountContext
from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.main import create_app
from loyalty.program.schemas import ProgramSettings
from tests.conftest import Tenant, create_tenant
from tests.support import payloads
from tests.support.db import Database
from tests.support.server import LiveServer
from tests.support.waiting import wait_until

SOON_SECONDS = 2.0  # how long a change may take to reach the tills (a notification: milliseconds)


@pytest.fixture(scope="module")
def cached_server(app_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(create_app(app_settings, clock=Clock()), settle_account_changes=False)
    server.start()
    _wait_until(lambda: server.app.state.account_cache.live, "the listener never connected")
    yield server
    server.stop()


@pytest.fixture
def shop(db: Database, cached_server: LiveServer) -> Iterator[Tenant]:
    tenant = create_tenant(db, cached_server)
    yield tenant
    tenant.client.close()


def _wait_until(condition: Callable[[], Any], failure: str) -> float:
    return wait_until(condition, failure, seconds=SOON_SECONDS)


def _execute(db: Database, sql: str) -> None:
    async def work(session: AsyncSession) -> None:
        await session.execute(text(sql))

    db.run(work)


def _lookups(server: LiveServer) -> dict[str, float]:
    text = httpx.get(f"{server.base_url}/metrics").text
    found = re.findall(
        r'^loyalty_account_cache_lookups_total\{outcome="(\w+)"\} (\S+)$', text, re.M
    )
    return {outcome: float(value) for outcome, value in found}


def _earned(tenant: Tenant, ms_id: str) -> int:
    answer = tenant.recalc(payloads.recalc(ms_id, [payloads.position(price=1000)]))
    earned: int = answer["bonusProgram"]["bonusValueToEarn"]
    return earned


def _status(client: httpx.Client) -> int:
    return client.post(
        "/counterparty/detail",
        json={"retailStore": payloads.store(), "meta": payloads.meta("counterparty", "x")},
    ).status_code


def test_a_known_token_is_answered_from_memory(shop: Tenant) -> None:
    ms_id = shop.register()
    before = _lookups(shop.server)
    for _ in range(5):
        assert shop.balance(ms_id) == 0
    after = _lookups(shop.server)
    assert after.get("hit", 0) - before.get("hit", 0) >= 4


def test_a_program_change_reaches_the_till_within_moments(shop: Tenant) -> None:
    ms_id = shop.register()
    assert _earned(shop, ms_id) == 50  # 5 % of 1,000, from memory after the first request
    assert _earned(shop, ms_id) == 50
    shop.set_program(earn_percent=Decimal("12"))
    _wait_until(lambda: _earned(shop, ms_id) == 120, "the till kept the old earn percent")


def test_a_category_rule_reaches_the_till_within_moments(shop: Tenant, db: Database) -> None:
    ms_id = shop.register()
    assert _earned(shop, ms_id) == 50
    db.fetch(
        "INSERT INTO category_rule (account_id, target_kind, target_id, no_earn)"
        " VALUES (:account, 'product', :product, true) RETURNING target_id",
        account=shop.account_id,
        product="9c56720c-e8a7-4fdc-aea4-7104f28207be",  # the payloads' default product
    )
    _wait_until(lambda: _earned(shop, ms_id) == 0, "the till ignored the new category rule")


def test_a_revoked_token_stops_working_within_moments(shop: Tenant, db: Database) -> None:
    assert _status(shop.client) != 401
    assert _status(shop.client) != 401  # now answered from memory

    async def rotate(session: AsyncSession) -> str:
        token = await accounts_service.issue_pending_token(session, shop.account_id)
        await accounts_service.confirm_pending_token(session, shop.account_id)
        return token

    new_token = db.run(rotate)
    _wait_until(lambda: _status(shop.client) == 401, "the revoked token kept working")
    with shop.new_client(new_token) as client:
        assert _status(client) != 401


def test_a_suspended_account_is_shut_out_within_moments(shop: Tenant, db: Database) -> None:
    assert _status(shop.client) != 401

    async def suspend(session: AsyncSession) -> None:
        await set_status(session, shop.account_id, "suspended")

    db.run(suspend)
    _wait_until(lambda: _status(shop.client) == 401, "the suspended account kept selling")


def test_a_lost_listener_turns_the_cache_off_and_a_missed_change_is_never_served(
    shop: Tenant, db: Database, cached_server: LiveServer
) -> None:
    ms_id = shop.register()
    assert _earned(shop, ms_id) == 50
    cache: AccountCache = cached_server.app.state.account_cache
    assert cache.live

    # The listener's connection is gone and, while it is, the program changes: nobody hears.
    db.fetch(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'loyalty-listener' AND datname = current_database()"
    )
    _wait_until(lambda: not cache.live, "the cache stayed on without its listener")
    shop.set_program(earn_percent=Decimal("7"))
    # The listener may be back already; either way the old answer is gone, not served.
    before = _lookups(shop.server)
    assert _earned(shop, ms_id) == 70
    assert _lookups(shop.server).get("hit", 0) == before.get("hit", 0)

    # Back, it starts empty: still the new program, then from memory again.
    _wait_until(lambda: cache.live, "the listener did not reconnect")
    assert _earned(shop, ms_id) == 70
    before = _lookups(shop.server)
    assert _earned(shop, ms_id) == 70
    assert _lookups(shop.server).get("hit", 0) > before.get("hit", 0)


def test_without_its_triggers_the_cache_stays_off(
    shop: Tenant, db: Database, cached_server: LiveServer
) -> None:
    cache: AccountCache = cached_server.app.state.account_cache
    trigger = "category_rule_notify_account_changed"
    _execute(db, f"ALTER TABLE category_rule DISABLE TRIGGER {trigger}")
    try:
        db.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'loyalty-listener' AND datname = current_database()"
        )
        _wait_until(lambda: not cache.live, "the cache stayed on")
        time.sleep(1.0)  # several reconnect attempts: each finds a trigger missing
        assert not cache.live
        ms_id = shop.register()
        assert _earned(shop, ms_id) == 50  # still served, from the database
    finally:
        _execute(db, f"ALTER TABLE category_rule ENABLE TRIGGER {trigger}")
    wait_until(lambda: cache.live, "the cache did not come back with its triggers", seconds=10)


def test_every_table_a_token_resolves_from_announces_its_changes(
    shop: Tenant, database_url: str
) -> None:
    account = str(shop.account_id)
    statements = [
        ("UPDATE account SET name = name || '!' WHERE id = $1", account),
        ("UPDATE api_token SET state = state WHERE account_id = $1", account),
        ("UPDATE program_settings SET earn_percent = 6 WHERE account_id = $1", account),
        (
            "INSERT INTO program_tier (account_id, threshold_minor, name, earn_percent,"
            " max_spend_percent) VALUES ($1, 0, 'Базовый', 5, 50)",
            account,
        ),
        ("DELETE FROM program_tier WHERE account_id = $1", account),
        (
            "INSERT INTO category_rule (account_id, target_kind, target_id, no_spend)"
            " VALUES ($1, 'folder', 'f', true)",
            account,
        ),
        ("UPDATE category_rule SET no_earn = true WHERE account_id = $1", account),
        ("DELETE FROM category_rule WHERE account_id = $1", account),
    ]

    async def main() -> list[str]:
        url = database_url.replace("postgresql+asyncpg", "postgresql")
        listening, writing = await asyncpg.connect(url), await asyncpg.connect(url)
        heard: asyncio.Queue[str] = asyncio.Queue()
        try:
            await listening.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))
            missing = []
            for sql, argument in statements:
                await writing.execute(sql, uuid.UUID(argument))
                try:
                    payload = await asyncio.wait_for(heard.get(), SOON_SECONDS)
                except TimeoutError:
                    payload = ""
                if payload != account:
                    missing.append(sql)
            return missing
        finally:
            await listening.close()
            await writing.close()

    assert asyncio.run(main()) == []


def test_an_answer_read_while_a_change_was_announced_is_not_kept() -> None:
    cache = AccountCache(max_age_seconds=300)
    cache.go_live()
    context = AccountContext(account_id=uuid.uuid4(), token_id=1, program=ProgramSettings())
    generation = cache.generation  # a request starts reading the token's rows ...
    cache.account_changed(str(context.account_id))  # ... a change commits meanwhile ...
    cache.store(b"digest", context, generation)  # ... and the old answer arrives
    assert cache.lookup(b"digest") is None

    cache.store(b"digest", context, cache.generation)
    assert cache.lookup(b"digest") == context
    cache.account_changed(str(uuid.uuid4()))  # another account's change keeps this one
    assert cache.lookup(b"digest") == context
    cache.go_dark()
    assert cache.lookup(b"digest") is None


def test_without_its_listener_the_cache_answers_nothing_and_says_so(
    cached_server: LiveServer,
) -> None:
    cache = AccountCache(max_age_seconds=300)
    cache.go_live()
    context = AccountContext(account_id=uuid.uuid4(), token_id=1, program=ProgramSettings())
    cache.store(b"digest", context, cache.generation)
    cache.go_dark()
    before = _lookups(cached_server)
    assert cache.lookup(b"digest") is None
    cache.store(b"digest", context, cache.generation)  # nothing is kept while dark either
    assert len(cache) == 0
    assert _lookups(cached_server).get("off", 0) == before.get("off", 0) + 1


def test_an_answer_older_than_the_age_limit_is_read_again() -> None:
    now = [0.0]
    cache = AccountCache(max_age_seconds=60, monotonic=lambda: now[0])
    cache.go_live()
    context = AccountContext(account_id=uuid.uuid4(), token_id=1, program=ProgramSettings())
    cache.store(b"digest", context, cache.generation)
    now[0] = 59.0
    assert cache.lookup(b"digest") == context
    now[0] = 61.0
    assert cache.lookup(b"digest") is None


def test_with_the_cache_off_every_request_reads_the_database(
    app_settings: Settings, db: Database
) -> None:
    settings = app_settings.model_copy(update={"ACCOUNT_CACHE_SECONDS": 0})
    with LiveServer(create_app(settings, clock=Clock())) as server:
        tenant = create_tenant(db, server)
        ms_id = tenant.register()
        assert server.app.state.account_cache is None
        assert _earned(tenant, ms_id) == 50
        tenant.set_program(earn_percent=Decimal("9"))
        assert _earned(tenant, ms_id) == 90
        tenant.client.close()
