"""`loyalty operator-key …`"""

from __future__ import annotations

import getpass

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.common.clock import Clock
from loyalty.operators import service
from loyalty.operators.schemas import Role


def cli_actor() -> str:
    """Who ran a command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.group("operator-key")
def operator_key_group() -> None:
    """API keys for the operator API (/api/v1) and the compatibility APIs."""


@operator_key_group.command("create")
@click.argument("account_id")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    required=True,
    help="read-only: look-ups; operator: also issue, redeem, void; admin: everything.",
)
@click.option("--name", default="operator", show_default=True, help="Who or what uses the key.")
def create(account_id: str, role: str, name: str) -> None:
    """Create a key; prints it once (only its digest is stored)."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        issued = await service.create_key(
            session,
            account_id=account_uuid,
            role=Role(role),
            name=name,
            actor=cli_actor(),
            now=Clock().now(),
        )
        emit(
            {
                "id": issued.id,
                "account_id": str(issued.account_id),
                "name": issued.name,
                "role": issued.role.value,
                "key": issued.key,
            }
        )

    run_in_transaction(work)


@operator_key_group.command("list")
@click.argument("account_id")
def list_keys(account_id: str) -> None:
    """Keys of an account (never the keys themselves)."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        emit(
            [
                {
                    "id": key.id,
                    "name": key.name,
                    "role": key.role.value,
                    "key_prefix": key.key_prefix,
                    "created_at": key.created_at.isoformat(),
                    "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
                }
                for key in await service.list_keys(session, account_uuid)
            ]
        )

    run_in_transaction(work)


@operator_key_group.command("revoke")
@click.argument("account_id")
@click.argument("key_id", type=int)
def revoke(account_id: str, key_id: int) -> None:
    """Revoke a key at once."""
    account_uuid = parse_uuid(account_id)

    async def work(session: AsyncSession) -> None:
        key = await service.revoke_key(
            session, account_id=account_uuid, key_id=key_id, actor=cli_actor(), now=Clock().now()
        )
        emit({"id": key.id, "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None})

    run_in_transaction(work)
