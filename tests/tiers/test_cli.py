"""`loyalty program tiers …` and `loyalty program category-rules …`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from loyalty.cli import cli
from tests.conftest import Tenant
from tests.support import payloads


@pytest.fixture
def run_cli(database_url: str) -> Any:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(
            cli, list(args), env={"DATABASE_URL": database_url}, catch_exceptions=False
        )

    return invoke


def write(tmp_path: Path, body: Any) -> str:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body, ensure_ascii=False) if not isinstance(body, str) else body)
    return str(path)


def test_tiers_set_show_and_audit(run_cli: Any, tenant: Tenant, tmp_path: Path) -> None:
    account = str(tenant.account_id)
    body = (
        '{"windowMonths": 6, "items": ['
        '{"name": "Старт", "thresholdMinor": 0, "earnPercent": 2.5, "maxSpendPercent": 10},'
        '{"name": "Плюс", "thresholdMinor": 300000, "earnPercent": 7.25, "maxSpendPercent": 40}]}'
    )
    result = run_cli("program", "tiers", "set", account, "--file", write(tmp_path, body))
    assert result.exit_code == 0, result.output
    expected = {
        "windowMonths": 6,
        "items": [
            {"name": "Старт", "thresholdMinor": 0, "earnPercent": "2.5", "maxSpendPercent": "10"},
            {
                "name": "Плюс",
                "thresholdMinor": 300000,
                "earnPercent": "7.25",
                "maxSpendPercent": "40",
            },
        ],
    }
    assert json.loads(result.output) == expected
    shown = run_cli("program", "tiers", "show", account)
    assert json.loads(shown.output) == expected
    actors = tenant.db.fetch(
        "SELECT actor, action FROM audit_log WHERE account_id = :a", a=tenant.account_id
    )
    assert actors == [{"actor": "cli", "action": "program.tiers.update"}]
    evaluated = run_cli("program", "tiers", "reevaluate", account)
    assert json.loads(evaluated.output) == {"evaluated": {account: 0}}


def test_tiers_set_refuses_bad_files(run_cli: Any, tenant: Tenant, tmp_path: Path) -> None:
    account = str(tenant.account_id)
    decreasing = {
        "items": [
            {"name": "A", "thresholdMinor": 10, "earnPercent": 1, "maxSpendPercent": 1},
            {"name": "B", "thresholdMinor": 5, "earnPercent": 1, "maxSpendPercent": 1},
        ]
    }
    refused = run_cli("program", "tiers", "set", account, "--file", write(tmp_path, decreasing))
    assert refused.exit_code == 1
    assert "items[1].thresholdMinor" in refused.output
    broken = run_cli("program", "tiers", "set", account, "--file", write(tmp_path, "{nope"))
    assert broken.exit_code == 2
    assert json.loads(run_cli("program", "tiers", "show", account).output)["items"] == []


def test_category_rules_set_and_show(run_cli: Any, tenant: Tenant, tmp_path: Path) -> None:
    account = str(tenant.account_id)
    body = {"items": [{"target": "folder", "id": "f-1", "noSpend": True}]}
    result = run_cli("program", "category-rules", "set", account, "--file", write(tmp_path, body))
    assert result.exit_code == 0, result.output
    expected = {
        "items": [
            {"target": "folder", "id": "f-1", "earnPercent": None, "noEarn": False, "noSpend": True}
        ]
    }
    assert json.loads(result.output) == expected
    assert json.loads(run_cli("program", "category-rules", "show", account).output) == expected


def test_reevaluate_without_an_account_covers_every_account_due(
    run_cli: Any, tenant: Tenant, tmp_path: Path
) -> None:
    account = str(tenant.account_id)
    tier = {"name": "Первый", "thresholdMinor": 0, "earnPercent": 1, "maxSpendPercent": 1}
    run_cli("program", "tiers", "set", account, "--file", write(tmp_path, {"items": [tier]}))
    customer = tenant.register()
    tenant.buy(customer, [payloads.position(quantity=1, price=100)])
    renamed = {"items": [tier | {"name": "Второй"}]}
    run_cli("program", "tiers", "set", account, "--file", write(tmp_path, renamed))
    result = run_cli("program", "tiers", "reevaluate")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["evaluated"][account] == 1
    history = tenant.db.fetch(
        "SELECT from_tier, to_tier, reason FROM customer_tier_change WHERE account_id = :a"
        " ORDER BY id",
        a=tenant.account_id,
    )
    assert history[-1] == {"from_tier": "Первый", "to_tier": "Второй", "reason": "program"}
