"""Category rules: the account's list, replaced as a whole and audited."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit import service as audit_service
from loyalty.audit.schemas import AuditEvent
from loyalty.category_rules import repository
from loyalty.category_rules.errors import InvalidCategoryRules
from loyalty.category_rules.schemas import CategoryRule, Effect
from loyalty.program.errors import AccountNotFound
from loyalty.tiers import repository as tiers_repository

MAX_RULES = 5000
MAX_ID_LENGTH = 255
PERCENT_STEP = Decimal("0.01")


def validate(rules: list[CategoryRule]) -> list[CategoryRule]:
    checked: list[CategoryRule] = []
    seen: set[tuple[str, str]] = set()
    if len(rules) > MAX_RULES:
        raise InvalidCategoryRules(f"items: не более {MAX_RULES} правил", parameter="items")
    for index, rule in enumerate(rules):
        prefix = f"items[{index}]"
        target_id = rule.target_id.strip()
        if not 1 <= len(target_id) <= MAX_ID_LENGTH:
            raise InvalidCategoryRules(
                f"{prefix}.id: укажите идентификатор группы товаров или товара МойСклад",
                parameter=f"{prefix}.id",
            )
        key = (rule.target.value, target_id)
        if key in seen:
            raise InvalidCategoryRules(
                f"{prefix}.id: правило для «{target_id}» уже есть в списке",
                parameter=f"{prefix}.id",
            )
        seen.add(key)
        effect = rule.effect
        percent = effect.earn_percent
        if percent is not None:
            if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(100):
                raise InvalidCategoryRules(
                    f"{prefix}.earnPercent: процент должен быть от 0 до 100",
                    parameter=f"{prefix}.earnPercent",
                )
            if percent != percent.quantize(PERCENT_STEP):
                raise InvalidCategoryRules(
                    f"{prefix}.earnPercent: не более двух знаков после запятой",
                    parameter=f"{prefix}.earnPercent",
                )
            percent = percent.quantize(PERCENT_STEP)
            if effect.no_earn:
                raise InvalidCategoryRules(
                    f"{prefix}.earnPercent: процент начисления не сочетается с noEarn",
                    parameter=f"{prefix}.earnPercent",
                )
        elif not (effect.no_earn or effect.no_spend):
            raise InvalidCategoryRules(
                f"{prefix}: укажите earnPercent, noEarn или noSpend", parameter=prefix
            )
        checked.append(
            CategoryRule(rule.target, target_id, Effect(percent, effect.no_earn, effect.no_spend))
        )
    return sorted(checked, key=lambda rule: (rule.target.value, rule.target_id))


async def list_rules(session: AsyncSession, account_id: uuid.UUID) -> list[CategoryRule]:
    return await repository.list_rules(session, account_id)


async def set_rules(
    session: AsyncSession,
    account_id: uuid.UUID,
    rules: list[CategoryRule],
    *,
    actor: str,
    now: datetime,
) -> list[CategoryRule]:
    """Replace the account's rules (idempotent: the same list again changes nothing)."""
    wanted = validate(rules)
    # The program row's lock serialises concurrent replacements of one account's rules.
    if await tiers_repository.lock_window_months(session, account_id) is None:
        raise AccountNotFound(account_id)
    before = await repository.list_rules(session, account_id)
    if before == wanted:
        return before
    await repository.replace_rules(session, account_id, wanted)
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor,
            action="program.category_rules.update",
            entity_type="program",
            entity_id="category-rules",
            occurred_at=now,
            before={"items": [rule.as_json() for rule in before]},
            after={"items": [rule.as_json() for rule in wanted]},
        ),
    )
    return wanted
