"""Tiers: the account's list, each customer's standing, and tier changes.

A customer's tier is derived, never edited: net purchases (paid sums minus returns) in the
calendar months of the window, against the thresholds. Sales and returns update the month's
total and re-derive the tier under the customer's lock; the window sliding is noticed at the
next commit, or by `reevaluate_tiers` for customers who buy nothing. Every change of a stored
tier goes through `change_tier`, which writes the history row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit import service as audit_service
from loyalty.audit.schemas import AuditEvent
from loyalty.category_rules import repository as category_rules_repository
from loyalty.customers import service as customers_service
from loyalty.program import repository as program_repository
from loyalty.program.errors import AccountNotFound
from loyalty.tiers import repository, rules
from loyalty.tiers.errors import InvalidTiers
from loyalty.tiers.repository import StoredTier
from loyalty.tiers.schemas import Standing, Tier
from loyalty.webhooks import service as webhooks_service

MAX_TIERS = 20
MAX_NAME_LENGTH = 100
MAX_THRESHOLD_MINOR = 10**15
MAX_WINDOW_MONTHS = 120
PERCENT_STEP = Decimal("0.01")

# Why a tier changed (models.program_depth.TIER_CHANGE_REASONS, CHECKed in the table).
ChangeReason = Literal["sale", "return", "window", "program"]


@dataclass(frozen=True)
class TierProgram:
    window_months: int
    tiers: tuple[Tier, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "windowMonths": self.window_months,
            "items": [tier.as_json() for tier in self.tiers],
        }


# --- configuration -------------------------------------------------------------------------


def _check_percent(value: Decimal, parameter: str) -> Decimal:
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise InvalidTiers(f"{parameter}: процент должен быть от 0 до 100", parameter=parameter)
    if value != value.quantize(PERCENT_STEP):
        raise InvalidTiers(f"{parameter}: не более двух знаков после запятой", parameter=parameter)
    return value.quantize(PERCENT_STEP)


def validate(window_months: int, tiers: list[Tier]) -> TierProgram:
    """Names unique and non-empty, thresholds strictly increasing, percents 0..100."""
    if not 1 <= window_months <= MAX_WINDOW_MONTHS:
        raise InvalidTiers(
            f"windowMonths: окно подсчёта покупок — от 1 до {MAX_WINDOW_MONTHS} месяцев",
            parameter="windowMonths",
        )
    if len(tiers) > MAX_TIERS:
        raise InvalidTiers(f"items: не более {MAX_TIERS} уровней", parameter="items")
    checked: list[Tier] = []
    names: set[str] = set()
    for index, tier in enumerate(tiers):
        prefix = f"items[{index}]"
        name = tier.name.strip()
        if not 1 <= len(name) <= MAX_NAME_LENGTH:
            raise InvalidTiers(
                f"{prefix}.name: название уровня — от 1 до {MAX_NAME_LENGTH} символов",
                parameter=f"{prefix}.name",
            )
        if name.casefold() in names:
            raise InvalidTiers(
                f"{prefix}.name: уровень «{name}» уже есть в списке", parameter=f"{prefix}.name"
            )
        names.add(name.casefold())
        if not 0 <= tier.threshold_minor <= MAX_THRESHOLD_MINOR:
            raise InvalidTiers(
                f"{prefix}.thresholdMinor: порог — целое число копеек"
                f" от 0 до {MAX_THRESHOLD_MINOR}",
                parameter=f"{prefix}.thresholdMinor",
            )
        if checked and tier.threshold_minor <= checked[-1].threshold_minor:
            raise InvalidTiers(
                f"{prefix}.thresholdMinor: пороги уровней должны строго возрастать"
                f" (предыдущий — {checked[-1].threshold_minor})",
                parameter=f"{prefix}.thresholdMinor",
            )
        checked.append(
            Tier(
                name=name,
                threshold_minor=tier.threshold_minor,
                earn_percent=_check_percent(tier.earn_percent, f"{prefix}.earnPercent"),
                max_spend_percent=_check_percent(
                    tier.max_spend_percent, f"{prefix}.maxSpendPercent"
                ),
            )
        )
    return TierProgram(window_months, tuple(checked))


async def get_tier_program(session: AsyncSession, account_id: uuid.UUID) -> TierProgram:
    settings = await program_repository.get(session, account_id)
    if settings is None:
        raise AccountNotFound(account_id)
    tiers = await repository.list_tiers(session, account_id)
    return TierProgram(settings.tier_window_months, tuple(tiers))


async def set_tier_program(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    window_months: int,
    tiers: list[Tier],
    actor: str,
    now: datetime,
) -> TierProgram:
    """Replace the account's tiers (idempotent: the same list again changes nothing)."""
    wanted = validate(window_months, tiers)
    current_window = await repository.lock_window_months(session, account_id)
    if current_window is None:
        raise AccountNotFound(account_id)
    before = TierProgram(current_window, tuple(await repository.list_tiers(session, account_id)))
    if before == wanted:
        return before
    await repository.replace_tiers(session, account_id, list(wanted.tiers), wanted.window_months)
    await repository.review_everyone(session, account_id, now)
    if wanted.tiers and not before.tiers:
        # Purchases are counted only while tiers exist: switching them on recounts the history.
        await repository.rebuild_purchase_months(
            session, account_id, rules.window_start(now, wanted.window_months), now
        )
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor,
            action="program.tiers.update",
            entity_type="program",
            entity_id="tiers",
            occurred_at=now,
            before=before.as_json(),
            after=wanted.as_json(),
        ),
    )
    return wanted


async def forget_program(session: AsyncSession, account_id: uuid.UUID) -> None:
    """An uninstalled account is purged: its tiers and category rules go with its settings.
    Purchase totals and tier history stay, like the ledger (no personal data)."""
    await repository.delete_tiers(session, account_id)
    await category_rules_repository.replace_rules(session, account_id, [])


# --- customers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LockedStanding:
    """A customer's stored tier (row locked) and standing before the current document."""

    customer_id: uuid.UUID
    stored: StoredTier
    before: Standing
    since: date


async def lock_standing(
    session: AsyncSession,
    account_id: uuid.UUID,
    tiers: tuple[Tier, ...],
    window_months: int,
    customer_id: uuid.UUID,
    now: datetime,
) -> LockedStanding:
    """Call with the customer's balance locked (ledger.lock_customer): that lock serialises
    the customer's documents; this one keeps the worker off the row."""
    since = rules.window_start(now, window_months)
    stored, total = await repository.lock_stored_tier(session, account_id, customer_id, since)
    return LockedStanding(customer_id, stored, rules.standing(tiers, total), since)


async def change_tier(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    from_tier: str | None,
    to_tier: str | None,
    reason: ChangeReason,
    window_total_minor: int,
    now: datetime,
) -> None:
    """The one place a customer's tier change is recorded, with its `tier.changed` event in the
    same transaction."""
    await repository.insert_change(
        session,
        {
            "account_id": account_id,
            "customer_id": customer_id,
            "from_tier": from_tier,
            "to_tier": to_tier,
            "reason": reason,
            "window_total_minor": window_total_minor,
            "changed_at": now,
        },
    )
    await webhooks_service.emit(
        session,
        account_id,
        "tier.changed",
        {
            "customerId": str(customer_id),
            "fromTier": from_tier,
            "toTier": to_tier,
            "reason": str(reason),
            "windowTotalMinor": window_total_minor,
        },
        occurred_at=now,
    )


def _name(tier: Tier | None) -> str | None:
    return tier.name if tier is not None else None


async def record_document(
    session: AsyncSession,
    account_id: uuid.UUID,
    tiers: tuple[Tier, ...],
    window_months: int,
    locked: LockedStanding,
    *,
    month: date,
    purchased_minor: int = 0,
    returned_minor: int = 0,
    reason: ChangeReason,
    now: datetime,
) -> Standing:
    """Count a sale (or a return) in its month and re-derive the customer's tier."""
    if purchased_minor or returned_minor:
        await repository.add_to_month(
            session,
            account_id,
            locked.customer_id,
            month,
            purchased_minor=purchased_minor,
            returned_minor=returned_minor,
        )
    totals = await repository.window_totals(session, account_id, [locked.customer_id], locked.since)
    window = totals[locked.customer_id]
    after = rules.standing(tiers, window.total_minor)
    stored_name = locked.stored.tier_name
    derived_before = _name(locked.before.tier)
    if stored_name != derived_before:
        # The window slid (or the tiers changed) since the customer was last evaluated.
        await change_tier(
            session,
            account_id,
            locked.customer_id,
            from_tier=stored_name,
            to_tier=derived_before,
            reason="window" if locked.stored.known else "program",
            window_total_minor=locked.before.window_total_minor,
            now=now,
        )
    if _name(after.tier) != derived_before:
        await change_tier(
            session,
            account_id,
            locked.customer_id,
            from_tier=derived_before,
            to_tier=_name(after.tier),
            reason=reason,
            window_total_minor=after.window_total_minor,
            now=now,
        )
    await repository.save_tier(
        session,
        account_id,
        locked.customer_id,
        tier_name=_name(after.tier),
        window_total_minor=after.window_total_minor,
        evaluated_at=now,
        review_at=rules.review_at(window.oldest_month, window_months),
    )
    return after


async def reevaluate_tiers(
    session: AsyncSession, account_id: uuid.UUID, now: datetime, batch_size: int
) -> int:
    """One batch of customers whose window slid (or whose tiers changed) since their last
    evaluation; rows locked by a till or another worker are skipped, not waited for. Returns
    how many were evaluated: call again (in a new transaction) until it returns 0."""
    program = await get_tier_program(session, account_id)
    due = await repository.lock_due(session, account_id, now, batch_size)
    if not due:
        return 0
    since = rules.window_start(now, program.window_months)
    totals = await repository.window_totals(
        session, account_id, [row.customer_id for row in due], since
    )
    for row in due:
        window = totals[row.customer_id]
        after = rules.standing(program.tiers, window.total_minor)
        if _name(after.tier) != row.tier_name:
            await change_tier(
                session,
                account_id,
                row.customer_id,
                from_tier=row.tier_name,
                to_tier=_name(after.tier),
                # Same total as last time: only the thresholds can have moved.
                reason="program"
                if after.window_total_minor == row.window_total_minor
                else "window",
                window_total_minor=after.window_total_minor,
                now=now,
            )
        await repository.save_tier(
            session,
            account_id,
            row.customer_id,
            tier_name=_name(after.tier),
            window_total_minor=after.window_total_minor,
            evaluated_at=now,
            review_at=rules.review_at(window.oldest_month, program.window_months),
        )
    return len(due)


@dataclass(frozen=True)
class CustomerTierView:
    customer_id: uuid.UUID
    window_months: int
    standing: Standing
    stored_tier: str | None
    history: list[dict[str, Any]]


async def customer_view(
    session: AsyncSession, account_id: uuid.UUID, customer_reference: str, now: datetime
) -> CustomerTierView:
    """A customer's standing as of now (read-only: the window may have slid since it was
    stored), the stored tier and the history of changes."""
    found = await customers_service.find_for_operator(session, account_id, customer_reference)
    program = await get_tier_program(session, account_id)
    since = rules.window_start(now, program.window_months)
    totals = await repository.window_totals(session, account_id, [found.id], since)
    stored = await repository.stored_tier(session, account_id, found.id)
    return CustomerTierView(
        customer_id=found.id,
        window_months=program.window_months,
        standing=rules.standing(program.tiers, totals[found.id].total_minor),
        stored_tier=stored,
        history=await history(session, account_id, found.id),
    )


async def history(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> list[dict[str, Any]]:
    return [
        {
            "from": row.from_tier,
            "to": row.to_tier,
            "reason": row.reason,
            "windowTotalMinor": row.window_total_minor,
            "at": row.changed_at.isoformat(),
        }
        for row in await repository.history(session, account_id, customer_id)
    ]
