"""Sales at the till: price a receipt (read-only), send a spending code, commit the sale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts.schemas import AccountContext
from loyalty.category_rules import repository as category_rules_repository
from loyalty.category_rules import rules as category_rules
from loyalty.category_rules.schemas import LineTerms
from loyalty.common.idempotency import fallback_document_key, request_hash
from loyalty.common.money import (
    line_sum_minor,
    minor_to_roubles,
    roubles_to_minor,
)
from loyalty.common.plural import points_phrase
from loyalty.config import Settings
from loyalty.customers import service as customers_service
from loyalty.customers.errors import CustomerBlocked, CustomerNotFound
from loyalty.customers.schemas import CustomerFields
from loyalty.giftcards import service as giftcards_service
from loyalty.ledger import service as ledger_service
from loyalty.ledger.schemas import Balance
from loyalty.program.rules import earning_terms, render_receipt_text
from loyalty.program.schemas import ProgramSettings
from loyalty.sales import pricing, repository
from loyalty.sales.errors import (
    DiscountedPriceAbovePrice,
    FractionalPoints,
    SaleAlreadyRecordedWithDifferentContent,
    SpendAboveProgramLimit,
    SpendNotReflectedInReceipt,
    SpendWithoutCustomer,
    TooManyPositions,
)
from loyalty.sales.schemas import (
    AgentRef,
    PositionIn,
    PositionOut,
    RecalcBonusProgramOut,
    RecalcRequest,
    RecalcResponse,
    SaleCreate,
    SpendCodeRequest,
)
from loyalty.tiers import rules as tier_rules
from loyalty.tiers import service as tiers_service
from loyalty.tiers.schemas import Standing
from loyalty.verification import service as verification_service
from loyalty.verification.senders import CodeSender
from loyalty.verification.service import IssuedCode
from loyalty.vouchers import service as vouchers_service
from loyalty.vouchers.errors import VoucherNotInReceipt, roubles
from loyalty.vouchers.schemas import Stacking, VoucherChoice
from loyalty.vouchers.service import Actor

DEFAULT_RECEIPT_TEXT = "Баллов на счёте после покупки: {balance_after}"


def _agent_fields(agent: AgentRef | None) -> CustomerFields | None:
    if agent is None:
        return None
    data = agent.model_dump(exclude={"meta"}, exclude_none=True)
    try:
        return CustomerFields.model_validate(data)
    except ValueError:
        # A malformed optional field must not cost the cashier the sale.
        return CustomerFields(name=agent.name)


def _pricing_lines(positions: list[PositionIn]) -> list[pricing.PricingLine]:
    return [
        pricing.PricingLine(
            quantity=position.quantity,
            price_minor=roubles_to_minor(position.price),
            serial_count=len(position.sn or []),
        )
        for position in positions
    ]


def _check_position_count(count: int, settings: Settings) -> None:
    if count > settings.MAX_POSITIONS:
        raise TooManyPositions(settings.MAX_POSITIONS)


def _receipt_info(
    program: ProgramSettings,
    *,
    customer_name: str | None,
    balance: Balance,
    spent: int,
    earned: int,
    balance_after: int,
    now: datetime,
    voucher: VoucherChoice | None = None,
    standing: Standing | None = None,
) -> str:
    terms = earning_terms(program, now)
    activation_date = terms.activates_at.strftime("%d.%m.%Y")
    values = {
        "balance": str(balance.available_points),
        "balance_after": str(balance_after),
        "earned": str(earned),
        "spent": str(spent),
        "pending": str(balance.pending_points),
        "customer_name": customer_name or "",
        "activation_date": activation_date,
    }
    lines = [render_receipt_text(program.receipt_text or DEFAULT_RECEIPT_TEXT, values)]
    if voucher is not None:
        lines.append(
            f"Купон «{voucher.voucher.batch_name}» № {voucher.voucher.serial_number}:"
            f" скидка {roubles(voucher.discount_minor)}"
        )
    if earned and terms.activates_at > now:
        lines.append(f"{points_phrase(earned)} за покупку станут доступны {activation_date}")
    if balance.pending_points:
        lines.append(f"Ожидают начисления: {points_phrase(balance.pending_points)}")
    if balance.debt_points:
        lines.append(f"Задолженность по баллам: {points_phrase(balance.debt_points)}")
    if standing is not None:
        lines.append(tier_rules.receipt_line(standing))
    return "\n".join(line for line in lines if line.strip())


@dataclass(frozen=True)
class ReceiptDepth:
    """The percents a receipt is priced with: the tier's (else the program's), line by line
    overridden by category rules."""

    standing: Standing | None
    max_spend_percent: Decimal
    terms: list[LineTerms]

    @property
    def uniform_spend(self) -> bool:
        return all(line.spend_allowed for line in self.terms)


async def receipt_depth(
    session: AsyncSession,
    context: AccountContext,
    assortment_ids: list[str | None],
    standing: Standing | None,
    *,
    with_rules: bool = True,
) -> ReceiptDepth:
    """`with_rules=False` when no points can move (no customer): skips the rules' round trip."""
    program = context.program
    tier = standing.tier if standing is not None else None
    earn_percent = tier.earn_percent if tier is not None else program.earn_percent
    max_spend_percent = tier.max_spend_percent if tier is not None else program.max_spend_percent
    effects = {}
    if context.has_category_rules and with_rules:
        effects = await category_rules_repository.effects_for(
            session, context.account_id, [item for item in assortment_ids if item is not None]
        )
    terms = [
        category_rules.line_terms(effects.get(item) if item is not None else None, earn_percent)
        for item in assortment_ids
    ]
    return ReceiptDepth(standing, max_spend_percent, terms)


def _spread_discount(
    lines: list[pricing.PricingLine], discount_minor: int, depth: ReceiptDepth
) -> list[pricing.PricedLine]:
    """Points pay only for lines they may pay for: with exclusions, the discount is spread over
    the other lines whenever it fits there."""
    if depth.uniform_spend:
        return pricing.apply_discount(lines, discount_minor)
    eligible = [index for index, line in enumerate(depth.terms) if line.spend_allowed]
    subset = [lines[index] for index in eligible]
    if not subset or discount_minor > pricing.receipt_total_minor(subset):
        return pricing.apply_discount(lines, discount_minor)
    priced_subset = pricing.apply_discount(subset, discount_minor)
    by_source: dict[int, list[pricing.PricedLine]] = {}
    for line in priced_subset:
        source = eligible[line.source_index]
        by_source.setdefault(source, []).append(
            pricing.PricedLine(
                source,
                line.quantity,
                line.price_minor,
                line.discounted_price_minor,
                line.serial_start,
                line.serial_end,
            )
        )
    unchanged = pricing.unchanged(lines)
    result: list[pricing.PricedLine] = []
    for index in range(len(lines)):
        result.extend(by_source.get(index, [unchanged[index]]))
    return result


async def quote_sale(
    session: AsyncSession,
    context: AccountContext,
    body: RecalcRequest,
    *,
    now: datetime,
    settings: Settings,
) -> RecalcResponse:
    """POST /retaildemand/recalc: read-only; the same input always gives the same answer."""
    _check_position_count(len(body.positions), settings)
    program = context.program
    lines = _pricing_lines(body.positions)
    total_minor = pricing.receipt_total_minor(lines)
    customer = None
    balance = Balance(0, 0, 0)
    holds_vouchers = False
    window_total_minor = 0
    reference = body.agent.reference if body.agent is not None else None
    if reference is not None and reference.strip():
        found = await repository.quote_reads(
            session,
            context.account_id,
            reference.strip(),
            tier_window_since=tier_rules.window_start(now, program.tier_window_months)
            if context.tiers
            else None,
        )
        if found is not None:
            window_total_minor = found.window_total_minor
            customer = customers_service.CustomerRef(
                found.customer_id, found.moysklad_id, found.name, found.status
            )
            if not customer.active and body.spending:
                raise CustomerBlocked(customer.status, parameter="agent.meta.id")
            holds_vouchers = found.holds_vouchers
            if found.balance is not None:
                balance = await ledger_service.balance_as_of(
                    session, context.account_id, customer.id, found.balance, now
                )
    if customer is None and reference is not None and not program.auto_enroll:
        raise CustomerNotFound(parameter="agent.meta.id")
    standing = (
        tier_rules.standing(context.tiers, window_total_minor)
        if context.tiers and body.agent is not None
        else None
    )
    depth = await receipt_depth(
        session,
        context,
        [position.assortment.assortment_id for position in body.positions],
        standing,
        with_rules=body.agent is not None,
    )
    voucher = None
    if customer is not None and holds_vouchers and program.apply_personal_vouchers:
        voucher = await vouchers_service.choose_for_receipt(
            session,
            account_id=context.account_id,
            customer_id=customer.id,
            receipt_total_minor=total_minor,
            now=now,
        )
    voucher_minor = voucher.discount_minor if voucher is not None else 0
    spend = 0
    points_allowed = not (voucher_minor and program.voucher_stacking == Stacking.exclusive)
    if body.spending and (customer is not None or body.agent is not None) and points_allowed:
        spend_base_minor = (
            total_minor
            if depth.uniform_spend
            else category_rules.spend_base_minor([line.total_minor for line in lines], depth.terms)
        )
        spend = pricing.points_to_spend(
            max(0, spend_base_minor - voucher_minor),
            balance.available_points,
            depth.max_spend_percent,
            body.preferred_points,
        )
    discount_minor = voucher_minor + pricing.spend_discount_minor(spend)
    priced = _spread_discount(lines, discount_minor, depth)
    earn = 0
    if body.agent is not None and (customer is None or customer.active):
        paid_per_position = [0] * len(lines)
        for line in priced:
            paid_per_position[line.source_index] += line.paid_minor
        earn = category_rules.points_to_earn(
            paid_per_position, depth.terms, spend, program.earn_on_spend
        )
    immediate = earning_terms(program, now).activates_at <= now
    credited_now = max(0, earn - balance.debt_points) if immediate else 0
    balance_after = balance.available_points - spend + credited_now
    need_verification = (
        spend > 0
        and program.verify_spend_above_points is not None
        and spend > program.verify_spend_above_points
    )
    return RecalcResponse(
        agent=body.agent,
        positions=[_position_out(body.positions[line.source_index], line) for line in priced],
        bonusProgram=RecalcBonusProgramOut(
            transactionType="SPENDING" if body.spending else "EARNING",
            agentBonusBalance=balance.available_points,
            bonusValueToSpend=spend,
            bonusValueToEarn=earn,
            agentBonusBalanceAfter=balance_after,
            paidByBonusPoints=minor_to_roubles(pricing.spend_discount_minor(spend)),
            receiptExtraInfo=_receipt_info(
                program,
                customer_name=customer.name if customer else None,
                balance=balance,
                spent=spend,
                earned=earn,
                balance_after=balance_after,
                now=now,
                voucher=voucher,
                standing=standing,
            ),
        ),
        needVerification=need_verification,
    )


def _position_out(source: PositionIn, line: pricing.PricedLine) -> PositionOut:
    serials = source.sn[line.serial_start : line.serial_end] if source.sn is not None else None
    return PositionOut(
        assortment=source.assortment,
        quantity=line.quantity,
        price=source.price,
        discountPercent=line.discount_percent,
        discountedPrice=minor_to_roubles(line.discounted_price_minor),
        sn=serials,
        pack=source.pack,
    )


async def request_spend_code(
    session: AsyncSession,
    context: AccountContext,
    body: SpendCodeRequest,
    *,
    now: datetime,
    settings: Settings,
    sender: CodeSender,
) -> IssuedCode:
    """POST /retaildemand/verify: the phone from the request, else the customer's own."""
    customer = await customers_service.find_customer(session, context, body.counterpartyId)
    phone = body.phone
    if not (phone and phone.strip()) and customer is not None:
        phone = await customers_service.phone_of(session, context, customer.id)
    return await verification_service.issue_code(
        session,
        account_id=context.account_id,
        purpose="spending",
        phone=phone,
        retail_store_id=body.retailStore.store_id if body.retailStore else None,
        customer_id=customer.id if customer else None,
        now=now,
        settings=settings,
        sender=sender,
    )


@dataclass(frozen=True)
class SaleOutcome:
    replayed: bool


@dataclass(frozen=True)
class _Line:
    assortment_id: str | None
    quantity: Decimal
    price_minor: int
    discounted_price_minor: int
    total_minor: int
    paid_minor: int


def sale_key(body: SaleCreate) -> str:
    """The sale's own id when MoySklad sends one; otherwise store, number and moment (spec §4.2)."""
    if body.document_id:
        return f"ms:{body.document_id}"
    store = body.retailStore.store_id if body.retailStore else None
    return "fb:" + fallback_document_key(store, body.name, body.moment)


def _whole_points(value: Decimal | None, parameter: str) -> int:
    if value is None:
        return 0
    if value != value.to_integral_value():
        raise FractionalPoints(parameter)
    return int(value)


async def confirm_sale(
    session: AsyncSession,
    context: AccountContext,
    body: SaleCreate,
    *,
    now: datetime,
    settings: Settings,
) -> SaleOutcome:
    """POST /retaildemand: idempotent per sale; spend checked, earn recomputed, at commit."""
    _check_position_count(len(body.positions), settings)
    program = context.program
    lines: list[_Line] = []
    for index, position in enumerate(body.positions):
        price_minor = roubles_to_minor(position.price)
        discounted_minor = roubles_to_minor(position.paid_price)
        if discounted_minor > price_minor:
            raise DiscountedPriceAbovePrice(index)
        lines.append(
            _Line(
                assortment_id=position.assortment.assortment_id,
                quantity=position.quantity,
                price_minor=price_minor,
                discounted_price_minor=discounted_minor,
                total_minor=line_sum_minor(position.quantity, price_minor),
                paid_minor=line_sum_minor(position.quantity, discounted_minor),
            )
        )
    total_minor = sum(line.total_minor for line in lines)
    paid_minor = sum(line.paid_minor for line in lines)
    spend = _whole_points(
        body.bonusProgram.bonusValueToSpend if body.bonusProgram else None,
        "bonusProgram.bonusValueToSpend",
    )
    key = sale_key(body)
    fingerprint = request_hash(body)
    claim = {
        "account_id": context.account_id,
        "idempotency_key": key,
        "request_hash": fingerprint,
        "moysklad_id": body.document_id,
        "name": body.name,
        "moment": body.moment,
        "retail_store_id": body.retailStore.store_id if body.retailStore else None,
        "total_minor": total_minor,
        "paid_minor": paid_minor,
        "cash_sum_minor": roubles_to_minor(body.cashSum) if body.cashSum is not None else None,
        "no_cash_sum_minor": roubles_to_minor(body.noCashSum)
        if body.noCashSum is not None
        else None,
        "requested_earn_points": body.bonusProgram.bonusValueToEarn if body.bonusProgram else None,
    }
    reference = body.agent.reference if body.agent is not None else None
    found = None
    if reference is not None:
        # The customer rides with the claim, share-locked so the status read stays true
        # until commit: one round trip, both before the balance lock.
        sale_id, found = await repository.claim_and_find_customer(session, claim, reference)
    else:
        sale_id = await repository.claim(session, claim)
    if sale_id is None:
        stored = await repository.get_by_key(session, context.account_id, key)
        if stored is None or stored.request_hash != fingerprint:
            raise SaleAlreadyRecordedWithDifferentContent()
        return SaleOutcome(replayed=True)

    customer = None
    if body.agent is not None and reference is not None:
        customer = await customers_service.enroll_unless_found(
            session,
            context,
            None if found is None else customers_service.customer_from_row(found),
            reference=reference,
            sync_id=None,
            fields=_agent_fields(body.agent),
            now=now,
        )
    if spend and customer is None:
        raise SpendWithoutCustomer()
    if spend and customer is not None and not customer.active:
        raise CustomerBlocked(customer.status, parameter="bonusProgram.bonusValueToSpend")
    receipt_discount_minor = total_minor - paid_minor
    if pricing.spend_discount_minor(spend) > receipt_discount_minor:
        raise SpendNotReflectedInReceipt(str(minor_to_roubles(receipt_discount_minor)))
    actor = Actor(
        name=f"till:{context.token_id}",
        retail_store_id=body.retailStore.store_id if body.retailStore else None,
        document=body.document_id or body.name,
    )
    # Lock order: the customer's balance, their tier, then vouchers and certificates
    # (ledger.vouchers).
    locked = (
        await ledger_service.lock_customer(session, context.account_id, customer.id, now)
        if customer is not None
        else None
    )
    locked_standing = None
    if context.tiers and customer is not None:
        locked_standing = await tiers_service.lock_standing(
            session,
            context.account_id,
            context.tiers,
            program.tier_window_months,
            customer.id,
            now,
        )
    voucher_minor = 0
    if customer is not None and program.apply_personal_vouchers:
        voucher = await vouchers_service.consume_for_sale(
            session,
            account_id=context.account_id,
            customer_id=customer.id,
            receipt_total_minor=total_minor,
            implied_voucher_minor=receipt_discount_minor - pricing.spend_discount_minor(spend),
            sale_id=sale_id,
            actor=actor,
            now=now,
            settings=settings,
            holds_vouchers=customer.holds_vouchers,
        )
        voucher_minor = voucher.discount_minor if voucher is not None else 0
        if voucher_minor and spend and program.voucher_stacking == Stacking.exclusive:
            raise VoucherNotInReceipt()
    depth = await receipt_depth(
        session,
        context,
        [line.assortment_id for line in lines],
        locked_standing.before if locked_standing is not None else None,
        with_rules=customer is not None,
    )
    if spend:
        spend_base_minor = category_rules.spend_base_minor(
            [line.total_minor for line in lines], depth.terms
        )
        limit = pricing.spend_cap_points(
            max(0, spend_base_minor - voucher_minor), depth.max_spend_percent
        )
        if spend > limit:
            raise SpendAboveProgramLimit(limit)
    if body.giftCards:
        await giftcards_service.redeem_for_sale(
            session,
            context,
            payments=body.giftCards,
            receipt_minor=paid_minor,
            sale_id=sale_id,
            customer_id=customer.id if customer is not None else None,
            actor=actor,
            now=now,
        )
    columns: dict[str, list[Any]] = {
        "line_nos": list(range(len(lines))),
        "assortment_ids": [line.assortment_id for line in lines],
        "quantities": [line.quantity for line in lines],
        "prices_minor": [line.price_minor for line in lines],
        "discounted_prices_minor": [line.discounted_price_minor for line in lines],
        "totals_minor": [line.total_minor for line in lines],
        "paid_minor": [line.paid_minor for line in lines],
        "spent_points": [0] * len(lines),
        "earned_points": [0] * len(lines),
    }
    recorded = False
    finish: repository.SaleFinish | None = None
    if customer is not None and locked is not None:
        earn = (
            category_rules.points_to_earn(
                [line.paid_minor for line in lines], depth.terms, spend, program.earn_on_spend
            )
            if customer.active
            else 0
        )
        columns["spent_points"] = category_rules.spent_per_line(
            spend,
            [line.total_minor - line.paid_minor for line in lines],
            [line.total_minor for line in lines],
            depth.terms,
        )
        columns["earned_points"] = category_rules.earned_per_line(
            earn, [line.paid_minor for line in lines], depth.terms
        )
        finish = repository.SaleFinish(
            customer_id=customer.id, spent_points=spend, earned_points=earn
        )
        posting = await ledger_service.post_sale(
            session,
            locked,
            spend_points=spend,
            earn_points=earn,
            earn_terms=earning_terms(program, now),
            idempotency_key=f"sale:{sale_id}",
            sale_id=sale_id,
            now=now,
            # The lines and the sale's outcome ride in the posting's statement.
            document=repository.lines_with_posting(context.account_id, sale_id, columns, finish),
        )
        recorded = posting.transaction_id is not None
    if locked_standing is not None:
        await tiers_service.record_document(
            session,
            context.account_id,
            context.tiers,
            program.tier_window_months,
            locked_standing,
            month=tier_rules.month_of(now),
            purchased_minor=paid_minor,
            reason="sale",
            now=now,
        )
    if not recorded:
        await repository.record_lines(session, context.account_id, sale_id, columns, finish)
    return SaleOutcome(replayed=False)
