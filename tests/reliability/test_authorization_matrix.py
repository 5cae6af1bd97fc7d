"""Authorisation over every route the application serves, generated from its route table.

Every route belongs to a known authentication class; a route nobody classified fails the test,
so a new API cannot slip in unprotected. Each protected route refuses a missing credential and
a wrong one; another account's valid credential never reaches this account's objects.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.main import create_app
from tests.conftest import Tenant
from tests.solution.conftest import running_fake, solution_settings_for
from tests.support import payloads
from tests.support.server import LiveServer, free_port

# Path prefix → how the route authenticates.
CLASSES: list[tuple[str, str]] = [
    ("/loyalty/", "till_token"),
    ("/api/v1/", "operator_key"),
    ("/compat/", "operator_key"),
    ("/api/moysklad/vendor/", "vendor_jwt"),
    ("/moysklad/settings", "settings_session"),
]
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}


def all_routes() -> list[tuple[str, str]]:
    app = create_app(Settings(DATABASE_URL="postgresql://unused@127.0.0.1/unused"))
    routes: list[tuple[str, str]] = []
    for route in app.routes:
        contexts = (
            route.effective_route_contexts()
            if hasattr(route, "effective_route_contexts")
            else [route]
        )
        for context in contexts:
            for method in sorted(getattr(context, "methods", None) or []):
                if method != "HEAD":
                    routes.append((method, context.path))
    return routes


ROUTES = all_routes()


def auth_class(path: str) -> str | None:
    if path in PUBLIC:
        return "public"
    return next((kind for prefix, kind in CLASSES if path.startswith(prefix)), None)


def concrete(path: str) -> str:
    return re.sub(
        r"\{[^}]+\}", lambda match: str(uuid.uuid4()) if "id" in match.group(0) else "X1", path
    )


def test_every_route_is_classified() -> None:
    unclassified = [f"{method} {path}" for method, path in ROUTES if auth_class(path) is None]
    assert unclassified == [], "classify these routes in CLASSES or PUBLIC"
    assert len(ROUTES) >= 40


PROTECTED = [(method, path) for method, path in ROUTES if auth_class(path) not in ("public", None)]


def wrong_credentials(kind: str) -> dict[str, str]:
    if kind == "till_token":
        return {"Lognex-Discount-API-Auth-Token": "lty_" + "x" * 43}
    if kind == "operator_key":
        return {"Authorization": "Bearer " + "k" * 40}
    if kind == "vendor_jwt":
        return {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJpYXQiOjF9.c2lnbmF0dXJl"}
    return {}


@pytest.fixture(scope="module")
def configured(app_settings: Settings) -> Iterator[LiveServer]:
    """The whole application, configured as a MoySklad solution (so no route is switched off)."""
    with running_fake() as fake:
        port = free_port()
        settings = solution_settings_for(app_settings, fake, f"http://127.0.0.1:{port}")
        live = LiveServer(create_app(settings, clock=Clock()), port=port)
        live.start()
        try:
            yield live
        finally:
            live.stop()


@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
@pytest.mark.parametrize("credential", ["none", "wrong"])
def test_protected_routes_refuse_missing_and_wrong_credentials(
    configured: LiveServer, method: str, path: str, credential: str
) -> None:
    server = configured
    kind = auth_class(path)
    assert kind is not None
    headers = wrong_credentials(kind) if credential == "wrong" else {}
    url = f"{server.base_url}{concrete(path)}"
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    if kind == "settings_session":
        # The settings page authenticates with MoySklad's context key or its own signed session.
        query = {"contextKey": "forged"} if credential == "wrong" else {}
        response = httpx.request(
            method, url, params=query, data={"session": "forged"} if body is not None else None
        )
    else:
        response = httpx.request(method, url, headers=headers, json=body)
    assert response.status_code in (401, 403), response.text[:300]


@pytest.fixture
def operator_keys(tenant: Tenant, other_tenant: Tenant, run_operator_key: Any) -> tuple[str, str]:
    return run_operator_key(tenant), run_operator_key(other_tenant)


@pytest.fixture
def run_operator_key(database_url: str) -> Any:
    import json

    from click.testing import CliRunner

    from loyalty.cli import cli

    def create(tenant: Tenant) -> str:
        result = CliRunner().invoke(
            cli,
            ["operator-key", "create", str(tenant.account_id), "--role", "admin"],
            env={"DATABASE_URL": database_url},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        key: str = json.loads(result.stdout)["key"]
        return key

    return create


class TestNothingCrossesAccounts:
    def test_a_till_token_sees_only_its_own_customers(
        self, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        tenant.set_program(welcome_bonus_points=500, auto_enroll=False)
        other_tenant.set_program(auto_enroll=False)
        customer = tenant.register(phone="+79035557788", discountCardNumber="ONLY-A")
        foreign = other_tenant.client
        assert (
            foreign.post("/counterparty/detail", json={"meta": {"id": customer}}).status_code == 404
        )
        for text in ("+79035557788", "ONLY-A", "Иванов"):
            rows = foreign.get(
                "/counterparty", params={"search": text, "retailStoreId": "s"}
            ).json()["rows"]
            assert rows == [], text
        sale = payloads.sale(
            payloads.new_id(),
            customer,
            [payloads.position(quantity=1, price=1000, discounted_price=500)],
            spend=500,
        )
        refused = foreign.post("/retaildemand", json=sale)
        assert refused.status_code == 412  # B knows no such customer, so it cannot spend A's points
        assert tenant.balance(customer) == 500

    def test_an_operator_key_sees_only_its_own_account(
        self,
        tenant: Tenant,
        other_tenant: Tenant,
        operator_keys: tuple[str, str],
        server: LiveServer,
    ) -> None:
        own_key, foreign_key = operator_keys
        api = f"{server.base_url}/api/v1"
        created = httpx.post(
            f"{api}/voucher-batches",
            headers={"Authorization": f"Bearer {own_key}"},
            json={
                "name": "Подарочные 1000",
                "type": "GIFT",
                "faceValueMinor": 100000,
                "hasBalance": True,
            },
        )
        assert created.status_code in (200, 201), created.text
        batch_id = created.json()["id"]
        mine = httpx.get(
            f"{api}/voucher-batches/{batch_id}", headers={"Authorization": f"Bearer {own_key}"}
        )
        assert mine.status_code == 200
        theirs = httpx.get(
            f"{api}/voucher-batches/{batch_id}", headers={"Authorization": f"Bearer {foreign_key}"}
        )
        assert theirs.status_code == 404
        listed = httpx.get(
            f"{api}/voucher-batches", headers={"Authorization": f"Bearer {foreign_key}"}
        )
        assert batch_id not in listed.text


SECRET_NAME = r"(^|[._])(token|secret|password|signature|api_key|presented_key|secret_key)$"


class TestSecretsAtRest:
    """Credentials are stored only as digests and compared in constant time."""

    def test_credential_checks_use_constant_time_comparison(self) -> None:
        import ast
        import inspect

        from loyalty.accounts import tokens
        from loyalty.operators import service as operators_service

        assert "hmac.compare_digest" in inspect.getsource(tokens.token_matches)
        assert "token_matches" in inspect.getsource(operators_service)
        # No credential is compared with `==` anywhere in the service.
        source_root = Path(tokens.__file__).resolve().parents[1]
        offenders = []
        for path in source_root.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Compare) and any(
                    isinstance(op, ast.Eq | ast.NotEq) for op in node.ops
                ):
                    names = [ast.unparse(part) for part in (node.left, *node.comparators)]
                    # SQL WHERE clauses (`table.c.token_hash == digest`) look a digest up; only
                    # Python comparisons of secret values matter here.
                    if any(".c." in name for name in names):
                        continue
                    if any(re.search(SECRET_NAME, name) for name in names):
                        offenders.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
        assert offenders == []

    def test_tokens_and_keys_are_stored_as_sha256_digests(self, tenant: Tenant) -> None:
        checks = tenant.db.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
            " WHERE conname IN"
            " ('ck_api_token_token_hash_length', 'ck_operator_api_key_key_hash_length')"
        )
        assert {row["conname"] for row in checks} == {
            "ck_api_token_token_hash_length",
            "ck_operator_api_key_key_hash_length",
        }
        assert all("= 32" in row["definition"] for row in checks)
        stored = tenant.db.scalar(
            "SELECT token_hash FROM api_token WHERE account_id = :a", a=tenant.account_id
        )
        assert tenant.token.encode() not in bytes(stored)
