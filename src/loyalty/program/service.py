"""Reading and changing a merchant's program settings."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.program import repository
from loyalty.program.errors import AccountNotFound, InvalidProgramSetting
from loyalty.program.rules import validate_receipt_template
from loyalty.program.schemas import PROGRAM_FIELDS, ProgramSettings

RECEIPT_TEXT_MAX_LENGTH = 1000
VOUCHER_STACKING = ("stack", "exclusive")
BIRTHDAY_WINDOW_MAX_DAYS = 30
EXPIRY_WARNING_MAX_DAYS = 365


async def get_settings(session: AsyncSession, account_id: uuid.UUID) -> ProgramSettings:
    settings = await repository.get(session, account_id)
    if settings is None:
        raise AccountNotFound(account_id)
    return settings


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check a partial update; raise InvalidProgramSetting naming the field, in Russian."""
    unknown = set(changes) - set(PROGRAM_FIELDS)
    if unknown:
        raise InvalidProgramSetting(f"Неизвестная настройка: {', '.join(sorted(unknown))}")
    candidate = replace(ProgramSettings(), **changes)
    for name in ("earn_percent", "max_spend_percent"):
        if name in changes:
            value = Decimal(changes[name])
            if not (Decimal(0) <= value <= Decimal(100)) or value != value.quantize(
                Decimal("0.01")
            ):
                raise InvalidProgramSetting(
                    "Процент должен быть от 0 до 100, не более двух знаков после запятой",
                    parameter=name,
                )
            changes[name] = value
    if not 0 <= candidate.activation_delay_days <= 3650:
        raise InvalidProgramSetting(
            "Задержка начисления — от 0 до 3650 дней", parameter="activation_delay_days"
        )
    if candidate.expiry_days is not None and not 1 <= candidate.expiry_days <= 36500:
        raise InvalidProgramSetting(
            "Срок жизни баллов — от 1 до 36500 дней", parameter="expiry_days"
        )
    if candidate.welcome_bonus_points < 0:
        raise InvalidProgramSetting(
            "Приветственный бонус не может быть отрицательным", parameter="welcome_bonus_points"
        )
    if candidate.verify_spend_above_points is not None and candidate.verify_spend_above_points < 0:
        raise InvalidProgramSetting(
            "Порог подтверждения списания не может быть отрицательным",
            parameter="verify_spend_above_points",
        )
    if candidate.birthday_bonus_points < 0:
        raise InvalidProgramSetting(
            "Бонус ко дню рождения не может быть отрицательным", parameter="birthday_bonus_points"
        )
    if not 0 <= candidate.birthday_window_days <= BIRTHDAY_WINDOW_MAX_DAYS:
        raise InvalidProgramSetting(
            "Окно бонуса ко дню рождения — от 0 до 30 дней", parameter="birthday_window_days"
        )
    if not 0 <= candidate.expiry_warning_days <= EXPIRY_WARNING_MAX_DAYS:
        raise InvalidProgramSetting(
            "Предупреждение о сгорании — от 0 до 365 дней", parameter="expiry_warning_days"
        )
    if len(candidate.receipt_text) > RECEIPT_TEXT_MAX_LENGTH:
        raise InvalidProgramSetting(
            "Текст для чека не длиннее 1000 символов", parameter="receipt_text"
        )
    if candidate.voucher_stacking not in VOUCHER_STACKING:
        raise InvalidProgramSetting(
            "Совмещение купона и баллов: stack (вместе) или exclusive (только купон)",
            parameter="voucher_stacking",
        )
    if not 1 <= candidate.tier_window_months <= 120:
        raise InvalidProgramSetting(
            "Окно подсчёта покупок для уровней — от 1 до 120 месяцев",
            parameter="tier_window_months",
        )
    unknown_placeholders = validate_receipt_template(candidate.receipt_text)
    if unknown_placeholders:
        raise InvalidProgramSetting(
            "Неизвестные подстановки в тексте для чека: "
            + ", ".join("{" + name + "}" for name in unknown_placeholders),
            parameter="receipt_text",
        )
    return changes


async def update_settings(
    session: AsyncSession, account_id: uuid.UUID, changes: dict[str, Any]
) -> ProgramSettings:
    await get_settings(session, account_id)
    changes = validate_changes(dict(changes))
    if not changes:
        return await get_settings(session, account_id)
    return await repository.update(session, account_id, changes)
