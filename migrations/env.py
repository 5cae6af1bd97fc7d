"""Alembic environment: async engine from Settings; the same code path as `loyalty db upgrade`."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from loyalty.config import load_settings
from loyalty.db.engine import make_engine
from loyalty.db.migrate import MIGRATION_ONLY_INDEXES, resolve_database_url
from loyalty.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Indexes that need extensions or expressions autogenerate cannot compare are owned by
    # migrations alone.
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    settings = load_settings()
    settings = resolve_database_url(settings)
    engine = make_engine(settings, pooled=False)
    async with engine.connect() as async_connection:
        await async_connection.run_sync(do_run_migrations)
        await async_connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline SQL generation is not supported; run against a database.")
asyncio.run(run_async_migrations())
