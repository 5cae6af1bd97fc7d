"""`loyalty program …`"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.cli import emit, optional_int, parse_uuid, run_in_transaction
from loyalty.program import service


def _percent(value: str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise click.BadParameter(f"{name} must be a number") from exc


@click.group("program")
def program_group() -> None:
    """Program settings of an account."""


@program_group.command("set")
@click.argument("account_id")
@click.option("--earn-percent", default=None, help="Points earned per 100 roubles paid with money.")
@click.option(
    "--max-spend-percent", default=None, help="Largest share of a receipt payable with points."
)
@click.option(
    "--earn-on-spend/--no-earn-on-spend", default=None, help="Earn on receipts that spend points."
)
@click.option(
    "--activation-delay-days",
    type=int,
    default=None,
    help="Days before earned points can be spent.",
)
@click.option(
    "--expiry-days", default=None, help="Days earned points live after activation, or 'none'."
)
@click.option(
    "--welcome-bonus", type=int, default=None, help="Points credited once at registration."
)
@click.option(
    "--verify-registration/--no-verify-registration",
    default=None,
    help="Ask a code at registration.",
)
@click.option(
    "--verify-spend-above", default=None, help="Ask a code when spending more points, or 'none'."
)
@click.option(
    "--auto-enroll/--no-auto-enroll",
    default=None,
    help="Enrol unknown MoySklad customers at the till.",
)
@click.option(
    "--receipt-text", default=None, help="Receipt text; placeholders like {balance_after}."
)
@click.option(
    "--restore-gift-cards/--no-restore-gift-cards",
    default=None,
    help="A return gives gift certificates back their share of the payment.",
)
@click.option(
    "--personal-vouchers/--no-personal-vouchers",
    default=None,
    help="Recalc applies the customer's best personal voucher.",
)
@click.option(
    "--voucher-stacking",
    type=click.Choice(["stack", "exclusive"]),
    default=None,
    help="stack: voucher and points on one receipt; exclusive: a voucher excludes points.",
)
@click.option(
    "--birthday-bonus", type=int, default=None, help="Points paid once a year on the birthday."
)
@click.option(
    "--birthday-window-days",
    type=int,
    default=None,
    help="Days before and after the birthday the bonus may be paid.",
)
@click.option(
    "--expiry-warning-days",
    type=int,
    default=None,
    help="Warn (points.expiring) this many days before points expire; 0 = off.",
)
def set_program(
    account_id: str,
    earn_percent: str | None,
    max_spend_percent: str | None,
    earn_on_spend: bool | None,
    activation_delay_days: int | None,
    expiry_days: str | None,
    welcome_bonus: int | None,
    verify_registration: bool | None,
    verify_spend_above: str | None,
    auto_enroll: bool | None,
    receipt_text: str | None,
    restore_gift_cards: bool | None,
    personal_vouchers: bool | None,
    voucher_stacking: str | None,
    birthday_bonus: int | None,
    birthday_window_days: int | None,
    expiry_warning_days: int | None,
) -> None:
    """Change some settings; prints the whole program."""
    account_uuid = parse_uuid(account_id)
    changes: dict[str, Any] = {
        "earn_percent": _percent(earn_percent, "--earn-percent"),
        "max_spend_percent": _percent(max_spend_percent, "--max-spend-percent"),
        "earn_on_spend": earn_on_spend,
        "activation_delay_days": activation_delay_days,
        "welcome_bonus_points": welcome_bonus,
        "verify_registration": verify_registration,
        "auto_enroll": auto_enroll,
        "receipt_text": receipt_text,
        "restore_gift_cards_on_return": restore_gift_cards,
        "apply_personal_vouchers": personal_vouchers,
        "voucher_stacking": voucher_stacking,
        "birthday_bonus_points": birthday_bonus,
        "birthday_window_days": birthday_window_days,
        "expiry_warning_days": expiry_warning_days,
    }
    changes = {key: value for key, value in changes.items() if value is not None}
    for key, raw, name in (
        ("expiry_days", expiry_days, "--expiry-days"),
        ("verify_spend_above_points", verify_spend_above, "--verify-spend-above"),
    ):
        parsed = optional_int(raw, name)
        if parsed != "unset":
            changes[key] = parsed

    async def work(session: AsyncSession) -> None:
        settings = await service.update_settings(session, account_uuid, changes)
        emit(settings.as_json())

    run_in_transaction(work)


@program_group.command("show")
@click.argument("account_id")
def show_program(account_id: str) -> None:
    """Print the program settings as JSON."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        emit((await service.get_settings(session, account_uuid)).as_json())

    run_in_transaction(work)
