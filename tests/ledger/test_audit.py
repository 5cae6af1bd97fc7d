"""`ledger verify` on a large account: the audit stays linear on rows the planner has no
statistics for yet, and the till's request budget does not bind it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.ledger.audit import ledger_counts, verify_ledger
from tests.conftest import Tenant
from tests.support.db import Database
from tests.support.vouchers import operator_client

GENERATIONS = 12
PER_GENERATION = 1_000
CERTIFICATES = GENERATIONS * PER_GENERATION


def test_verify_of_thousands_of_new_certificates(
    tenant: Tenant, other_tenant: Tenant, db: Database
) -> None:
    # Statistics taken while only another account had certificates: the planner expects a
    # row or two for this one, as it does after any bulk load between two ANALYZE runs.
    other = operator_client(other_tenant)
    other.generate(other.batch()["id"], 100)
    db.run(_analyze_vouchers)
    operator = operator_client(tenant)
    batch = operator.batch(faceValueMinor=50_000)
    for _ in range(GENERATIONS):
        operator.ok(
            operator.post(
                f"/voucher-batches/{batch['id']}/generate",
                {"count": PER_GENERATION, "issue": True},
            ),
            201,
        )

    async def verify(session: AsyncSession) -> Any:
        return await verify_ledger(session, tenant.account_id), await ledger_counts(
            session, tenant.account_id
        )

    # Under the service's default statement timeout (1.5 s): 12,000 certificates joined to
    # 12,000 movements by nested loop outlived it.
    violations, counts = db.run(verify)
    assert violations == []
    assert counts["voucher"] == counts["voucher_movement"] == CERTIFICATES

    async def verify_after_a_tight_budget(session: AsyncSession) -> Any:
        # Tighter than any check on 12,000 certificates, loose enough for the SET statements
        # themselves on a loaded machine (1 ms once cancelled the audit's own SET).
        await session.execute(text("SET LOCAL statement_timeout = '10ms'"))
        return await verify(session)

    violations, counts = db.run(verify_after_a_tight_budget)
    assert violations == []
    assert counts["voucher"] == CERTIFICATES


async def _analyze_vouchers(session: AsyncSession) -> None:
    await session.execute(text("ANALYZE voucher, voucher_movement"))
