"""All tables, imported once so Alembic sees the whole schema."""

from loyalty.models.account import account, api_token, program_settings
from loyalty.models.base import metadata
from loyalty.models.customer import customer, customer_balance, retired_card
from loyalty.models.ledger import (
    CUSTOMER_BUCKETS,
    SYSTEM_BUCKETS,
    ledger_entry,
    ledger_transaction,
    points_lot,
    points_lot_movement,
)
from loyalty.models.moysklad import (
    moysklad_installation,
    moysklad_product,
    moysklad_product_folder,
    moysklad_retail_store,
    moysklad_seen_jti,
    moysklad_task,
    moysklad_vendor_request,
)
from loyalty.models.operator import audit_log, operator_api_key
from loyalty.models.program_depth import (
    category_rule,
    customer_purchase_month,
    customer_tier,
    customer_tier_change,
    program_tier,
)
from loyalty.models.report import report_daily_store, report_rollup
from loyalty.models.sale import sale, sale_line, sales_return, sales_return_line
from loyalty.models.verification import verification_code
from loyalty.models.voucher import (
    client_throttle,
    voucher,
    voucher_batch,
    voucher_customer_usage,
    voucher_generation,
    voucher_movement,
    voucher_serial,
)
from loyalty.models.webhook import expiry_warning, webhook_delivery, webhook_endpoint

__all__ = [
    "CUSTOMER_BUCKETS",
    "SYSTEM_BUCKETS",
    "account",
    "api_token",
    "audit_log",
    "category_rule",
    "client_throttle",
    "customer",
    "customer_balance",
    "customer_purchase_month",
    "customer_tier",
    "customer_tier_change",
    "expiry_warning",
    "ledger_entry",
    "ledger_transaction",
    "metadata",
    "moysklad_installation",
    "moysklad_product",
    "moysklad_product_folder",
    "moysklad_retail_store",
    "moysklad_seen_jti",
    "moysklad_task",
    "moysklad_vendor_request",
    "operator_api_key",
    "points_lot",
    "points_lot_movement",
    "program_settings",
    "program_tier",
    "report_daily_store",
    "report_rollup",
    "retired_card",
    "sale",
    "sale_line",
    "sales_return",
    "sales_return_line",
    "verification_code",
    "voucher",
    "voucher_batch",
    "voucher_customer_usage",
    "voucher_generation",
    "voucher_movement",
    "voucher_serial",
    "webhook_delivery",
    "webhook_endpoint",
]
