"""Shared plumbing for the `loyalty` command line: one transaction per command, JSON output."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common import crypto
from loyalty.common.errors import DomainError
from loyalty.config import load_settings
from loyalty.db.engine import make_engine, make_sessionmaker
from loyalty.db.migrate import resolve_database_url

T = TypeVar("T")


def emit(payload: Any) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction; a domain error exits 1 with JSON on stderr."""
    settings = resolve_database_url(load_settings())
    crypto.install(settings)

    async def main() -> T:
        engine = make_engine(settings, pooled=False)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        click.echo(
            json.dumps(
                {"error": error.title, "code": error.code, "error_message": error.message},
                ensure_ascii=False,
            ),
            err=True,
        )
        sys.exit(1)


def parse_uuid(value: str, what: str = "ACCOUNT_ID") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be a UUID") from exc


def optional_int(value: str | None, name: str) -> int | str | None:
    """`N` or `none`; returns the sentinel "unset" when the option was not given."""
    if value is None:
        return "unset"
    if value.strip().lower() == "none":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise click.BadParameter(f"{name} takes a whole number or 'none'") from exc
