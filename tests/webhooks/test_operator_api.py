"""GET/POST/DELETE /api/v1/webhooks: admins only, secret shown once, every change audited."""

from __future__ import annotations

from typing import Any

from loyalty.operators.schemas import Role
from tests.conftest import Tenant
from tests.support.vouchers import Operator, operator_client


def test_create_list_delete_and_audit(operator: Operator) -> None:
    created = operator.ok(
        operator.post(
            "/webhooks",
            {
                "url": "https://crm.example.com/hooks",
                "eventTypes": ["points.earned", "tier.changed"],
            },
        ),
        201,
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["eventTypes"] == ["points.earned", "tier.changed"]

    listed = operator.ok(operator.get("/webhooks"))["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]
    stored = operator.tenant.db.scalar(
        "SELECT secret_ciphertext FROM webhook_endpoint WHERE account_id = :account",
        account=operator.tenant.account_id,
    )
    assert created["secret"].encode() not in bytes(stored)  # encrypted at rest

    deleted = operator.ok(operator.client.delete(f"/webhooks/{created['id']}"))
    assert deleted["id"] == created["id"]
    assert operator.ok(operator.get("/webhooks"))["items"] == []
    again = operator.client.delete(f"/webhooks/{created['id']}")
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")

    audit: list[dict[str, Any]] = operator.ok(
        operator.get("/audit", params={"entityType": "webhook"})
    )["items"]
    actions = sorted(entry["action"] for entry in audit)
    assert actions == ["webhook.create", "webhook.delete"]
    assert all(created["secret"] not in str(entry) for entry in audit)


def test_bad_input_is_a_problem_naming_the_field(operator: Operator) -> None:
    cases = [
        ({"url": "ftp://example.com", "eventTypes": ["points.earned"]}, "url"),
        ({"url": "not a url", "eventTypes": ["points.earned"]}, "url"),
        ({"url": "HTTPS://example.com", "eventTypes": ["points.earned"]}, "url"),
        ({"url": "http://[::1", "eventTypes": ["points.earned"]}, "url"),
        ({"url": "http://example.com:99999/", "eventTypes": ["points.earned"]}, "url"),
        ({"url": "http://example.com/a b", "eventTypes": ["points.earned"]}, "url"),
        ({"url": "http:///path", "eventTypes": ["points.earned"]}, "url"),
        ({"url": "https://example.com/" + "a" * 2000, "eventTypes": ["points.earned"]}, "url"),
        ({"url": "https://example.com", "eventTypes": "points.earned"}, "eventTypes"),
        ({"url": "https://example.com", "eventTypes": ["points.stolen"]}, "eventTypes"),
        ({"url": "https://example.com", "eventTypes": []}, "eventTypes"),
        ({"eventTypes": ["points.earned"]}, "url"),
    ]
    for body, field_name in cases:
        response = operator.post("/webhooks", body)
        assert 400 <= response.status_code < 500 and response.status_code != 404, response.text
        problem = response.json()
        assert field_name in response.text, problem
        assert problem["detail"], problem
    assert operator.ok(operator.get("/webhooks"))["items"] == []


def test_only_admins_manage_webhooks(tenant: Tenant) -> None:
    clerk = operator_client(tenant, Role.operator)
    assert clerk.get("/webhooks").status_code == 403
    refused = clerk.post("/webhooks", {"url": "https://x.example", "eventTypes": ["points.spent"]})
    assert refused.status_code == 403
