"""Returns: reverse points from the linked sale, line by line, cumulatively and never beyond it.

MoySklad sends no point amounts with a return (spec §1.6); we stored each sale line's share of
spent and earned points, so a return gives back (and takes back) exactly the part of each line
that came back. Shares are computed on cumulative returned quantity, so several partial
returns add up to the whole sale and never beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts.schemas import AccountContext
from loyalty.category_rules import rules as category_rules
from loyalty.common.idempotency import fallback_document_key, request_hash
from loyalty.common.money import (
    allocate_proportionally,
    line_sum_minor,
    percent_of_minor_floor_points,
    roubles_to_minor,
)
from loyalty.config import Settings
from loyalty.customers import service as customers_service
from loyalty.giftcards import service as giftcards_service
from loyalty.ledger import service as ledger_service
from loyalty.program.rules import immediate_terms
from loyalty.returns import repository
from loyalty.returns.errors import ReturnAlreadyRecordedWithDifferentContent
from loyalty.returns.schemas import SalesReturnCreate
from loyalty.sales import repository as sales_repository
from loyalty.sales.errors import DiscountedPriceAbovePrice, TooManyPositions
from loyalty.sales.service import receipt_depth
from loyalty.tiers import rules as tier_rules
from loyalty.tiers import service as tiers_service
from loyalty.vouchers import service as vouchers_service
from loyalty.vouchers.service import Actor


@dataclass(frozen=True)
class ReturnOutcome:
    replayed: bool


@dataclass
class _ReturnLine:
    sale_line_no: int | None
    assortment_id: str | None
    quantity: Decimal
    price_minor: int
    discounted_price_minor: int
    returned_minor: int
    refunded_spent_points: int = 0
    reclaimed_earned_points: int = 0


def return_key(body: SalesReturnCreate) -> str:
    if body.document_id:
        return f"ms:{body.document_id}"
    store = body.retailStore.store_id if body.retailStore else None
    return "fb:" + fallback_document_key(store, body.name, body.moment)


def share_of(points: int, returned_quantity: Decimal, sold_quantity: Decimal) -> int:
    """Points attributable to a cumulative returned quantity; exact at a full return."""
    if returned_quantity >= sold_quantity:
        return points
    share = Decimal(points) * returned_quantity / sold_quantity
    return int(share.to_integral_value(rounding=ROUND_HALF_UP))


def allocate_to_sale_lines(
    body: SalesReturnCreate, sale_lines: list[Any], previous: dict[int, Any]
) -> list[_ReturnLine]:
    """Match returned positions to the sale's lines by product, in order, never beyond what
    was sold; whatever matches nothing is recorded without points."""
    remaining = {
        line.line_no: line.quantity
        - (previous[line.line_no].quantity if line.line_no in previous else 0)
        for line in sale_lines
    }
    returned_now: dict[int, Decimal] = {}
    result: list[_ReturnLine] = []
    for position in body.positions:
        quantity_left = position.quantity
        assortment_id = position.assortment.assortment_id
        for line in sale_lines:
            if quantity_left <= 0 or assortment_id is None or line.assortment_id != assortment_id:
                continue
            take = min(quantity_left, remaining[line.line_no])
            if take <= 0:
                continue
            remaining[line.line_no] -= take
            quantity_left -= take
            returned_now[line.line_no] = returned_now.get(line.line_no, Decimal(0)) + take
            result.append(
                _ReturnLine(
                    sale_line_no=line.line_no,
                    assortment_id=assortment_id,
                    quantity=take,
                    price_minor=line.price_minor,
                    discounted_price_minor=line.discounted_price_minor,
                    returned_minor=line_sum_minor(take, line.discounted_price_minor),
                )
            )
        if quantity_left > 0:
            discounted_minor = roubles_to_minor(position.paid_price)
            result.append(
                _ReturnLine(
                    sale_line_no=None,
                    assortment_id=assortment_id,
                    quantity=quantity_left,
                    price_minor=roubles_to_minor(position.price),
                    discounted_price_minor=discounted_minor,
                    returned_minor=line_sum_minor(quantity_left, discounted_minor),
                )
            )
    by_no = {line.line_no: line for line in sale_lines}
    for return_line in result:
        if return_line.sale_line_no is None:
            continue
        sold = by_no[return_line.sale_line_no]
        before_quantity = (
            previous[sold.line_no].quantity if sold.line_no in previous else Decimal(0)
        )
        # Several return lines can hit one sale line: give the whole delta to the first.
        delta_quantity = returned_now.pop(sold.line_no, None)
        if delta_quantity is None:
            continue
        after_quantity = before_quantity + delta_quantity
        return_line.refunded_spent_points = share_of(
            sold.spent_points, after_quantity, sold.quantity
        ) - share_of(sold.spent_points, before_quantity, sold.quantity)
        return_line.reclaimed_earned_points = share_of(
            sold.earned_points, after_quantity, sold.quantity
        ) - share_of(sold.earned_points, before_quantity, sold.quantity)
    return result


def returned_value(
    sale_lines: list[Any], previous: dict[int, Any], lines: list[_ReturnLine]
) -> tuple[int, bool]:
    """The paid value of the sale returned so far, this return included (kopecks, exact at a
    full return), and whether every line of the sale has now come back."""
    returned = {
        line.line_no: previous[line.line_no].quantity if line.line_no in previous else Decimal(0)
        for line in sale_lines
    }
    for line in lines:
        if line.sale_line_no is not None:
            returned[line.sale_line_no] += line.quantity
    value = sum(
        share_of(line.paid_minor, returned[line.line_no], line.quantity) for line in sale_lines
    )
    return value, all(returned[line.line_no] >= line.quantity for line in sale_lines)


async def _give_back_vouchers(
    session: AsyncSession,
    context: AccountContext,
    *,
    sale: Any,
    sale_lines: list[Any],
    previous: dict[int, Any],
    lines: list[_ReturnLine],
    return_id: int,
    body: SalesReturnCreate,
    now: datetime,
) -> None:
    """Certificates get back their share of the payment (a program setting); a full return
    gives personal vouchers their use back.

    The customer's lock comes first, as in a sale (customer, then vouchers), even when no
    points move: a sale of the same customer then waits here instead of deadlocking."""
    if not await vouchers_service.sale_movements(session, context.account_id, sale.id):
        return
    value, full = returned_value(sale_lines, previous, lines)
    if sale.customer_id is not None:
        await ledger_service.lock_customer(session, context.account_id, sale.customer_id, now)
    actor = Actor(
        name=f"till:{context.token_id}",
        retail_store_id=body.retailStore.store_id if body.retailStore else None,
        document=body.document_id or body.name,
    )
    if context.program.restore_gift_cards_on_return:
        await giftcards_service.restore_for_return(
            session,
            context,
            sale_id=sale.id,
            sale_value_minor=sale.paid_minor,
            returned_value_minor=value,
            return_id=return_id,
            actor=actor,
            now=now,
        )
    if full:
        await vouchers_service.give_back_for_full_return(
            session,
            account_id=context.account_id,
            sale_id=sale.id,
            return_id=return_id,
            actor=actor,
            now=now,
        )


def _unlinked_lines(body: SalesReturnCreate) -> list[_ReturnLine]:
    lines = []
    for position in body.positions:
        discounted_minor = roubles_to_minor(position.paid_price)
        lines.append(
            _ReturnLine(
                sale_line_no=None,
                assortment_id=position.assortment.assortment_id,
                quantity=position.quantity,
                price_minor=roubles_to_minor(position.price),
                discounted_price_minor=discounted_minor,
                returned_minor=line_sum_minor(position.quantity, discounted_minor),
            )
        )
    return lines


async def record_return(
    session: AsyncSession,
    context: AccountContext,
    body: SalesReturnCreate,
    *,
    now: datetime,
    settings: Settings,
) -> ReturnOutcome:
    """POST /retailsalesreturn: idempotent per return document."""
    if len(body.positions) > settings.MAX_POSITIONS:
        raise TooManyPositions(settings.MAX_POSITIONS)
    for index, position in enumerate(body.positions):
        if position.discountedPrice is not None and position.discountedPrice > position.price:
            raise DiscountedPriceAbovePrice(index)
    key = return_key(body)
    fingerprint = request_hash(body)
    demand_id = body.demand.sale_id if body.demand else None
    return_id = await repository.claim(
        session,
        {
            "account_id": context.account_id,
            "idempotency_key": key,
            "request_hash": fingerprint,
            "moysklad_id": body.document_id,
            "name": body.name,
            "moment": body.moment,
            "retail_store_id": body.retailStore.store_id if body.retailStore else None,
            "demand_moysklad_id": demand_id,
            "returned_minor": 0,
            "cash_sum": body.cashSum,
            "no_cash_sum": body.noCashSum,
        },
    )
    if return_id is None:
        stored = await repository.get_by_key(session, context.account_id, key)
        if stored is None or stored.request_hash != fingerprint:
            raise ReturnAlreadyRecordedWithDifferentContent()
        return ReturnOutcome(replayed=True)

    sale = (
        await sales_repository.lock_by_moysklad_id(session, context.account_id, demand_id)
        if demand_id
        else None
    )
    customer_id = sale.customer_id if sale is not None else None
    previously_forgiven = 0
    if sale is not None:
        sale_lines = await sales_repository.lines_of(session, context.account_id, sale.id)
        previous = await repository.returned_so_far(session, context.account_id, sale.id)
        previously_forgiven = await repository.forgiven_so_far(session, context.account_id, sale.id)
        lines = allocate_to_sale_lines(body, sale_lines, previous)
    else:
        lines = _unlinked_lines(body)
        agent_reference = body.agent.reference if body.agent else None
        customer = await customers_service.find_customer(session, context, agent_reference)
        if customer is not None:
            customer_id = customer.id
    # The customer's tier and what they bought count under their lock (as in a sale).
    locked = None
    locked_standing = None
    if customer_id is not None and context.tiers:
        locked = await ledger_service.lock_customer(session, context.account_id, customer_id, now)
        locked_standing = await tiers_service.lock_standing(
            session,
            context.account_id,
            context.tiers,
            context.program.tier_window_months,
            customer_id,
            now,
        )
    if sale is None and customer_id is not None:
        if context.tiers or context.has_category_rules:
            # No sale to reverse: take back what these lines would earn today.
            depth = await receipt_depth(
                session,
                context,
                [line.assortment_id for line in lines],
                locked_standing.before if locked_standing is not None else None,
            )
            returned_per_line = [line.returned_minor for line in lines]
            reclaim = category_rules.points_to_earn(returned_per_line, depth.terms, 0, True)
            shares = category_rules.earned_per_line(reclaim, returned_per_line, depth.terms)
            for line, share in zip(lines, shares, strict=True):
                line.reclaimed_earned_points = share
        else:
            returned_minor = sum(line.returned_minor for line in lines)
            reclaim = percent_of_minor_floor_points(returned_minor, context.program.earn_percent)
            if reclaim and returned_minor:
                shares = allocate_proportionally(reclaim, [line.returned_minor for line in lines])
                for line, share in zip(lines, shares, strict=True):
                    line.reclaimed_earned_points = share

    refund = sum(line.refunded_spent_points for line in lines)
    reclaim = sum(line.reclaimed_earned_points for line in lines)
    finish: dict[str, Any] = {
        "sale_id": sale.id if sale is not None else None,
        "customer_id": customer_id,
        "returned_minor": sum(line.returned_minor for line in lines),
    }
    if customer_id is not None and (refund or reclaim):
        if locked is None:
            locked = await ledger_service.lock_customer(
                session, context.account_id, customer_id, now
            )
        reversal = await ledger_service.post_reversal(
            session,
            locked,
            refund_spent_points=refund,
            reclaim_earned_points=reclaim,
            sale_transaction_id=sale.ledger_transaction_id if sale is not None else None,
            previously_forgiven_points=previously_forgiven,
            fallback_refund_terms=immediate_terms(context.program, now),
            idempotency_key=f"return:{return_id}",
            return_id=return_id,
            now=now,
        )
        finish |= {
            "refunded_spent_points": reversal.refunded_spent_points,
            "reclaimed_earned_points": reversal.reclaimed_earned_points,
            "debt_points": reversal.debt_points,
            "forgiven_expired_points": reversal.forgiven_expired_points,
            "ledger_transaction_id": reversal.transaction_id,
        }
    if sale is not None:
        await _give_back_vouchers(
            session,
            context,
            sale=sale,
            sale_lines=sale_lines,
            previous=previous,
            lines=lines,
            return_id=return_id,
            body=body,
            now=now,
        )
    if locked_standing is not None:
        await tiers_service.record_document(
            session,
            context.account_id,
            context.tiers,
            context.program.tier_window_months,
            locked_standing,
            # A return counts against the month of its sale, so the window drops both together.
            month=tier_rules.month_of(sale.created_at if sale is not None else now),
            returned_minor=finish["returned_minor"],
            reason="return",
            now=now,
        )
    await repository.finish(session, context.account_id, return_id, finish)
    await repository.insert_lines(
        session,
        [
            {
                "account_id": context.account_id,
                "return_id": return_id,
                "line_no": index,
                "sale_line_no": line.sale_line_no,
                "assortment_id": line.assortment_id,
                "quantity": line.quantity,
                "price_minor": line.price_minor,
                "discounted_price_minor": line.discounted_price_minor,
                "returned_minor": line.returned_minor,
                "refunded_spent_points": line.refunded_spent_points,
                "reclaimed_earned_points": line.reclaimed_earned_points,
            }
            for index, line in enumerate(lines)
        ],
    )
    return ReturnOutcome(replayed=False)
