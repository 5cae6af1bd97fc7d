"""Bad input gets MoySklad's error envelope, a Russian message and the parameter; never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import TOKEN_HEADER, Tenant
from tests.support import payloads


def envelope(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    assert {"error", "code", "error_message"} <= set(error)
    assert isinstance(error["code"], int)
    assert any("а" <= char <= "я" for char in error["error_message"].lower())
    return error


ROUTES: list[tuple[str, str]] = [
    ("POST", "/counterparty"),
    ("GET", "/counterparty?search=1&retailStoreId=1"),
    ("POST", "/counterparty/detail"),
    ("POST", "/counterparty/verify"),
    ("POST", "/retaildemand/recalc"),
    ("POST", "/retaildemand/verify"),
    ("POST", "/retaildemand"),
    ("POST", "/retailsalesreturn"),
]


class TestAuthentication:
    @pytest.mark.parametrize(("method", "path"), ROUTES)
    def test_missing_and_wrong_tokens_are_401_everywhere(
        self, tenant: Tenant, anonymous: httpx.Client, method: str, path: str
    ) -> None:
        for client in (anonymous, tenant.new_client("lty_wrong")):
            response = client.request(method, path, json={} if method == "POST" else None)
            assert response.status_code == 401
            assert envelope(response)["code"] == 40100

    def test_suspended_account_is_refused_at_once(self, tenant: Tenant) -> None:
        assert (
            tenant.client.get(
                "/counterparty", params={"search": "x", "retailStoreId": "s"}
            ).status_code
            == 200
        )
        tenant.db.fetch(
            "UPDATE account SET status = 'suspended' WHERE id = :a RETURNING id",
            a=tenant.account_id,
        )
        response = tenant.client.get("/counterparty", params={"search": "x", "retailStoreId": "s"})
        assert response.status_code == 401

    def test_another_accounts_token_sees_only_its_own_data(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        tenant.set_program(welcome_bonus_points=70, auto_enroll=False)
        customer = tenant.register()
        foreign = other_tenant.new_client(other_tenant.token)
        other_tenant.set_program(auto_enroll=False)
        response = foreign.post("/counterparty/detail", json={"meta": {"id": customer}})
        assert response.status_code == 404


class TestMalformedBodies:
    def test_invalid_json(self, tenant: Tenant) -> None:
        response = tenant.client.post(
            "/retaildemand",
            content=b'{"positions": [',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 412
        assert "JSON" in envelope(response)["error_message"]

    def test_invalid_utf8(self, tenant: Tenant) -> None:
        response = tenant.client.post(
            "/retaildemand",
            content=b'{"name": "\xff\xfe"}',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 412

    def test_wrong_content_type_is_415(self, tenant: Tenant) -> None:
        response = tenant.client.post(
            "/retaildemand",
            content=b"name=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 415 and envelope(response)["code"] == 41500

    def test_oversized_body_is_413_before_parsing(self, tenant: Tenant) -> None:
        huge = json.dumps({"positions": [payloads.position()] * 20000})
        assert len(huge) > 1_048_576
        response = tenant.client.post(
            "/retaildemand", content=huge, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413 and envelope(response)["code"] == 41300

    def test_oversized_chunked_body_is_413(self, tenant: Tenant) -> None:
        def chunks() -> Any:
            yield b'{"positions": ['
            for _ in range(8000):
                yield json.dumps(payloads.position()).encode() + b","
            yield b"{}]}"

        response = tenant.client.post(
            "/retaildemand", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413

    def test_too_many_positions_within_the_size_limit(self, tenant: Tenant) -> None:
        positions = [{"assortment": {}, "quantity": 1, "price": 1}] * 1001
        response = tenant.post("/retaildemand/recalc", {"positions": positions})
        assert response.status_code == 412 and envelope(response)["parameter"] == "positions"

    def test_deep_nesting_is_refused_cleanly(self, tenant: Tenant) -> None:
        nested = "[" * 5000 + "]" * 5000
        response = tenant.client.post(
            "/retaildemand/recalc",
            content=f'{{"positions": {nested}}}',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 412

    def test_duplicate_keys_do_not_crash(self, tenant: Tenant) -> None:
        text = '{"positions": [{"assortment": {}, "quantity": 1, "quantity": 2, "price": 1}]}'
        response = tenant.client.post(
            "/retaildemand/recalc", content=text, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200


class TestFieldValidation:
    @pytest.mark.parametrize(
        ("position", "parameter"),
        [
            ({"quantity": 1, "price": 123.45678}, "positions[0].price"),
            ({"quantity": 1.0001, "price": 1}, "positions[0].quantity"),
            ({"quantity": -1, "price": 1}, "positions[0].quantity"),
            ({"quantity": 0, "price": 1}, "positions[0].quantity"),
            ({"quantity": 1, "price": -0.01}, "positions[0].price"),
            ({"quantity": 1, "price": 1e308}, "positions[0].price"),
            ({"quantity": 1e308, "price": 1}, "positions[0].quantity"),
            ({"quantity": "много", "price": 1}, "positions[0].quantity"),
            ({"quantity": 1}, "positions[0].price"),
        ],
    )
    def test_bad_numbers_name_the_position(
        self, tenant: Tenant, position: dict[str, Any], parameter: str
    ) -> None:
        body = {"positions": [{"assortment": {"meta": {"id": "p"}}, **position}]}
        response = tenant.post("/retaildemand/recalc", body)
        assert response.status_code == 412
        assert envelope(response)["parameter"] == parameter

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    def test_non_finite_numbers(self, tenant: Tenant, literal: str) -> None:
        text = f'{{"positions": [{{"assortment": {{}}, "quantity": 1, "price": {literal}}}]}}'
        response = tenant.client.post(
            "/retaildemand/recalc", content=text, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 412
        assert envelope(response)["parameter"] == "positions[0].price"

    def test_missing_positions(self, tenant: Tenant) -> None:
        response = tenant.post("/retaildemand", {"meta": {"id": "x"}})
        assert response.status_code == 412
        error = envelope(response)
        assert (
            error["parameter"] == "positions"
            and error["error_message"] == "Не указан обязательный параметр"
        )

    def test_wrong_transaction_type(self, tenant: Tenant) -> None:
        body = payloads.recalc(None, [payloads.position()]) | {
            "bonusProgram": {"transactionType": "STEALING"}
        }
        response = tenant.post("/retaildemand/recalc", body)
        assert (
            response.status_code == 412
            and envelope(response)["parameter"] == "bonusProgram.transactionType"
        )

    def test_negative_spend(self, tenant: Tenant) -> None:
        body = payloads.sale(payloads.new_id(), None, [payloads.position()], spend=-5)
        response = tenant.post("/retaildemand", body)
        assert (
            response.status_code == 412
            and envelope(response)["parameter"] == "bonusProgram.bonusValueToSpend"
        )


class TestRouting:
    def test_unknown_path_is_404_in_the_envelope(self, tenant: Tenant) -> None:
        response = tenant.client.get("/nowhere")
        assert response.status_code == 404 and envelope(response)

    def test_wrong_method_is_405_in_the_envelope(self, tenant: Tenant) -> None:
        response = tenant.client.delete("/retaildemand")
        assert response.status_code == 405 and envelope(response)

    def test_token_header_is_case_insensitive(
        self, tenant: Tenant, anonymous: httpx.Client
    ) -> None:
        response = anonymous.get(
            "/counterparty",
            params={"search": "x", "retailStoreId": "s"},
            headers={TOKEN_HEADER.lower(): tenant.token},
        )
        assert response.status_code == 200


class TestNulCharacters:
    """PostgreSQL text cannot hold NUL: it is refused as bad input, never a 500."""

    def test_nul_in_a_body_string(self, tenant: Tenant) -> None:
        body = payloads.counterparty(payloads.new_id(), name="Иван\u0000Иванов")
        response = tenant.post("/counterparty", body)
        assert response.status_code == 412 and "NUL" in envelope(response)["error_message"]

    def test_nul_in_a_query(self, tenant: Tenant) -> None:
        response = tenant.client.get(
            "/counterparty", params={"search": "a\u0000b", "retailStoreId": "s"}
        )
        assert response.status_code == 412
