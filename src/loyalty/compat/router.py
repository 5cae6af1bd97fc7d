"""Compatibility APIs for POS systems built for other voucher services (under /compat).

Each is a thin router over the same voucher engine, speaking its seed document's JSON shapes,
statuses and outcomes, and answering errors in that API's own shape.
"""

from __future__ import annotations

from fastapi import APIRouter

from loyalty.common.error_handlers import ErrorShape
from loyalty.compat.carecloud import router as carecloud
from loyalty.compat.carecloud.errors import carecloud_shape
from loyalty.compat.enactor import router as enactor
from loyalty.compat.enactor.errors import enactor_shape
from loyalty.compat.revenue_monster import router as revenue_monster
from loyalty.compat.revenue_monster.errors import revenue_monster_shape
from loyalty.compat.smart_loyalty import router as smart_loyalty
from loyalty.compat.smart_loyalty.errors import smart_loyalty_shape

COMPAT_PREFIX = "/compat"

# Included one by one under COMPAT_PREFIX (see loyalty.api): nested routers cost time per request.
ROUTERS: list[APIRouter] = [
    enactor.router,
    revenue_monster.router,
    smart_loyalty.router,
    carecloud.router,
]

COMPAT_ERROR_SHAPES: dict[str, ErrorShape] = {
    COMPAT_PREFIX + enactor.PREFIX: enactor_shape,
    COMPAT_PREFIX + revenue_monster.PREFIX: revenue_monster_shape,
    COMPAT_PREFIX + smart_loyalty.PREFIX: smart_loyalty_shape,
    COMPAT_PREFIX + carecloud.PREFIX: carecloud_shape,
}
