"""What readiness asks PostgreSQL: is it there, and which migration is it at."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def database_revisions(connection: AsyncConnection) -> set[str]:
    """Alembic's recorded revisions; empty when the database was never migrated."""
    exists = await connection.scalar(sa.text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return set()
    rows = await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
    return {str(row[0]) for row in rows}
