"""Test databases: the embedded server by default, or any server named by TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from loyalty.config import Settings
from loyalty.db.embedded import start_embedded
from loyalty.db.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parents[2]


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, database: str) -> str:
    """Replace the database name in a URL, keeping socket and port parameters."""
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{tail}" if tail else "")


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def empty_database(label: str, server_url: str | None = None) -> Iterator[str]:
    """Create an empty, unmigrated database on `server_url` (else the test server); drop it
    afterwards."""
    server_url = server_url or os.environ.get("TEST_DATABASE_URL")
    if server_url:
        admin_url = Settings(DATABASE_URL=server_url).require_database_url()
    else:
        admin_url = start_embedded(ROOT / "var" / "test-postgres", database="postgres")
    name = f"loyalty_test_{label}_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(admin_url, name)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """Create a fresh, migrated database on the test server; drop it afterwards."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        admin_url = Settings(DATABASE_URL=server_url).require_database_url()
    else:
        admin_url = start_embedded(ROOT / "var" / "test-postgres", database="postgres")
    with fresh_database_on(admin_url, label) as url:
        yield url


@contextmanager
def fresh_database_on(admin_url: str, label: str) -> Iterator[str]:
    """Create a fresh, migrated database on the server of `admin_url`; drop it afterwards."""
    name = f"loyalty_test_{label}_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = _with_database(admin_url, name)
    try:
        upgrade_to_head(Settings(DATABASE_URL=url))
        yield url
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
