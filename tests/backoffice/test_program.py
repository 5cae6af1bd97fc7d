"""Program settings over the operator API: everyone reads, only admins change."""

from __future__ import annotations

from tests.backoffice.conftest import BackOffice, problem


def test_admins_change_settings_and_the_change_is_audited(
    admin: BackOffice, office: BackOffice, reader: BackOffice
) -> None:
    current = reader.ok(reader.client.get("/program"))
    assert current["earn_percent"] == 5  # a JSON number, not a string
    changed = admin.ok(admin.client.put("/program", json={"earn_percent": 7.5, "expiry_days": 365}))
    assert changed["earn_percent"] == 7.5 and changed["expiry_days"] == 365
    assert changed["max_spend_percent"] == current["max_spend_percent"]
    cleared = admin.ok(admin.client.put("/program", json={"expiry_days": None}))
    assert cleared["expiry_days"] is None
    records = admin.ok(admin.client.get("/audit", params={"action": "program.update"}))["items"]
    assert len(records) == 2
    assert records[-1]["before"]["earn_percent"] == "5"
    assert records[-1]["after"]["earn_percent"] == "7.5"
    for client in (office, reader):
        problem(client.client.put("/program", json={"earn_percent": 1}), 403, 40360)


def test_invalid_settings_are_named(admin: BackOffice) -> None:
    cases = [
        ({"earn_percent": 101}, "earn_percent"),
        ({"voucher_stacking": "both"}, "voucher_stacking"),
        ({"auto_enroll": None}, "auto_enroll"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ]
    for body, parameter in cases:
        answer = problem(admin.client.put("/program", json=body), 412)
        assert answer["parameter"] == parameter, answer
    assert admin.ok(admin.client.get("/program"))["earn_percent"] == 5


def test_the_back_office_is_documented_with_response_models(admin: BackOffice) -> None:
    schema = admin.client.get("/../../openapi.json").json()
    paths = schema["paths"]
    expected = {
        ("get", "/api/v1/customers"): "CustomerPage",
        ("get", "/api/v1/customers/{customer_id}"): "CustomerOut",
        ("patch", "/api/v1/customers/{customer_id}"): "CustomerOut",
        ("post", "/api/v1/customers/{customer_id}/block"): "CustomerOut",
        ("post", "/api/v1/customers/{customer_id}/merge"): "MergeOut",
        ("post", "/api/v1/customers/{customer_id}/replace-card"): "CustomerOut",
        ("get", "/api/v1/customers/{customer_id}/ledger"): "LedgerPage",
        ("post", "/api/v1/customers/{customer_id}/adjustments"): "AdjustmentOut",
        ("post", "/api/v1/transfers"): "TransferOut",
        ("get", "/api/v1/customers/{customer_id}/export"): "ExportOut",
        ("post", "/api/v1/customers/{customer_id}/erase"): "CustomerOut",
        ("get", "/api/v1/program"): "ProgramOut",
        ("put", "/api/v1/program"): "ProgramOut",
    }
    for (method, path), model in expected.items():
        responses = paths[path][method]["responses"]
        ok = responses["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ok.endswith(f"/{model}"), (method, path, ok)
        problem_schema = responses["409"]["content"]["application/problem+json"]["schema"]
        assert problem_schema["$ref"].endswith("/Problem")
