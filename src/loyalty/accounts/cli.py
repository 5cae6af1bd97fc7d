"""`loyalty account …`"""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import repository, service
from loyalty.common.cli import emit, parse_uuid, run_in_transaction


@click.group("account")
def account_group() -> None:
    """Merchant accounts and till tokens."""


@account_group.command("create")
@click.option("--name", required=True, help="Merchant name.")
@click.option("--moysklad-account-id", default=None, help="MoySklad account UUID, if known.")
def create(name: str, moysklad_account_id: str | None) -> None:
    """Create an account; prints its id and the till token (shown once)."""
    if moysklad_account_id is not None:
        parse_uuid(moysklad_account_id, "--moysklad-account-id")

    async def work(session: AsyncSession) -> None:
        created = await service.create_account(
            session, name=name, moysklad_account_id=moysklad_account_id
        )
        emit(
            {
                "id": str(created.id),
                "name": created.name,
                "moysklad_account_id": created.moysklad_account_id,
                "token": created.token,
            }
        )

    run_in_transaction(work)


@account_group.command("rotate-token")
@click.argument("account_id")
@click.option(
    "--confirm", is_flag=True, help="Promote the pending token; the old one stops working."
)
@click.option("--discard", is_flag=True, help="Drop the pending token; the old one keeps working.")
def rotate_token(account_id: str, confirm: bool, discard: bool) -> None:
    """Issue a pending token; both work until it is confirmed."""
    account_uuid = parse_uuid(account_id)
    if confirm and discard:
        raise click.UsageError("--confirm and --discard exclude each other")

    async def work(session: AsyncSession) -> None:
        if confirm:
            await service.confirm_pending_token(session, account_uuid)
            emit({"id": account_id, "rotation": "confirmed"})
        elif discard:
            await service.discard_pending_token(session, account_uuid)
            emit({"id": account_id, "rotation": "discarded"})
        else:
            token = await service.issue_pending_token(session, account_uuid)
            emit({"id": account_id, "token": token, "state": "pending"})

    run_in_transaction(work)


@account_group.command("list")
def list_accounts() -> None:
    """All accounts with their status."""

    async def work(session: AsyncSession) -> None:
        rows = await repository.list_accounts(session)
        emit(
            [
                {
                    "id": str(row.id),
                    "name": row.name,
                    "moysklad_account_id": row.moysklad_account_id,
                    "status": row.status,
                }
                for row in rows
            ]
        )

    run_in_transaction(work)
