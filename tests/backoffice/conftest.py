"""A back-office operator of one tenant, with helpers to arrange customers and points."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from loyalty.operators.schemas import Role
from tests.conftest import Tenant
from tests.support.vouchers import operator_client


def problem(response: httpx.Response, status: int, code: int | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code, body
    return body


@dataclass
class BackOffice:
    tenant: Tenant
    client: httpx.Client

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def customer(self, **fields: Any) -> str:
        """Registers a customer at the till; returns our id."""
        ms_id = self.tenant.register(**fields)
        customer_id = self.tenant.db.scalar(
            "SELECT id FROM customer WHERE account_id = :account AND moysklad_id = :ms_id",
            account=self.tenant.account_id,
            ms_id=ms_id,
        )
        return str(customer_id)

    def ms_id(self, customer_id: str) -> str:
        value: str = self.ok(self.client.get(f"/customers/{customer_id}"))["msId"]
        return value

    def adjust(
        self, customer_id: str, points: int, *, key: str | None = None, reason: str = "Тест"
    ) -> httpx.Response:
        return self.client.post(
            f"/customers/{customer_id}/adjustments",
            json={"points": points, "reason": reason},
            headers={"Idempotency-Key": key or str(uuid.uuid4())},
        )

    def transfer(
        self, source: str, target: str, points: int, *, key: str | None = None
    ) -> httpx.Response:
        return self.client.post(
            "/transfers",
            json={
                "fromCustomerId": source,
                "toCustomerId": target,
                "points": points,
                "reason": "Перевод",
            },
            headers={"Idempotency-Key": key or str(uuid.uuid4())},
        )

    def balance(self, customer_id: str) -> dict[str, int]:
        result: dict[str, int] = self.ok(self.client.get(f"/customers/{customer_id}"))["balance"]
        return result

    def audit(self, customer_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ok(
            self.client.get("/audit", params={"entityType": "customer", "entityId": customer_id})
        )["items"]
        return items


def back_office(tenant: Tenant, role: Role = Role.operator) -> BackOffice:
    return BackOffice(tenant, operator_client(tenant, role).client)


@pytest.fixture
def office(tenant: Tenant) -> BackOffice:
    return back_office(tenant, Role.operator)


@pytest.fixture
def reader(tenant: Tenant) -> BackOffice:
    return back_office(tenant, Role.read_only)


@pytest.fixture
def admin(tenant: Tenant) -> BackOffice:
    return back_office(tenant, Role.admin)
