"""`loyalty descriptor` and `loyalty moysklad …`: the solution from an operator's side."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.catalogue import service as catalogue_service
from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.errors import DomainError
from loyalty.config import load_settings
from loyalty.connection import service as connection_service
from loyalty.db.migrate import resolve_database_url
from loyalty.moysklad.crypto import generate_key
from loyalty.moysklad.runtime import MoySkladRuntime, standalone_runtime
from loyalty.vendor import repository
from loyalty.vendor import service as vendor_service
from loyalty.vendor.descriptor import build_descriptor

T = TypeVar("T")


@click.command("descriptor")
@click.option(
    "--public-url",
    envvar="LOYALTY_PUBLIC_BASE_URL",
    required=True,
    help="Where MoySklad reaches this service, e.g. https://loyalty.example.com.",
)
def descriptor(public_url: str) -> None:
    """Print the solution descriptor (XML v2) for MoySklad's developer cabinet."""
    try:
        click.echo(build_descriptor(public_url), nl=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--public-url") from exc


@click.group("moysklad")
def moysklad_group() -> None:
    """The MoySklad solution: installations, catalogue, connection to the tills."""


def _with_runtime(work: Callable[[MoySkladRuntime], Awaitable[T]]) -> T:
    settings = resolve_database_url(load_settings())

    async def main() -> T:
        async with standalone_runtime(settings) as runtime:
            return await work(runtime)

    try:
        return asyncio.run(main())
    except DomainError as error:
        failure = {"error": error.title, "code": error.code, "error_message": error.message}
        click.echo(json.dumps(failure, ensure_ascii=False), err=True)
        sys.exit(1)


@moysklad_group.command("sync")
@click.argument("account_id")
def sync(account_id: str) -> None:
    """Load the account's retail stores, product folders and products from MoySklad now."""
    account_uuid = parse_uuid(account_id)
    result = _with_runtime(lambda runtime: catalogue_service.sync_catalogue(runtime, account_uuid))
    emit({"id": account_id, **asdict(result)})


@moysklad_group.command("connect")
@click.argument("account_id")
@click.option("--rotate", is_flag=True, help="Send a new till token even when connected.")
def connect(account_id: str, rotate: bool) -> None:
    """Send MoySklad the loyalty URL and a till token, then report `Activated`."""
    account_uuid = parse_uuid(account_id)

    async def work(runtime: MoySkladRuntime) -> connection_service.ConnectionOutcome:
        outcome = await connection_service.connect(
            runtime, account_uuid, rotate=rotate, interactive=False
        )
        if outcome.retry_after_seconds is not None:
            await connection_service.schedule_retry(
                runtime, account_uuid, outcome.retry_after_seconds
            )
        return outcome

    outcome = _with_runtime(work)
    emit({"id": account_id, **asdict(outcome)})
    if outcome.state != "connected":
        sys.exit(1)


@moysklad_group.command("status")
@click.argument("account_id")
def status(account_id: str) -> None:
    """The installation as we know it (no secrets)."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        row = await repository.get_installation(session, account_uuid)
        if row is None:
            emit({"id": account_id, "installed": False})
            return
        data: dict[str, Any] = dict(row._mapping)
        for secret in ("access_token_ciphertext", "pending_till_token_ciphertext"):
            data[secret.removesuffix("_ciphertext") + "_stored"] = data.pop(secret) is not None
        emit({"id": account_id, "installed": True, **data})

    run_in_transaction(work)


@moysklad_group.command("purge")
def purge() -> None:
    """Erase the data of accounts uninstalled longer ago than the retention period."""

    async def work(runtime: MoySkladRuntime) -> list[uuid.UUID]:
        async with runtime.transaction() as session:
            return await vendor_service.purge_expired(session, runtime.clock.now())

    emit({"purged": [str(account) for account in _with_runtime(work)]})


@moysklad_group.command("generate-key")
def generate_key_command() -> None:
    """Print a new key for LOYALTY_MOYSKLAD_TOKEN_ENCRYPTION_KEYS."""
    click.echo(generate_key())


@moysklad_group.command("reencrypt")
def reencrypt() -> None:
    """Re-encrypt stored MoySklad tokens with the first configured key (after rotation)."""

    async def work(runtime: MoySkladRuntime) -> int:
        async with runtime.transaction() as session:
            return await repository.reencrypt_tokens(session, runtime.cipher)

    emit({"reencrypted": _with_runtime(work)})
