"""`loyalty customer …` and `loyalty points …`"""

from __future__ import annotations

import secrets

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.clock import Clock
from loyalty.customers import service
from loyalty.ledger import service as ledger_service


@click.group("customer")
def customer_group() -> None:
    """Customers of an account."""


@customer_group.command("show")
@click.argument("account_id")
@click.argument("customer")
@click.option("--entries", "entry_limit", type=int, default=20, show_default=True)
def show(account_id: str, customer: str, entry_limit: int) -> None:
    """Balances (available, pending, debt) and the latest ledger entries.

    CUSTOMER is our id, the MoySklad id, a phone in any format or a card number."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        row = await service.find_for_operator(session, account_uuid, customer)
        now = Clock().now()
        balance = await ledger_service.read_balance(session, account_uuid, row.id, now)
        entries = await ledger_service.history(session, account_uuid, row.id, entry_limit)
        emit(
            {
                "id": str(row.id),
                "moysklad_id": row.moysklad_id,
                "sync_id": row.sync_id,
                "name": row.name,
                "phone": service.decrypt_phone(row),
                "card_number": row.card_number,
                "balance": {
                    "available_points": balance.available_points if balance else 0,
                    "pending_points": balance.pending_points if balance else 0,
                    "debt_points": balance.debt_points if balance else 0,
                },
                "entries": [
                    {
                        "transaction_id": entry.transaction_id,
                        "kind": entry.kind,
                        "bucket": entry.bucket,
                        "amount_points": entry.amount_points,
                        "balance_after_points": entry.balance_after_points,
                        "created_at": entry.created_at.isoformat(),
                        "effective_at": entry.effective_at.isoformat(),
                        "reason": entry.reason,
                    }
                    for entry in entries
                ],
            }
        )

    run_in_transaction(work)


@click.group("points")
def points_group() -> None:
    """Manual point changes."""


@points_group.command("adjust")
@click.argument("account_id")
@click.argument("customer")
@click.option("--points", type=int, required=True, help="Positive to credit, negative to debit.")
@click.option("--reason", required=True, help="Why; kept in the ledger.")
@click.option("--actor", default=None, help="Who is making the change (kept in the ledger).")
@click.option(
    "--idempotency-key",
    default=None,
    help="Repeat the command with the same key to make sure it is applied once. Random if omitted.",
)
def adjust(
    account_id: str,
    customer: str,
    points: int,
    reason: str,
    actor: str | None,
    idempotency_key: str | None,
) -> None:
    """Credit or debit points by hand, recorded with its reason."""
    account_uuid = parse_uuid(account_id)
    key = idempotency_key or secrets.token_hex(16)

    async def work(session: AsyncSession) -> None:
        result = await service.adjust_points(
            session,
            account_id=account_uuid,
            customer=customer,
            points=points,
            reason=reason,
            idempotency_key=key,
            actor=actor,
            now=Clock().now(),
        )
        emit(
            {
                "customer_id": str(result.customer_id),
                "points": result.points,
                "transaction_id": result.transaction_id,
                "replayed": result.replayed,
                "idempotency_key": key,
                "balance": {
                    "available_points": result.balance.available_points,
                    "pending_points": result.balance.pending_points,
                    "debt_points": result.balance.debt_points,
                },
            }
        )

    run_in_transaction(work)
