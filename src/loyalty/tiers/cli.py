"""`loyalty program tiers …` and `loyalty program category-rules …`"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.category_rules import service as category_rules_service
from loyalty.category_rules.router import RulesIn
from loyalty.category_rules.schemas import CategoryRule, Effect, Target
from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.clock import Clock
from loyalty.tiers import repository, service
from loyalty.tiers.router import TiersIn
from loyalty.tiers.schemas import Tier

CLI_ACTOR = "cli"

ModelT = TypeVar("ModelT", bound=BaseModel)


def _load(path: Path, model: type[ModelT]) -> ModelT:
    try:
        # Decimals, not floats: percents stay exact.
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        return model.model_validate(data)
    except (OSError, ValueError) as error:
        if isinstance(error, ValidationError):
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise click.BadParameter(f"{where}: {first['msg']}", param_hint="--file") from error
        raise click.BadParameter(str(error), param_hint="--file") from error


@click.group("tiers")
def tiers_group() -> None:
    """Tiers (levels) by purchases over a rolling window of months."""


@tiers_group.command("show")
@click.argument("account_id")
def show_tiers(account_id: str) -> None:
    """Print the tiers as JSON (the body of PUT /api/v1/program/tiers)."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        emit((await service.get_tier_program(session, account_uuid)).as_json())

    run_in_transaction(work)


@tiers_group.command("set")
@click.argument("account_id")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help='JSON: {"windowMonths": 12, "items": [{"name", "thresholdMinor", "earnPercent", '
    '"maxSpendPercent"}]}',
)
def set_tiers(account_id: str, path: Path) -> None:
    """Replace the tiers (audited); prints them."""
    account_uuid = parse_uuid(account_id)
    body = _load(path, TiersIn)

    async def work(session: AsyncSession) -> None:
        program = await service.set_tier_program(
            session,
            account_uuid,
            window_months=body.windowMonths,
            tiers=[
                Tier(item.name, item.thresholdMinor, item.earnPercent, item.maxSpendPercent)
                for item in body.items
            ],
            actor=CLI_ACTOR,
            now=Clock().now(),
        )
        emit(program.as_json())

    run_in_transaction(work)


@tiers_group.command("reevaluate")
@click.argument("account_id", required=False)
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
def reevaluate(account_id: str | None, batch_size: int) -> None:
    """Re-derive the tiers of customers whose window slid or whose tiers changed: of one
    account, or of every account with such customers. Each batch is its own transaction."""
    now = Clock().now()
    if account_id is not None:
        accounts = [parse_uuid(account_id)]
    else:

        async def due(session: AsyncSession) -> list[uuid.UUID]:
            return await repository.accounts_due(session, now)

        accounts = run_in_transaction(due)
    evaluated: dict[str, int] = {}
    for account_uuid in accounts:
        total = 0
        while True:

            async def work(session: AsyncSession, account_uuid: uuid.UUID = account_uuid) -> int:
                return await service.reevaluate_tiers(session, account_uuid, now, batch_size)

            done = run_in_transaction(work)
            total += done
            if done == 0:
                break
        evaluated[str(account_uuid)] = total
    emit({"evaluated": evaluated})


@click.group("category-rules")
def category_rules_group() -> None:
    """Earn percent and exclusions per product folder or product."""


def _rules_json(rules: list[CategoryRule]) -> dict[str, Any]:
    return {"items": [rule.as_json() for rule in rules]}


@category_rules_group.command("show")
@click.argument("account_id")
def show_rules(account_id: str) -> None:
    """Print the category rules as JSON."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        emit(_rules_json(await category_rules_service.list_rules(session, account_uuid)))

    run_in_transaction(work)


@category_rules_group.command("set")
@click.argument("account_id")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help='JSON: {"items": [{"target": "folder"|"product", "id", "earnPercent", "noEarn", '
    '"noSpend"}]}',
)
def set_rules(account_id: str, path: Path) -> None:
    """Replace the category rules (audited); prints them."""
    account_uuid = parse_uuid(account_id)
    body = _load(path, RulesIn)

    async def work(session: AsyncSession) -> None:
        rules = await category_rules_service.set_rules(
            session,
            account_uuid,
            [
                CategoryRule(
                    Target(item.target),
                    item.id,
                    Effect(item.earnPercent, item.noEarn, item.noSpend),
                )
                for item in body.items
            ],
            actor=CLI_ACTOR,
            now=Clock().now(),
        )
        emit(_rules_json(rules))

    run_in_transaction(work)
