"""An uninstalled account purged after retention loses its tiers and category rules too."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.clock import Clock
from loyalty.vendor import service as vendor_service
from tests.conftest import Tenant
from tests.support.vouchers import Operator
from tests.tiers.test_tiers import TIERS, with_tiers


def test_purge_forgets_tiers_and_rules(tenant: Tenant, operator: Operator) -> None:
    with_tiers(operator, TIERS | {"windowMonths": 6})
    operator.client.put(
        "/program/category-rules",
        json={"items": [{"target": "folder", "id": "f-1", "noSpend": True}]},
    ).raise_for_status()
    tenant.db.fetch(
        "INSERT INTO moysklad_installation (account_id, app_id, status, last_cause, purge_after)"
        " VALUES (:a, 'app', 'Uninstalled', 'Uninstall', now() - interval '1 day')"
        " RETURNING account_id",
        a=tenant.account_id,
    )

    async def purge(session: AsyncSession) -> list[object]:
        return list(await vendor_service.purge_expired(session, Clock().now()))

    assert tenant.account_id in tenant.db.run(purge)
    assert operator.ok(operator.get("/program/tiers")) == {"windowMonths": 12, "items": []}
    assert operator.ok(operator.get("/program/category-rules")) == {"items": []}
