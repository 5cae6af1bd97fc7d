"""GET /metrics: Prometheus text with latency per route template and status, ledger
transactions by kind, replays, verification codes and connection-pool usage."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families

from loyalty.config import Settings
from loyalty.main import create_app
from tests.conftest import TOKEN_HEADER, Tenant
from tests.support import payloads
from tests.support.locks import HeldRowLock
from tests.support.server import LiveServer, free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base_url: str, **headers: str) -> Samples:
    response = httpx.get(f"{base_url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_counted(samples: Samples, route: str, status: int, method: str = "POST") -> float:
    return value(
        samples,
        "loyalty_http_request_duration_seconds_count",
        method=method,
        route=route,
        status=str(status),
    )


@pytest.fixture
def app_with(app_settings: Settings) -> Iterator[Any]:
    """Starts extra servers with changed settings; stops them afterwards."""
    started: list[LiveServer] = []

    def start(**changes: Any) -> LiveServer:
        settings = Settings(DATABASE_URL=app_settings.DATABASE_URL, ENV="test", **changes)
        live = LiveServer(create_app(settings))
        live.start()
        started.append(live)
        return live

    yield start
    for live in started:
        live.stop()


class TestExposition:
    def test_is_prometheus_text_and_needs_no_token_by_default(self, server: LiveServer) -> None:
        samples = scrape(server.base_url)
        assert value(samples, "loyalty_build_info", version="0.1.0") == 1

    def test_openmetrics_when_the_scraper_asks_for_it(self, server: LiveServer) -> None:
        response = httpx.get(
            f"{server.base_url}/metrics", headers={"Accept": "application/openmetrics-text"}
        )
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.text.rstrip().endswith("# EOF")

    def test_a_configured_token_protects_it(self, app_with: Any) -> None:
        token = "k3Y9-metrics-" + "Zq8x" * 8
        live = app_with(METRICS_TOKEN=token)
        missing = httpx.get(f"{live.base_url}/metrics")
        wrong = httpx.get(f"{live.base_url}/metrics", headers={"Authorization": "Bearer nope"})
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["errors"][0]["code"] == 40130
        scrape(live.base_url, Authorization=f"Bearer {token}")
        # The probes stay open: a load balancer has no token.
        assert httpx.get(f"{live.base_url}/healthz").status_code == 200


class TestRequestLatency:
    def test_labelled_by_route_template_and_status_never_by_raw_path(
        self, server: LiveServer, tenant: Tenant
    ) -> None:
        phone = "+79161234567"
        before = scrape(server.base_url)
        search = tenant.client.get(
            "/counterparty", params={"search": phone, "retailStoreId": payloads.STORE_ID}
        )
        assert search.status_code == 200
        tenant.recalc(payloads.recalc(None, [payloads.position(price=100)]))
        refused = tenant.post("/retaildemand/recalc", {"positions": []})
        assert refused.status_code == 412
        assert httpx.get(f"{server.base_url}/loyalty/no/such/{phone}").status_code == 404
        after = scrape(server.base_url)

        def delta(route: str, status: int, method: str = "POST") -> float:
            return requests_counted(after, route, status, method) - requests_counted(
                before, route, status, method
            )

        assert delta("/loyalty/counterparty", 200, "GET") == 1
        assert delta("/loyalty/retaildemand/recalc", 200) == 1
        assert delta("/loyalty/retaildemand/recalc", 412) == 1
        assert delta("unmatched", 404, "GET") == 1
        labels = {label for _, pairs in after for _, label in pairs}
        assert not any("9161234567" in label or "/no/such" in label for label in labels)

    def test_routes_with_parameters_and_outside_the_schema_are_labelled_by_template(
        self, app_settings: Settings
    ) -> None:
        app = create_app(Settings(DATABASE_URL=app_settings.DATABASE_URL, ENV="test"))
        operator = APIRouter(prefix="/operator", include_in_schema=False)

        @operator.get("/customers/{customer}")
        async def customer(customer: str) -> dict[str, str]:
            return {}

        app.include_router(operator)
        with LiveServer(app) as live:
            assert httpx.get(f"{live.base_url}/operator/customers/+79161234567").is_success
            samples = scrape(live.base_url)
        assert requests_counted(samples, "/operator/customers/{customer}", 200, "GET") == 1
        assert not any("9161234567" in str(labels) for _, labels in samples)

    def test_requests_refused_before_routing_keep_their_route(
        self, server: LiveServer, tenant: Tenant
    ) -> None:
        before = scrape(server.base_url)
        response = tenant.client.post(
            "/retaildemand", content=b"name=1", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 415
        after = scrape(server.base_url)
        route = "/loyalty/retaildemand"
        assert requests_counted(after, route, 415) - requests_counted(before, route, 415) == 1

    def test_histogram_buckets_cover_the_latency_budget(self, server: LiveServer) -> None:
        httpx.get(f"{server.base_url}/healthz")
        samples = scrape(server.base_url)
        buckets = {
            dict(labels)["le"]
            for name, labels in samples
            if name == "loyalty_http_request_duration_seconds_bucket"
        }
        assert {"0.05", "2.0", "+Inf"} <= buckets


class TestLedgerAndReplays:
    def test_committed_transactions_are_counted_by_kind_and_replays_by_route(
        self, server: LiveServer, tenant: Tenant
    ) -> None:
        tenant.set_program(welcome_bonus_points=50, earn_percent=10)
        before = scrape(server.base_url)
        ms_id = tenant.register()
        sale_id, answer = tenant.buy(ms_id, [payloads.position(price=300)])
        replay = tenant.post("/retaildemand", payloads.sale_from_recalc(sale_id, ms_id, answer))
        assert replay.status_code == 201 and replay.headers["Idempotency-Replayed"] == "true"
        changed = payloads.sale_from_recalc(sale_id, ms_id, answer, name="другой")
        assert tenant.post("/retaildemand", changed).status_code == 409
        back = tenant.post(
            "/retailsalesreturn",
            payloads.sales_return(
                payloads.new_id(), sale_id, [payloads.position(price=300)], ms_id=ms_id
            ),
        )
        assert back.status_code == 201, back.text
        after = scrape(server.base_url)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("loyalty_ledger_transactions_total", kind="welcome") == 1
        assert delta("loyalty_ledger_transactions_total", kind="sale") == 1
        assert delta("loyalty_ledger_transactions_total", kind="return") == 1
        assert delta("loyalty_idempotent_replays_total", route="/loyalty/retaildemand") == 1
        stored = tenant.db.scalar(
            "SELECT count(*) FROM ledger_transaction WHERE account_id = :a", a=tenant.account_id
        )
        assert stored == 3


class TestVerificationCodes:
    def test_sent_codes_are_counted_by_purpose(self, server: LiveServer, tenant: Tenant) -> None:
        before = scrape(server.base_url)
        response = tenant.post(
            "/counterparty/verify",
            {"retailStore": payloads.store(), "phone": "+79161230001"},
        )
        assert response.status_code == 200, response.text
        after = scrape(server.base_url)
        labels = {"purpose": "registration", "outcome": "sent"}
        name = "loyalty_verification_codes_total"
        assert value(after, name, **labels) - value(before, name, **labels) == 1

    def test_failed_deliveries_are_counted_apart(self, app_with: Any, tenant: Tenant) -> None:
        live = app_with(SMS_SENDER="http", SMS_GATEWAY_URL=f"http://127.0.0.1:{free_port()}/")
        response = httpx.post(
            f"{live.base_url}/loyalty/counterparty/verify",
            json={"retailStore": payloads.store(), "phone": "+79161230002"},
            headers={TOKEN_HEADER: tenant.token},
        )
        assert response.status_code == 503
        samples = scrape(live.base_url)
        name = "loyalty_verification_codes_total"
        assert value(samples, name, purpose="registration", outcome="failed") >= 1


class TestConnectionPool:
    def test_capacity_and_in_use_connections(
        self, server: LiveServer, tenant: Tenant, app_settings: Settings
    ) -> None:
        idle = scrape(server.base_url)
        capacity = app_settings.DATABASE_POOL_SIZE + app_settings.DATABASE_MAX_OVERFLOW
        assert value(idle, "loyalty_db_pool_connections_max") >= capacity
        assert value(idle, "loyalty_db_pool_connections_in_use") == 0
        ms_id = tenant.register()
        lock = HeldRowLock(
            tenant.db.url,
            "SELECT 1 FROM customer_balance WHERE account_id = $1 FOR UPDATE",
            tenant.account_id,
        )
        outcome: list[int] = []
        sale = payloads.sale(payloads.new_id(), ms_id, [payloads.position(price=100)])
        client = tenant.new_client()
        worker = threading.Thread(
            target=lambda: outcome.append(client.post("/retaildemand", json=sale).status_code)
        )
        try:
            worker.start()
            lock.wait_for_waiting_requests(1)
            busy = scrape(server.base_url)
        finally:
            lock.release()
            worker.join(timeout=30)
        assert outcome == [201]
        assert value(busy, "loyalty_db_pool_connections_in_use") == 1
        assert value(busy, "loyalty_db_pool_connections_open") >= 1
        # The sale waiting on the lock and the scrape itself.
        assert value(busy, "loyalty_http_requests_in_progress") == 2
        assert value(scrape(server.base_url), "loyalty_db_pool_connections_in_use") == 0
