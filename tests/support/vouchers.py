"""Arranging vouchers for tests: operator keys, and an operator API client for one tenant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.clock import Clock
from loyalty.operators import service as operators_service
from loyalty.operators.schemas import Role
from tests.conftest import Tenant


def operator_key(tenant: Tenant, role: Role = Role.admin, name: str = "тест") -> str:
    async def work(session: AsyncSession) -> str:
        issued = await operators_service.create_key(
            session,
            account_id=tenant.account_id,
            role=role,
            name=name,
            actor="test",
            now=Clock().now(),
        )
        return issued.key

    return tenant.db.run(work)


@dataclass
class Operator:
    """The operator API (/api/v1) as one tenant's operator sees it."""

    tenant: Tenant
    client: httpx.Client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=body if body is not None else {}, **kwargs)

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def batch(self, **fields: Any) -> dict[str, Any]:
        defaults: dict[str, Any] = {"name": "Серия"}
        if "type" not in fields:
            defaults |= {"type": "GIFT", "faceValueMinor": 100_000}
        body = defaults | fields
        result: dict[str, Any] = self.ok(self.post("/voucher-batches", body), 201)
        return result

    def generate(
        self, batch_id: str, count: int = 1, *, issue: bool = True
    ) -> list[dict[str, Any]]:
        self.ok(
            self.post(f"/voucher-batches/{batch_id}/generate", {"count": count, "issue": issue}),
            201,
        )
        page = self.ok(
            self.get(
                "/vouchers", params={"batchId": batch_id, "count": 1000, "sort": "serialNumber"}
            )
        )
        items: list[dict[str, Any]] = page["items"]
        return items

    def certificate(self, face_value_minor: int = 100_000, **fields: Any) -> dict[str, Any]:
        batch = self.batch(faceValueMinor=face_value_minor, **fields)
        return self.generate(batch["id"])[0]

    def voucher(self, voucher_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.ok(self.get(f"/vouchers/{voucher_id}"))
        return result

    def personal(self, customer: str, *, count: int = 1, **fields: Any) -> list[dict[str, Any]]:
        """Discount vouchers issued to a customer (default: 10 % off, single use)."""
        defaults: dict[str, Any] = {"type": "DISCOUNT"}
        if fields.get("type", "DISCOUNT") == "DISCOUNT":
            defaults["discountPercent"] = 10
        batch = self.batch(**(defaults | fields))
        vouchers = self.generate(batch["id"], count, issue=False)
        return [
            self.ok(self.post(f"/vouchers/{item['id']}/issue", {"customer": customer}))
            for item in vouchers
        ]


def operator_client(tenant: Tenant, role: Role = Role.admin) -> Operator:
    key = operator_key(tenant, role)
    client = httpx.Client(
        base_url=f"{tenant.server.base_url}/api/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    tenant.extra_clients.append(client)
    return Operator(tenant, client)
