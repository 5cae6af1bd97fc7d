"""GET /healthz (the process) and GET /readyz (database reachable, schema at head), and the
container probe that calls them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from loyalty.config import Settings
from loyalty.db.migrate import current_heads, upgrade_to_head
from loyalty.health.service import migration_state
from loyalty.main import create_app
from tests.support.database import empty_database
from tests.support.db import Database
from tests.support.server import LiveServer, free_port


@pytest.fixture
def bare_database() -> Iterator[str]:
    with empty_database("readiness") as url:
        yield url


def serve(url: str) -> LiveServer:
    return LiveServer(create_app(Settings(DATABASE_URL=url, ENV="test")))


def probe(port: int, path: str = "/healthz") -> int:
    completed = subprocess.run(
        [sys.executable, "-m", "loyalty.health.probe", "--port", str(port), "--path", path],
        capture_output=True,
        timeout=30,
    )
    return completed.returncode


def port_of(live: LiveServer) -> int:
    return int(live.base_url.rsplit(":", 1)[1])


class TestLiveness:
    def test_needs_no_token_and_no_database(self) -> None:
        with serve(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing") as live:
            response = httpx.get(f"{live.base_url}/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}


class TestReadiness:
    def test_ready_when_the_schema_is_at_head(self, server: LiveServer) -> None:
        response = httpx.get(f"{server.base_url}/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready" and body["migrations"] == "at head"
        assert set(body["database_revisions"]) == current_heads() == set(body["code_revisions"])

    def test_not_ready_until_migrated_then_ready(self, bare_database: str) -> None:
        with serve(bare_database) as live:
            before = httpx.get(f"{live.base_url}/readyz")
            upgrade_to_head(Settings(DATABASE_URL=bare_database))
            after = httpx.get(f"{live.base_url}/readyz")
        assert before.status_code == 503
        assert before.json() | {"code_revisions": []} == {
            "status": "unavailable",
            "database": "ok",
            "migrations": "not migrated",
            "database_revisions": [],
            "code_revisions": [],
        }
        assert after.status_code == 200 and after.json()["migrations"] == "at head"

    def test_a_database_migrated_by_a_newer_release_is_still_ready(
        self, bare_database: str
    ) -> None:
        # Upgrades migrate first; the previous release keeps serving on the newer schema.
        upgrade_to_head(Settings(DATABASE_URL=bare_database))
        Database(bare_database).fetch(
            "UPDATE alembic_version SET version_num = '9999' RETURNING version_num"
        )
        with serve(bare_database) as live:
            response = httpx.get(f"{live.base_url}/readyz")
        assert response.status_code == 200
        assert response.json()["migrations"] == "ahead"
        assert response.json()["database_revisions"] == ["9999"]

    def test_not_ready_when_the_database_is_unreachable(self) -> None:
        with serve(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing") as live:
            response = httpx.get(f"{live.base_url}/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable" and body["database"].startswith("unavailable: ")
        assert "127.0.0.1" not in body["database"], "a public probe names no addresses"

    @pytest.mark.parametrize(
        ("database", "state"),
        [
            ({"0002"}, "at head"),
            ({"0001"}, "behind"),
            (set(), "not migrated"),
            ({"abcd"}, "ahead"),
        ],
    )
    def test_migration_state(self, database: set[str], state: str) -> None:
        heads, known = frozenset({"0002"}), frozenset({"0001", "0002"})
        assert migration_state(database, heads, known) == state


class TestContainerProbe:
    def test_exits_zero_only_when_the_endpoint_answers_200(self, bare_database: str) -> None:
        with serve(bare_database) as live:
            codes = (probe(port_of(live)), probe(port_of(live), "/readyz"))
        assert codes == (0, 1)  # alive, but not migrated
        assert probe(free_port()) == 1
