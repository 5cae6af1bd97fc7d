"""`loyalty webhooks add|list|deliveries|retry|delete`."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.config import Settings
from tests.conftest import Tenant
from tests.support import payloads
from tests.webhooks.conftest import FAST_RETRIES, FakeReceiver, drain


def test_manage_endpoints_and_resend_dead_events(
    tenant: Tenant, receiver: FakeReceiver, database_url: str, app_settings: Settings
) -> None:
    account = str(tenant.account_id)

    def run(*args: str) -> Any:
        result = CliRunner().invoke(
            cli, ["webhooks", *args], env={"DATABASE_URL": database_url}, catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    created = run("add", account, "--url", receiver.url, "--event", "points.earned")
    assert created["secret"].startswith("whsec_")
    assert [endpoint["id"] for endpoint in run("list", account)] == [created["id"]]

    receiver.default_status = 500
    tenant.buy(tenant.register(), [payloads.position(price=1000)])
    drain(app_settings, tenant, replace(FAST_RETRIES, max_attempts=1))
    [dead] = run("deliveries", account, "--status", "dead")
    assert (dead["event_type"], dead["attempts"], dead["last_status_code"]) == (
        "points.earned",
        1,
        500,
    )

    receiver.default_status = 200
    assert run("retry", account) == {"requeued": 1}
    drain(app_settings, tenant)
    [delivered] = run("deliveries", account)
    assert delivered["status"] == "delivered" and delivered["event_id"] == dead["event_id"]
    assert len({request.headers["x-loyalty-event-id"] for request in receiver.received}) == 1

    run("delete", account, str(created["id"]))
    assert run("list", account) == []
