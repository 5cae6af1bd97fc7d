"""`loyalty customer export` and `loyalty customer erase`: a data subject's rights."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.backoffice import service
from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.clock import Clock
from loyalty.customers.service import find_for_operator


def _actor(actor: str | None) -> str:
    return actor or "cli"


@click.command("export")
@click.argument("account_id")
@click.argument("customer")
@click.option("--actor", default=None, help="Who asks (kept in the audit log).")
def export_customer(account_id: str, customer: str, actor: str | None) -> None:
    """Everything held about one customer, as JSON (personal fields decrypted).

    CUSTOMER is our id, the MoySklad id, a phone in any format or a card number."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        row = await find_for_operator(session, account_uuid, customer)
        emit(
            await service.export(
                session, account_uuid, row.id, actor=_actor(actor), now=Clock().now()
            )
        )

    run_in_transaction(work)


@click.command("erase")
@click.argument("account_id")
@click.argument("customer")
@click.option("--actor", default=None, help="Who asks (kept in the audit log).")
@click.confirmation_option(prompt="Personal data cannot be restored. Erase?")
def erase_customer(account_id: str, customer: str, actor: str | None) -> None:
    """Anonymise one customer: personal fields cleared, ledger kept (it stays balanced).

    CUSTOMER is our id, the MoySklad id, a phone in any format or a card number."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        row = await find_for_operator(session, account_uuid, customer)
        erased = await service.erase(
            session, account_uuid, row.id, actor=_actor(actor), now=Clock().now()
        )
        emit(
            {
                "id": str(erased.row.id),
                "status": erased.row.status,
                "balance": {
                    "available_points": erased.balance.available_points,
                    "pending_points": erased.balance.pending_points,
                    "debt_points": erased.balance.debt_points,
                },
            }
        )

    run_in_transaction(work)
