"""The MoySklad client against a fake that throttles, fails and paginates like MoySklad."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from loyalty.config import Settings
from loyalty.moysklad.client import PAGE_LIMIT, MoySkladClient
from loyalty.moysklad.errors import MoySkladRejected, MoySkladUnavailable
from loyalty.moysklad.throttle import Throttle
from tests.solution.conftest import (
    APP_ID,
    APP_UID,
    SECRET_KEY,
    running_fake,
    solution_settings_for,
)
from tests.support.fake_moysklad import FakeInstallation, FakeMoySklad


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeMoySklad]:
    """Its own fake: failures told to it never reach the shared one's background work."""
    with running_fake() as own:
        yield own


@pytest.fixture
def account(fake: FakeMoySklad) -> FakeInstallation:
    account_id = str(uuid.uuid4())
    installation = FakeInstallation(account_id, "Тест", status="SettingsRequired")
    installation.access_token = uuid.uuid4().hex
    fake.installations[account_id] = installation
    fake.seed_catalogue(account_id, products=5)
    return installation


def settings_for(fake: FakeMoySklad, app_settings: Settings, **overrides: Any) -> Settings:
    settings = solution_settings_for(app_settings, fake, "https://loyalty.example.com")
    return settings.model_copy(update=overrides)


def run_with_client(settings: Settings, work: Any) -> Any:
    async def main() -> Any:
        client = MoySkladClient(settings)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def list_all(client: MoySkladClient, account: FakeInstallation, entity: str) -> Any:
    async def collect() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async for page in client.iterate_rows(
            f"entity/{entity}", access_token=account.access_token or "", throttle_key="a"
        ):
            rows.extend(page)
        return rows

    return collect()


class TestRetries:
    def test_429_waits_as_long_as_moysklad_says(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        fake.fail("/entity/retailstore", 429, times=2, retry_after_ms=300)
        rows = run_with_client(
            settings_for(fake, app_settings), lambda c: list_all(c, account, "retailstore")
        )
        assert len(rows) == 2
        arrivals = [request.at for request in fake.requests_to("/entity/retailstore")[-3:]]
        assert [request.status for request in fake.requests_to("/entity/retailstore")[-3:]] == [
            429,
            429,
            200,
        ]
        assert arrivals[1] - arrivals[0] >= 0.29 and arrivals[2] - arrivals[1] >= 0.29

    def test_5xx_is_retried(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        fake.fail("/entity/productfolder", 503, times=2)
        rows = run_with_client(
            settings_for(fake, app_settings), lambda c: list_all(c, account, "productfolder")
        )
        assert len(rows) == 2

    def test_unanswered_after_every_attempt_is_unavailable(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        fake.fail("/entity/service", 502, times=100)
        before = len(fake.requests_to("/entity/service"))
        with pytest.raises(MoySkladUnavailable) as failure:
            run_with_client(
                settings_for(fake, app_settings, MOYSKLAD_MAX_ATTEMPTS=3),
                lambda c: list_all(c, account, "service"),
            )
        assert failure.value.status == 502
        assert len(fake.requests_to("/entity/service")) - before == 3
        fake.rules.clear()

    def test_4xx_is_final_and_carries_moysklads_code(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        fake.installations[account.account_id].status = "Activating"
        before = len(fake.requests_to("/loyalty"))

        async def put(client: MoySkladClient) -> None:
            await client.put_loyalty(
                account.account_id,
                url="https://x/loyalty",
                token="t",
                external_search=True,
                interactive=False,
            )

        with pytest.raises(MoySkladRejected) as refused:
            run_with_client(settings_for(fake, app_settings), put)
        assert (refused.value.status, refused.value.moysklad_code) == (400, 2007)
        assert len(fake.requests_to("/loyalty")) - before == 1

    def test_an_unreachable_moysklad_is_unavailable(self, app_settings: Settings) -> None:
        fake = FakeMoySklad(app_id=APP_ID, app_uid=APP_UID, secret_key=SECRET_KEY)
        fake.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
        settings = settings_for(fake, app_settings, MOYSKLAD_MAX_ATTEMPTS=2)
        with pytest.raises(MoySkladUnavailable):
            run_with_client(settings, lambda c: c.get_status(str(uuid.uuid4())))


class TestLimits:
    def test_at_most_five_requests_in_flight_per_account(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        fake.json_api_delay_seconds = 0.2
        try:

            async def burst(client: MoySkladClient) -> None:
                await asyncio.gather(*(list_all(client, account, "product") for _ in range(12)))

            run_with_client(settings_for(fake, app_settings), burst)
        finally:
            fake.json_api_delay_seconds = 0.0
        assert 2 <= fake.max_in_flight[account.account_id] <= 5

    def test_the_rate_never_exceeds_the_limit_in_any_window(self) -> None:
        """Measured where requests are released (arrivals at a loaded server bunch up, which
        says nothing about the limiter): any 5 consecutive starts span a whole period."""
        throttle = Throttle(max_parallel=5, requests_per_period=4, period_seconds=1.0)
        starts: list[float] = []

        async def request() -> None:
            async with throttle.slot():
                starts.append(time.monotonic())
                await asyncio.sleep(0.01)

        async def burst() -> None:
            await asyncio.gather(*(request() for _ in range(10)))

        asyncio.run(burst())
        starts.sort()
        assert len(starts) == 10
        assert all(starts[i + 4] - starts[i] >= 1.0 for i in range(len(starts) - 4))

    def test_a_burst_through_the_client_is_paced_and_complete(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        settings = settings_for(
            fake,
            app_settings,
            MOYSKLAD_RATE_LIMIT_REQUESTS=4,
            MOYSKLAD_RATE_LIMIT_PERIOD_SECONDS=1.0,
        )
        before = len(fake.requests_to("/entity/bundle"))
        started = time.monotonic()

        async def burst(client: MoySkladClient) -> None:
            await asyncio.gather(*(list_all(client, account, "bundle") for _ in range(10)))

        run_with_client(settings, burst)
        assert len(fake.requests_to("/entity/bundle")[before:]) == 10
        # 10 requests at 4 per second cannot finish in under two full periods.
        assert time.monotonic() - started >= 2.0

    def test_draft_solutions_get_eleven_requests_per_period(self, app_settings: Settings) -> None:
        assert app_settings.moysklad_rate_limit_requests == 45
        draft = app_settings.model_copy(update={"MOYSKLAD_SOLUTION_IS_DRAFT": True})
        assert draft.moysklad_rate_limit_requests == 11


class TestWire:
    def test_pages_of_a_thousand_until_the_list_ends(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        fake.seed_catalogue(account.account_id, products=2345)
        before = len(fake.requests_to("/entity/product"))
        rows = run_with_client(
            settings_for(fake, app_settings), lambda c: list_all(c, account, "product")
        )
        assert len({row["id"] for row in rows}) == 2345
        pages = fake.requests_to("/entity/product")[before:]
        assert [(request.query["limit"], request.query["offset"]) for request in pages] == [
            ("1000", "0"),
            ("1000", "1000"),
            ("1000", "2000"),
        ]

    def test_gzip_and_a_fresh_one_time_jwt_on_every_call(
        self, fake: FakeMoySklad, account: FakeInstallation, app_settings: Settings
    ) -> None:
        async def calls(client: MoySkladClient) -> None:
            for _ in range(3):
                await client.get_status(account.account_id)

        run_with_client(settings_for(fake, app_settings), calls)
        recorded = fake.requests_to(f"/{account.account_id}/status")[-3:]
        assert all(request.status == 200 for request in recorded)
        assert all("gzip" in request.headers["accept-encoding"] for request in recorded)
        claims = [request.claims for request in recorded]
        assert all(claim is not None and claim["sub"] == APP_UID for claim in claims)
        assert all(claim["exp"] - claim["iat"] <= 300 for claim in claims if claim)
        assert len({claim["jti"] for claim in claims if claim}) == 3
        assert PAGE_LIMIT == 1000
