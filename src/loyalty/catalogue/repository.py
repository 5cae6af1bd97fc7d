"""The catalogue mirrored from MoySklad: retail stores, product folders and products."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.models import moysklad_product, moysklad_product_folder, moysklad_retail_store

CATALOGUE_TABLES = (moysklad_retail_store, moysklad_product_folder, moysklad_product)


async def upsert(session: AsyncSession, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert or refresh a page of rows. `synced_at` never moves backwards, so two syncs of
    one account that overlap cannot make the older one delete what the newer one saw."""
    if not rows:
        return
    statement = pg_insert(table).values(rows)
    refreshed: dict[str, Any] = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in ("account_id", "id", "synced_at")
    }
    refreshed["synced_at"] = sa.func.greatest(table.c.synced_at, statement.excluded.synced_at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.account_id, table.c.id], set_=refreshed
        )
    )


async def delete_unseen(
    session: AsyncSession,
    table: sa.Table,
    account_id: uuid.UUID,
    seen_since: datetime,
    *,
    kind: str | None = None,
) -> int:
    """Rows a complete listing did not return any more: deleted or archived in MoySklad."""
    conditions = [table.c.account_id == account_id, table.c.synced_at < seen_since]
    if kind is not None:
        conditions.append(table.c.kind == kind)
    result = await session.execute(sa.delete(table).where(*conditions))
    return int(getattr(result, "rowcount", 0) or 0)


async def inherit_variant_folders(session: AsyncSession, account_id: uuid.UUID) -> None:
    """A variant sells under its product's folder: copy it so a position needs one lookup."""
    parent = moysklad_product.alias("parent")
    await session.execute(
        sa.update(moysklad_product)
        .where(
            moysklad_product.c.account_id == account_id,
            moysklad_product.c.kind == "variant",
            parent.c.account_id == moysklad_product.c.account_id,
            parent.c.id == moysklad_product.c.product_id,
        )
        .values(folder_id=parent.c.folder_id, path_name=parent.c.path_name)
    )


async def counts(session: AsyncSession, account_id: uuid.UUID) -> dict[str, int]:
    row = (
        await session.execute(
            sa.select(
                *(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.account_id == account_id)
                    .scalar_subquery()
                    .label(table.name)
                    for table in CATALOGUE_TABLES
                )
            )
        )
    ).one()
    return {
        "retail_stores": int(row.moysklad_retail_store),
        "product_folders": int(row.moysklad_product_folder),
        "products": int(row.moysklad_product),
    }


async def find_product(session: AsyncSession, account_id: uuid.UUID, assortment_id: str) -> Any:
    """A receipt position's assortment id → its kind, name, folder and folder path."""
    return (
        await session.execute(
            sa.select(moysklad_product).where(
                moysklad_product.c.account_id == account_id,
                moysklad_product.c.id == assortment_id,
            )
        )
    ).one_or_none()


async def delete_for_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    for table in CATALOGUE_TABLES:
        await session.execute(sa.delete(table).where(table.c.account_id == account_id))
