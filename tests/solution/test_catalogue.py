"""Retail stores, product folders and products mirrored from the JSON API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from loyalty.cli import cli
from tests.solution.conftest import (
    APP_ID,
    APP_UID,
    ENCRYPTION_KEY,
    SECRET_KEY,
    account_of,
    installation,
    wait_for,
)
from tests.support.db import Database
from tests.support.fake_moysklad import APPS_API, JSON_API, FakeMoySklad
from tests.support.server import LiveServer


@pytest.fixture
def run_cli(database_url: str, fake_moysklad: FakeMoySklad) -> Any:
    runner = CliRunner()
    env = {
        "DATABASE_URL": database_url,
        "LOYALTY_MOYSKLAD_APP_ID": APP_ID,
        "LOYALTY_MOYSKLAD_APP_UID": APP_UID,
        "LOYALTY_MOYSKLAD_SECRET_KEY": SECRET_KEY,
        "LOYALTY_MOYSKLAD_TOKEN_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "LOYALTY_MOYSKLAD_APPS_API_URL": fake_moysklad.base_url + APPS_API,
        "LOYALTY_MOYSKLAD_JSON_API_URL": fake_moysklad.base_url + JSON_API,
        "LOYALTY_MOYSKLAD_RETRY_BASE_SECONDS": "0.05",
    }

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def products(db: Database, moysklad_account_id: str) -> dict[str, dict[str, Any]]:
    rows = db.fetch(
        "SELECT id, kind, name, folder_id, path_name, product_id FROM moysklad_product"
        " WHERE account_id = :a",
        a=account_of(db, moysklad_account_id),
    )
    return {row["id"]: row for row in rows}


def test_the_catalogue_arrives_after_install(
    db: Database, fake_moysklad: FakeMoySklad, installed: str
) -> None:
    wait_for(lambda: installation(db, installed)["catalogue_synced_at"])
    source = fake_moysklad.catalogues[installed]
    mirrored = products(db, installed)
    first = source["product"][0]
    folder_id = first["productFolder"]["meta"]["href"].rsplit("/", 1)[-1]
    assert mirrored[first["id"]]["folder_id"] == folder_id
    assert mirrored[first["id"]]["path_name"] == first["pathName"]
    variant = source["variant"][0]
    # A variant sells under its product's folder.
    assert mirrored[variant["id"]]["kind"] == "variant"
    assert mirrored[variant["id"]]["product_id"] == first["id"]
    assert mirrored[variant["id"]]["folder_id"] == folder_id
    assert mirrored[source["service"][0]["id"]]["kind"] == "service"
    folders = db.fetch(
        "SELECT id, parent_id FROM moysklad_product_folder WHERE account_id = :a",
        a=account_of(db, installed),
    )
    assert {row["id"]: row["parent_id"] for row in folders} == {
        source["productfolder"][0]["id"]: None,
        source["productfolder"][1]["id"]: source["productfolder"][0]["id"],
    }


def test_sync_on_demand_follows_changes_in_moysklad(
    run_cli: Any, db: Database, fake_moysklad: FakeMoySklad, installed: str
) -> None:
    wait_for(lambda: installation(db, installed)["catalogue_synced_at"])
    catalogue = fake_moysklad.catalogues[installed]
    removed = catalogue["product"].pop()
    catalogue["product"][0]["name"] = "Капучино 0,3"
    catalogue["retailstore"].append({"id": "0b5f6d9e-1111-4a3c-9c1e-000000000001", "name": "Новая"})
    result = run_cli("moysklad", "sync", str(account_of(db, installed)))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["retail_stores"] == 3 and summary["removed"] >= 1
    mirrored = products(db, installed)
    assert removed["id"] not in mirrored
    assert mirrored[catalogue["product"][0]["id"]]["name"] == "Капучино 0,3"


def test_a_suspended_account_cannot_be_synced(
    run_cli: Any, solution: LiveServer, db: Database, fake_moysklad: FakeMoySklad, installed: str
) -> None:
    fake_moysklad.suspend(solution.base_url, installed)
    result = run_cli("moysklad", "sync", str(account_of(db, installed)))
    assert result.exit_code == 1
    assert json.loads(result.stderr)["code"] == 41270


def test_status_shows_no_secrets(run_cli: Any, db: Database, installed: str) -> None:
    result = run_cli("moysklad", "status", str(account_of(db, installed)))
    shown = json.loads(result.stdout)
    assert shown["status"] == "SettingsRequired" and shown["access_token_stored"] is True
    assert "access_token_ciphertext" not in shown


def test_stored_tokens_can_be_reencrypted_under_a_new_key(
    run_cli: Any, db: Database, installed: str
) -> None:
    from cryptography.fernet import Fernet

    from tests.solution.conftest import decrypt

    before = bytes(installation(db, installed)["access_token_ciphertext"])
    new_key = Fernet.generate_key().decode()

    def reencrypt(keys: str) -> None:
        result = CliRunner().invoke(
            cli,
            ["moysklad", "reencrypt"],
            env={"DATABASE_URL": db.url, "LOYALTY_MOYSKLAD_TOKEN_ENCRYPTION_KEYS": keys},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output

    reencrypt(f"{new_key},{ENCRYPTION_KEY}")
    after = bytes(installation(db, installed)["access_token_ciphertext"])
    assert after != before
    assert Fernet(new_key.encode()).decrypt(after).decode() == decrypt(before)
    reencrypt(f"{ENCRYPTION_KEY},{new_key}")  # back, for the server of the other tests
    assert decrypt(bytes(installation(db, installed)["access_token_ciphertext"])) == decrypt(before)
