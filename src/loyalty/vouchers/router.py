"""Operator REST API for vouchers and gift certificates (mounted under /api/v1).

Authorised by per-account operator API keys (`loyalty operator-key create`); errors are RFC 9457
problem details. Reads need the read-only role, changes the operator role.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query

from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.common.errors import InvalidRequest
from loyalty.common.schemas import IsoDateTime
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import ReadOnlyOperator, WriteOperator
from loyalty.operators.schemas import OperatorContext
from loyalty.vouchers import rules, service
from loyalty.vouchers.codes import CodeFormat
from loyalty.vouchers.repository import SORTABLE, VoucherFilter
from loyalty.vouchers.schemas import (
    AdjustOut,
    AdjustRequest,
    BatchCreate,
    BatchList,
    BatchOut,
    ExpiryType,
    GenerateRequest,
    GenerationOut,
    IssueRequest,
    MovementList,
    MovementOut,
    Page,
    SaleVoucherOut,
    SaleVoucherPage,
    VoidRequest,
    VoucherCreate,
    VoucherOut,
    VoucherPage,
    VoucherPatch,
    VoucherType,
    VoucherView,
)
from loyalty.vouchers.service import SALE_SORTS, Actor, BatchSpec, VoucherTerms

router = APIRouter(tags=["vouchers (operator API)"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


def paging(sortable: frozenset[str], default_sort: str) -> Callable[..., Awaitable[Page]]:
    """count/offset/sort/direction query parameters, sorting only by the listed fields."""

    async def page(
        count: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        sort: Annotated[str, Query(max_length=64)] = default_sort,
        direction: Annotated[Literal["asc", "desc"], Query()] = "asc",
    ) -> Page:
        if sort not in sortable:
            raise InvalidRequest(
                "Сортировка возможна по полям: " + ", ".join(sorted(sortable)), parameter="sort"
            )
        return Page(count=count, offset=offset, sort=sort, descending=direction == "desc")

    return page


VoucherPaging = Annotated[Page, Depends(paging(frozenset(SORTABLE), "serialNumber"))]
SalePaging = Annotated[Page, Depends(paging(frozenset(SALE_SORTS), "appliedAt"))]


def _actor(operator: OperatorContext) -> Actor:
    return Actor(operator.actor)


def _out(voucher: VoucherView, now: datetime) -> VoucherOut:
    return VoucherOut.of(voucher, rules.effective_status(voucher, now))


@router.post("/voucher-batches", status_code=201, summary="Создать серию купонов")
async def create_batch(
    body: BatchCreate, session: SessionDep, operator: WriteOperator, now: NowDep
) -> BatchOut:
    spec = BatchSpec(
        name=body.name,
        voucher_type=VoucherType(body.type),
        code=body.code,
        currency=body.currency,
        face_value_minor=body.faceValueMinor,
        discount_percent=body.discountPercent,
        has_balance=body.hasBalance,
        min_spend_minor=body.minSpendMinor,
        max_use_percent=body.maxUsePercent,
        uses_per_voucher=body.usesPerVoucher,
        usage_limit=body.usageLimit,
        per_customer_limit=body.perCustomerLimit,
        expiry_type=ExpiryType(body.expiry.type),
        expires_at=body.expiry.expiresAt,
        expiry_days=body.expiry.days,
        code_format=CodeFormat(
            body.codeFormat.length, body.codeFormat.alphabet, body.codeFormat.prefix
        ),
        note=body.note,
    )
    batch = await service.create_batch(
        session, account_id=operator.account_id, spec=spec, actor=_actor(operator), now=now
    )
    return BatchOut.of(batch)


@router.get("/voucher-batches", summary="Серии купонов")
async def list_batches(session: SessionDep, operator: ReadOnlyOperator) -> BatchList:
    batches = await service.list_batches(session, operator.account_id)
    return BatchList(items=[BatchOut.of(batch) for batch in batches])


@router.get("/voucher-batches/{batch_id}", summary="Серия купонов со счётчиками")
async def get_batch(
    batch_id: uuid.UUID, session: SessionDep, operator: ReadOnlyOperator
) -> BatchOut:
    batch = await service.get_batch(session, operator.account_id, batch_id)
    return BatchOut.of(batch, await service.batch_counts(session, batch))


@router.post(
    "/voucher-batches/{batch_id}/generate", status_code=201, summary="Сгенерировать коды серии"
)
async def generate(
    batch_id: uuid.UUID,
    body: GenerateRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> GenerationOut:
    if body.count > settings.VOUCHER_API_GENERATE_MAX:
        raise InvalidRequest(
            f"Через API — не больше {settings.VOUCHER_API_GENERATE_MAX} кодов за запрос;"
            " больше — командой `loyalty vouchers generate`.",
            parameter="count",
        )
    batch = await service.get_batch(session, operator.account_id, batch_id)
    generation = await service.generate(
        session,
        batch=batch,
        count=body.count,
        issue=body.issue,
        idempotency_key=idempotency_key,
        actor=_actor(operator),
        now=now,
    )
    return GenerationOut(
        batchId=generation.batch_id,
        count=generation.count,
        firstSerial=generation.first_serial,
        lastSerial=generation.last_serial,
        issued=generation.issued,
        replayed=generation.replayed,
    )


@router.post(
    "/voucher-batches/{batch_id}/vouchers", status_code=201, summary="Добавить купон со своим кодом"
)
async def create_voucher(
    batch_id: uuid.UUID,
    body: VoucherCreate,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> VoucherOut:
    voucher = await service.register_code(
        session,
        account_id=operator.account_id,
        batch_id=batch_id,
        code=body.code,
        issue=body.issue,
        customer_reference=body.customer,
        terms=VoucherTerms(
            face_value_minor=body.faceValueMinor,
            expires_at=body.expiresAt,
            valid_from=body.validFrom,
            pin=body.pin,
            note=body.note,
        ),
        actor=_actor(operator),
        now=now,
    )
    return _out(voucher, now)


@router.get("/vouchers", summary="Купоны с фильтрами и постраничным выводом")
async def list_vouchers(
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
    page: VoucherPaging,
    batch_id: Annotated[uuid.UUID | None, Query(alias="batchId")] = None,
    status: Annotated[
        Literal["NEW", "ISSUED", "REDEEMED", "VOID", "EXPIRED"] | None, Query()
    ] = None,
    voucher_type: Annotated[Literal["GIFT", "DISCOUNT", "CASH"] | None, Query(alias="type")] = None,
    customer_id: Annotated[uuid.UUID | None, Query(alias="customerId")] = None,
    code_prefix: Annotated[str | None, Query(alias="codePrefix", max_length=64)] = None,
    expires_before: Annotated[IsoDateTime | None, Query(alias="expiresBefore")] = None,
) -> VoucherPage:
    items, total = await service.list_vouchers(
        session,
        operator.account_id,
        VoucherFilter(
            batch_id=batch_id,
            status=status,
            voucher_type=voucher_type,
            customer_id=customer_id,
            code_prefix=code_prefix,
            expires_before=expires_before,
        ),
        page,
    )
    return VoucherPage(
        items=[_out(item, now) for item in items],
        count=page.count,
        offset=page.offset,
        total=total,
    )


@router.get("/vouchers/by-code/{code}", summary="Купон по коду")
async def get_by_code(
    code: str, session: SessionDep, operator: ReadOnlyOperator, now: NowDep
) -> VoucherOut:
    return _out(await service.require_by_code(session, operator.account_id, code), now)


@router.get("/vouchers/{voucher_id}", summary="Купон")
async def get_voucher(
    voucher_id: uuid.UUID, session: SessionDep, operator: ReadOnlyOperator, now: NowDep
) -> VoucherOut:
    return _out(await service.get_voucher(session, operator.account_id, voucher_id), now)


@router.get("/vouchers/{voucher_id}/movements", summary="Движения по купону")
async def movements(
    voucher_id: uuid.UUID,
    session: SessionDep,
    operator: ReadOnlyOperator,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MovementList:
    items = await service.voucher_movements(session, operator.account_id, voucher_id, limit)
    return MovementList(items=[MovementOut.of(item) for item in items])


@router.post("/vouchers/{voucher_id}/issue", summary="Выдать купон (покупателю)")
async def issue(
    voucher_id: uuid.UUID,
    body: IssueRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> VoucherOut:
    voucher = await service.issue_voucher(
        session,
        account_id=operator.account_id,
        voucher_id=voucher_id,
        customer_reference=body.customer,
        expires_at=body.expiresAt,
        actor=_actor(operator),
        now=now,
    )
    return _out(voucher, now)


@router.post("/vouchers/{voucher_id}/void", summary="Аннулировать купон")
async def void(
    voucher_id: uuid.UUID,
    body: VoidRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> VoucherOut:
    voucher = await service.void_voucher(
        session,
        account_id=operator.account_id,
        voucher_id=voucher_id,
        reason=body.reason,
        actor=_actor(operator),
        now=now,
    )
    return _out(voucher, now)


@router.post("/vouchers/{voucher_id}/adjust", summary="Изменить баланс сертификата")
async def adjust(
    voucher_id: uuid.UUID,
    body: AdjustRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    idempotency_key: IdempotencyKey = None,
) -> AdjustOut:
    if not idempotency_key:
        raise InvalidRequest(
            "Передайте заголовок Idempotency-Key: повтор с тем же ключом не изменит баланс дважды.",
            parameter="Idempotency-Key",
        )
    voucher, replayed = await service.adjust_balance(
        session,
        account_id=operator.account_id,
        voucher_id=voucher_id,
        amount_minor=body.amountMinor,
        reason=body.reason,
        idempotency_key=idempotency_key,
        actor=_actor(operator),
        now=now,
    )
    return AdjustOut(voucher=_out(voucher, now), replayed=replayed)


@router.patch("/vouchers/{voucher_id}", summary="Изменить срок или заметку купона")
async def update(
    voucher_id: uuid.UUID,
    body: VoucherPatch,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> VoucherOut:
    names = {"expiresAt": "expires_at", "validFrom": "valid_from", "note": "note"}
    changes = {names[key]: value for key, value in body.model_dump(exclude_unset=True).items()}
    voucher = await service.update_voucher(
        session,
        account_id=operator.account_id,
        voucher_id=voucher_id,
        changes=changes,
        actor=_actor(operator),
        now=now,
    )
    return _out(voucher, now)


@router.get("/sales/{sale_id}/vouchers", summary="Купоны и сертификаты, использованные в продаже")
async def sale_vouchers(
    sale_id: Annotated[str, Path(max_length=255)],
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
    page: SalePaging,
) -> SaleVoucherPage:
    items, total = await service.sale_vouchers(session, operator.account_id, sale_id, page)
    return SaleVoucherPage(
        items=[
            SaleVoucherOut(
                voucher=_out(item.voucher, now),
                amountMinor=item.amount_minor,
                uses=item.uses,
                appliedAt=item.applied_at,
                retailStoreId=item.retail_store_id,
            )
            for item in items
        ],
        count=page.count,
        offset=page.offset,
        total=total,
    )
