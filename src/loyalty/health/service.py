"""Readiness: the database answers and its schema is one this release can run on.

A database *ahead* of the code is ready too: upgrades run migrations before the new release
starts, and every migration stays compatible with the previous release, so the old instances
keep serving until they are replaced (docs/operations.md, "Upgrading").
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache

from sqlalchemy.ext.asyncio import AsyncEngine

from loyalty.db.migrate import alembic_config
from loyalty.health import repository
from loyalty.health.schemas import Readiness

logger = logging.getLogger("loyalty.health")

READINESS_TIMEOUT_SECONDS = 2.0


@cache
def code_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every revision) of the migrations shipped with this release; read once."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = frozenset(revision.revision for revision in script.walk_revisions())
    return frozenset(script.get_heads()), known


def migration_state(database: set[str], heads: frozenset[str], known: frozenset[str]) -> str:
    if database == heads:
        return "at head"
    if database and not database & known:
        return "ahead"
    if not database:
        return "not migrated"
    return "behind"


async def check_readiness(engine: AsyncEngine) -> Readiness:
    heads, known = code_revisions()
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS), engine.connect() as connection:
            database = await repository.database_revisions(connection)
    except Exception as exc:  # whatever the driver raises, the answer is "not ready"
        logger.warning("readiness: database unavailable", extra={"error_type": type(exc).__name__})
        return Readiness(
            status="unavailable",
            database=f"unavailable: {type(exc).__name__}",
            migrations="unknown",
            database_revisions=[],
            code_revisions=sorted(heads),
        )
    state = migration_state(database, heads, known)
    return Readiness(
        status="ready" if state in ("at head", "ahead") else "unavailable",
        database="ok",
        migrations=state,
        database_revisions=sorted(database),
        code_revisions=sorted(heads),
    )
