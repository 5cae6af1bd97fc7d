"""Category rules storage and resolution of a receipt's positions to their rules."""

from __future__ import annotations

import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.category_rules.schemas import CategoryRule, Effect, Target
from loyalty.models import category_rule

# Folder trees are shallow in practice; the bound only guards against a cycle in synced data.
MAX_FOLDER_DEPTH = 64

# One round trip: each assortment's own rule, its product's (for variants), then the rules of
# its folder and the folders above it; the nearest wins.
_RESOLVE = sa.text(
    """
    WITH RECURSIVE folders(assortment_id, folder_id, depth) AS (
        SELECT p.id, p.folder_id, 2
          FROM moysklad_product p
         WHERE p.account_id = :account_id AND p.id = ANY(:ids) AND p.folder_id IS NOT NULL
        UNION ALL
        SELECT f.assortment_id, pf.parent_id, f.depth + 1
          FROM folders f
          JOIN moysklad_product_folder pf
            ON pf.account_id = :account_id AND pf.id = f.folder_id
         WHERE pf.parent_id IS NOT NULL AND f.depth < :max_depth
    ),
    candidates(assortment_id, target_kind, target_id, depth) AS (
        SELECT id, 'product', id, 0 FROM unnest(CAST(:ids AS text[])) AS id
        UNION ALL
        SELECT p.id, 'product', p.product_id, 1
          FROM moysklad_product p
         WHERE p.account_id = :account_id AND p.id = ANY(:ids) AND p.product_id IS NOT NULL
        UNION ALL
        SELECT assortment_id, 'folder', folder_id, depth FROM folders
    )
    SELECT DISTINCT ON (c.assortment_id)
           c.assortment_id, r.earn_percent, r.no_earn, r.no_spend
      FROM candidates c
      JOIN category_rule r
        ON r.account_id = :account_id
       AND r.target_kind = c.target_kind
       AND r.target_id = c.target_id
     ORDER BY c.assortment_id, c.depth
    """
)


async def effects_for(
    session: AsyncSession, account_id: uuid.UUID, assortment_ids: list[str]
) -> dict[str, Effect]:
    if not assortment_ids:
        return {}
    rows = await session.execute(
        _RESOLVE,
        {
            "account_id": account_id,
            "ids": sorted(set(assortment_ids)),
            "max_depth": MAX_FOLDER_DEPTH,
        },
    )
    return {
        row.assortment_id: Effect(
            earn_percent=None if row.earn_percent is None else Decimal(row.earn_percent),
            no_earn=row.no_earn,
            no_spend=row.no_spend,
        )
        for row in rows
    }


async def list_rules(session: AsyncSession, account_id: uuid.UUID) -> list[CategoryRule]:
    rows = await session.execute(
        sa.select(category_rule)
        .where(category_rule.c.account_id == account_id)
        .order_by(category_rule.c.target_kind, category_rule.c.target_id)
    )
    return [
        CategoryRule(
            Target(row.target_kind),
            row.target_id,
            Effect(row.earn_percent, row.no_earn, row.no_spend),
        )
        for row in rows
    ]


async def replace_rules(
    session: AsyncSession, account_id: uuid.UUID, rules: list[CategoryRule]
) -> None:
    await session.execute(sa.delete(category_rule).where(category_rule.c.account_id == account_id))
    if rules:
        await session.execute(
            sa.insert(category_rule),
            [
                {
                    "account_id": account_id,
                    "target_kind": rule.target.value,
                    "target_id": rule.target_id,
                    "earn_percent": rule.effect.earn_percent,
                    "no_earn": rule.effect.no_earn,
                    "no_spend": rule.effect.no_spend,
                }
                for rule in rules
            ],
        )
