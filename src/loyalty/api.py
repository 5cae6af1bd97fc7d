"""All routers. LoyaltyAPI paths are relative to the base URL given to MoySklad: `/loyalty`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from loyalty.audit.router import router as audit_router
from loyalty.backoffice.router import router as backoffice_router
from loyalty.category_rules.router import router as category_rules_router
from loyalty.common.error_handlers import ErrorShape, problem_details_shape
from loyalty.common.schemas import PROBLEM_RESPONSES, error_responses
from loyalty.compat.router import COMPAT_ERROR_SHAPES, COMPAT_PREFIX
from loyalty.compat.router import ROUTERS as COMPAT_ROUTERS
from loyalty.customers.router import router as customers_router
from loyalty.giftcards.router import router as giftcards_router
from loyalty.health.router import router as health_router
from loyalty.observability.router import router as metrics_router
from loyalty.operators.router import router as operator_keys_router
from loyalty.reports.router import router as reports_router
from loyalty.returns.router import router as returns_router
from loyalty.sales.router import router as sales_router
from loyalty.settings_page.router import router as settings_page_router
from loyalty.tiers.router import router as tiers_router
from loyalty.vendor.router import router as vendor_router
from loyalty.vouchers.router import router as vouchers_router
from loyalty.webhooks.router import router as webhooks_router

LOYALTY_PREFIX = "/loyalty"
# Compatibility APIs answer failures in their own documents' shapes; the statuses are ours.
COMPAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description}
    for status, description in {
        401: "Неверный или отсутствующий ключ оператора",
        403: "У ключа недостаточно прав",
        404: "Ваучер или документ не найден",
        409: "Конфликт с текущим состоянием ваучера",
        412: "Некорректный запрос или ваучер нельзя использовать",
        413: "Слишком большой запрос",
        415: "Тело запроса не JSON",
        429: "Слишком частые запросы",
        503: "Система временно недоступна; повторите",
    }.items()
}
OPERATOR_PREFIX = "/api/v1"

# (router, path prefix, documented error responses). Every router is included directly on the
# application: FastAPI resolves nested routers on each request, which costs measurable time on
# the till's hot path (docs/performance.md).
ROUTES: list[tuple[APIRouter, str, dict[int | str, dict[str, Any]]]] = [
    (metrics_router, "", {}),
    (health_router, "", {}),
    # LoyaltyAPI: paths relative to the base URL given to MoySklad.
    (customers_router, LOYALTY_PREFIX, error_responses()),
    (sales_router, LOYALTY_PREFIX, error_responses()),
    (returns_router, LOYALTY_PREFIX, error_responses()),
    (giftcards_router, LOYALTY_PREFIX, error_responses()),
    # The MoySklad solution: Vendor API and the settings page.
    (vendor_router, "", {}),
    (settings_page_router, "", {}),
    # Operator REST API: per-account operator keys, RFC 9457 problem details.
    (vouchers_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    (audit_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    (operator_keys_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    (backoffice_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    (reports_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    (webhooks_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    (tiers_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    (category_rules_router, OPERATOR_PREFIX, PROBLEM_RESPONSES),
    # Compatibility APIs of other voucher services.
    *((router, COMPAT_PREFIX, COMPAT_RESPONSES) for router in COMPAT_ROUTERS),
]


def include_routes(app: FastAPI) -> None:
    for router, prefix, responses in ROUTES:
        app.include_router(router, prefix=prefix, responses=responses)


# Error bodies by path prefix; everything else gets MoySklad's envelope.
ERROR_SHAPES: dict[str, ErrorShape] = {
    OPERATOR_PREFIX: problem_details_shape,
    **COMPAT_ERROR_SHAPES,
}
