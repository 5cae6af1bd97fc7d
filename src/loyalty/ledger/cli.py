"""`loyalty ledger …`"""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.cli import emit, parse_uuid, run_in_transaction
from loyalty.ledger.audit import ledger_counts, verify_ledger


@click.group("ledger")
def ledger_group() -> None:
    """Ledger integrity."""


@ledger_group.command("verify")
@click.argument("account_id", required=False)
def verify(account_id: str | None) -> None:
    """Check every ledger invariant; exit 1 on any violation."""
    account_uuid = parse_uuid(account_id) if account_id else None

    async def work(session: AsyncSession) -> bool:
        violations = await verify_ledger(session, account_uuid)
        emit(
            {
                "ok": not violations,
                "account_id": account_id,
                "checked": await ledger_counts(session, account_uuid),
                "violations": [
                    {
                        "check": violation.check,
                        "account_id": violation.account_id,
                        "detail": violation.detail,
                    }
                    for violation in violations
                ],
            }
        )
        return not violations

    if not run_in_transaction(work):
        sys.exit(1)
