"""Tier and category-rule invariants hold in PostgreSQL, whatever code writes the rows."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.ledger.test_database_invariants import failure_of
from tests.support import payloads
from tests.support.vouchers import Operator
from tests.tiers.test_tiers import PRODUCT, with_tiers

TIER = "INSERT INTO program_tier (account_id, threshold_minor, name, earn_percent,"
RULE = "INSERT INTO category_rule (account_id, target_kind, target_id, earn_percent, no_earn,"


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            f"{TIER} max_spend_percent) VALUES (:a, 0, 'A', 1, 1), (:a, 0, 'B', 1, 1)",
            ("23505", "pk_program_tier"),
        ),
        (
            f"{TIER} max_spend_percent) VALUES (:a, 0, 'A', 1, 1), (:a, 5, 'A', 1, 1)",
            ("23505", "uq_program_tier_account_id_name"),
        ),
        (
            f"{TIER} max_spend_percent) VALUES (:a, -1, 'A', 1, 1)",
            ("23514", "ck_program_tier_threshold_non_negative"),
        ),
        (
            f"{TIER} max_spend_percent) VALUES (:a, 0, 'A', 100.01, 1)",
            ("23514", "ck_program_tier_earn_percent"),
        ),
        (
            f"{TIER} max_spend_percent) VALUES (:a, 0, '', 1, 1)",
            ("23514", "ck_program_tier_name_length"),
        ),
        (
            f"{RULE} no_spend) VALUES (:a, 'folder', 'f', 5, true, false)",
            ("23514", "ck_category_rule_earn_or_no_earn"),
        ),
        (
            f"{RULE} no_spend) VALUES (:a, 'folder', 'f', NULL, false, false)",
            ("23514", "ck_category_rule_has_effect"),
        ),
        (
            f"{RULE} no_spend) VALUES (:a, 'brand', 'f', NULL, true, false)",
            ("23514", "ck_category_rule_target_kind"),
        ),
        (
            "UPDATE program_settings SET tier_window_months = 0 WHERE account_id = :a",
            ("23514", "ck_program_settings_tier_window_months"),
        ),
    ],
)
def test_configuration_checks(tenant: Tenant, statement: str, expected: tuple[str, str]) -> None:
    assert failure_of(tenant.db, statement, a=tenant.account_id) == expected


@pytest.fixture
def counted(tenant: Tenant, operator: Operator) -> str:
    with_tiers(operator)
    customer = tenant.register()
    tenant.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
    return customer


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "UPDATE customer_purchase_month SET purchased_minor = -1 WHERE account_id = :a",
            ("23514", "ck_customer_purchase_month_purchased_non_negative"),
        ),
        (
            "UPDATE customer_purchase_month SET month = month + 1 WHERE account_id = :a",
            ("23514", "ck_customer_purchase_month_first_of_month"),
        ),
        (
            "UPDATE customer_tier SET window_total_minor = -1 WHERE account_id = :a",
            ("23514", "ck_customer_tier_window_total_non_negative"),
        ),
        (
            "INSERT INTO customer_tier_change (account_id, customer_id, from_tier, to_tier,"
            " reason, window_total_minor, changed_at) SELECT account_id, customer_id, 'A', 'A',"
            " 'sale', 0, now() FROM customer_tier WHERE account_id = :a",
            ("23514", "ck_customer_tier_change_is_a_change"),
        ),
        (
            "INSERT INTO customer_tier_change (account_id, customer_id, from_tier, to_tier,"
            " reason, window_total_minor, changed_at) SELECT account_id, customer_id, 'A', 'B',"
            " 'whim', 0, now() FROM customer_tier WHERE account_id = :a",
            ("23514", "ck_customer_tier_change_reason"),
        ),
    ],
)
def test_customer_state_checks(
    tenant: Tenant, counted: str, statement: str, expected: tuple[str, str]
) -> None:
    assert failure_of(tenant.db, statement, a=tenant.account_id) == expected


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE customer_tier_change SET to_tier = 'Золото' WHERE account_id = :a",
        "DELETE FROM customer_tier_change WHERE account_id = :a",
        "TRUNCATE customer_tier_change",
    ],
)
def test_tier_history_is_append_only(tenant: Tenant, counted: str, statement: str) -> None:
    assert failure_of(tenant.db, statement, a=tenant.account_id) == (
        "23514",
        "ledger_append_only",
    )
