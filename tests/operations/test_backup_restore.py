"""The backup and restore procedure of docs/operations.md, run for real: pg_dump of a database
with sales and returns, pg_restore into a fresh database, then `loyalty ledger verify`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from loyalty.config import Settings
from loyalty.db.migrate import upgrade_to_head
from loyalty.main import create_app
from tests.conftest import create_tenant
from tests.operations.test_serve_process import SERVER_URL, server_reachable
from tests.support import payloads
from tests.support.database import empty_database
from tests.support.db import Database
from tests.support.locks import plain_url
from tests.support.server import LiveServer

pytestmark = pytest.mark.skipif(
    not server_reachable() or shutil.which("pg_dump") is None,
    reason="needs the PostgreSQL server on 127.0.0.1:5432 and its pg_dump/pg_restore",
)

BALANCES = (
    "SELECT c.moysklad_id, b.available_points, b.pending_points, b.debt_points, b.version"
    " FROM customer_balance b JOIN customer c"
    " ON c.account_id = b.account_id AND c.id = b.customer_id ORDER BY c.moysklad_id"
)
COUNTS = (
    "SELECT (SELECT count(*) FROM ledger_transaction) AS transactions,"
    " (SELECT count(*) FROM ledger_entry) AS entries,"
    " (SELECT count(*) FROM points_lot_movement) AS movements,"
    " (SELECT count(*) FROM sale) AS sales, (SELECT count(*) FROM sales_return) AS returns"
)


def trade(url: str) -> None:
    """A day at one shop: customers, sales with earning and spending, a partial return."""
    with LiveServer(create_app(Settings(DATABASE_URL=url, ENV="test"))) as live:
        tenant = create_tenant(Database(url), live)
        tenant.set_program(welcome_bonus_points=100, earn_percent=10)
        for _ in range(2):
            ms_id = tenant.register()
            tenant.buy(ms_id, [payloads.position(price=400)])
            sale_id, _ = tenant.buy(ms_id, [payloads.position(price=300)], spending=True)
            returned = tenant.post(
                "/retailsalesreturn",
                payloads.sales_return(
                    payloads.new_id(), sale_id, [payloads.position(price=300)], ms_id=ms_id
                ),
            )
            assert returned.status_code == 201, returned.text
        tenant.client.close()


def test_a_dump_restored_into_a_fresh_database_verifies(tmp_path: Path) -> None:
    dump = tmp_path / "loyalty.dump"
    with empty_database("backup", SERVER_URL) as source:
        upgrade_to_head(Settings(DATABASE_URL=source))
        trade(source)
        subprocess.run(
            ["pg_dump", "--format=custom", f"--file={dump}", plain_url(source)], check=True
        )
        with empty_database("restore", SERVER_URL) as target:
            subprocess.run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--exit-on-error",
                    "--single-transaction",
                    f"--dbname={plain_url(target)}",
                    str(dump),
                ],
                check=True,
            )
            verified = CliRunner().invoke(cli, ["ledger", "verify"], env={"DATABASE_URL": target})
            assert verified.exit_code == 0, verified.output
            report = json.loads(verified.stdout)
            assert report["ok"] and report["violations"] == []
            original, restored = Database(source), Database(target)
            assert restored.fetch(COUNTS) == original.fetch(COUNTS)
            assert restored.fetch(BALANCES) == original.fetch(BALANCES)
            assert len(restored.fetch(BALANCES)) == 2
            # The restored copy is a working database: the ledger is still append-only.
            with pytest.raises(Exception, match="ledger_entry is append-only: DELETE refused"):
                restored.fetch("DELETE FROM ledger_entry RETURNING id")
