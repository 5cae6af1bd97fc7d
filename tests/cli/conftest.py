from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result

from loyalty.cli import cli


@pytest.fixture
def run_cli(database_url: str) -> Any:
    """Run `loyalty …` in-process against the test database."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(
            cli, list(args), env={"DATABASE_URL": database_url}, catch_exceptions=False
        )

    return invoke
