"""Mirror an account's retail stores, product folders and products from the JSON API.

Each page of 1000 rows is upserted in its own short transaction (no transaction stays open
while MoySklad answers); rows a complete listing no longer returns are deleted afterwards.
Variants take their product's folder, so a receipt position maps to a folder in one lookup.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loyalty.accounts import repository as accounts_repository
from loyalty.catalogue import repository
from loyalty.common.errors import DomainError
from loyalty.models import moysklad_product, moysklad_product_folder, moysklad_retail_store
from loyalty.moysklad.errors import NoJsonApiAccess
from loyalty.moysklad.runtime import MoySkladRuntime
from loyalty.program.errors import AccountNotFound
from loyalty.vendor import repository as vendor_repository

logger = logging.getLogger("loyalty.catalogue")

# Folders before products only for readability of the log; nothing depends on the order
# except variants, which must come after the products whose folder they inherit.
PRODUCT_ENTITIES = ("product", "service", "bundle", "variant")


@dataclass(frozen=True)
class SyncResult:
    retail_stores: int
    product_folders: int
    products: int
    removed: int


def id_from_href(href: str | None) -> str | None:
    """…/entity/productfolder/<uuid>?expand=… → <uuid>."""
    if not href:
        return None
    tail = href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def _reference(row: dict[str, Any], field: str) -> str | None:
    value = row.get(field)
    meta = value.get("meta") if isinstance(value, dict) else None
    return id_from_href(meta.get("href")) if isinstance(meta, dict) else None


def store_row(account_id: uuid.UUID, row: dict[str, Any], synced_at: datetime) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "id": str(row["id"]),
        "name": str(row.get("name") or ""),
        "active": bool(row.get("active", True)) and not bool(row.get("archived", False)),
        "synced_at": synced_at,
    }


def folder_row(account_id: uuid.UUID, row: dict[str, Any], synced_at: datetime) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "id": str(row["id"]),
        "name": str(row.get("name") or ""),
        "path_name": str(row.get("pathName") or ""),
        "parent_id": _reference(row, "productFolder"),
        "synced_at": synced_at,
    }


def product_row(
    account_id: uuid.UUID, kind: str, row: dict[str, Any], synced_at: datetime
) -> dict[str, Any]:
    variant_of = _reference(row, "product") if kind == "variant" else None
    return {
        "account_id": account_id,
        "id": str(row["id"]),
        "kind": kind,
        "name": str(row.get("name") or ""),
        "path_name": str(row.get("pathName") or ""),
        "folder_id": None if kind == "variant" else _reference(row, "productFolder"),
        "product_id": variant_of,
        "synced_at": synced_at,
    }


async def sync_catalogue(runtime: MoySkladRuntime, account_id: uuid.UUID) -> SyncResult:
    started_at = runtime.clock.now()
    access_token = await _access_token(runtime, account_id)
    removed = 0
    try:
        removed += await _mirror(
            runtime,
            account_id,
            "entity/retailstore",
            moysklad_retail_store,
            lambda row: store_row(account_id, row, started_at),
            access_token,
            started_at,
        )
        removed += await _mirror(
            runtime,
            account_id,
            "entity/productfolder",
            moysklad_product_folder,
            lambda row: folder_row(account_id, row, started_at),
            access_token,
            started_at,
        )
        for kind in PRODUCT_ENTITIES:
            removed += await _mirror(
                runtime,
                account_id,
                f"entity/{kind}",
                moysklad_product,
                lambda row, kind=kind: product_row(account_id, kind, row, started_at),
                access_token,
                started_at,
                kind=kind,
            )
    except DomainError as error:
        async with runtime.transaction() as session:
            await vendor_repository.update_installation(
                session, account_id, catalogue_sync_error=error.message[:2000]
            )
        raise
    async with runtime.transaction() as session:
        await repository.inherit_variant_folders(session, account_id)
        await vendor_repository.update_installation(
            session, account_id, catalogue_synced_at=runtime.clock.now(), catalogue_sync_error=None
        )
        counts = await repository.counts(session, account_id)
    logger.info("catalogue synced", extra={"account_id": str(account_id), **counts})
    return SyncResult(**counts, removed=removed)


async def _access_token(runtime: MoySkladRuntime, account_id: uuid.UUID) -> str:
    async with runtime.transaction() as session:
        account = await accounts_repository.get_account(session, account_id)
        if account is None:
            raise AccountNotFound(account_id)
        installation = await vendor_repository.get_installation(session, account_id)
    if (
        account.status != "active"
        or installation is None
        or installation.access_token_ciphertext is None
    ):
        raise NoJsonApiAccess()
    return runtime.cipher.decrypt(installation.access_token_ciphertext)


async def _mirror(
    runtime: MoySkladRuntime,
    account_id: uuid.UUID,
    path: str,
    table: sa.Table,
    to_row: Any,
    access_token: str,
    started_at: datetime,
    *,
    kind: str | None = None,
) -> int:
    async for page in runtime.client.iterate_rows(
        path, access_token=access_token, throttle_key=str(account_id)
    ):
        rows = [to_row(row) for row in page if row.get("id")]
        async with runtime.transaction() as session:
            await repository.upsert(session, table, rows)
    async with runtime.transaction() as session:
        return await repository.delete_unseen(session, table, account_id, started_at, kind=kind)
