"""Migrations run both ways and match the models exactly."""

from __future__ import annotations

import pytest
from alembic import command

from loyalty.db.migrate import alembic_config, current_heads
from tests.support.database import fresh_database


def test_upgrade_check_downgrade_upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_database("migrations") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        config = alembic_config()
        command.check(config)  # models and migrated schema agree
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        command.check(config)


def test_single_head() -> None:
    assert len(current_heads()) == 1
