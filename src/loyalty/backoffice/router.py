"""Back-office operator API (mounted under /api/v1): customers, their points, the program.

Reads need the read-only role, changes to customers and points the operator role, program
settings the admin role. Errors are RFC 9457 problem details.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query

from loyalty.backoffice import service
from loyalty.backoffice.errors import IdempotencyKeyRequired
from loyalty.backoffice.schemas import (
    AdjustmentOut,
    AdjustmentRequest,
    BalanceOut,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    ExportOut,
    LedgerLineOut,
    LedgerPage,
    MergeOut,
    MergeRequest,
    ProgramOut,
    ProgramUpdate,
    ReplaceCard,
    StatusChange,
    TransferOut,
    TransferRequest,
    program_changes,
)
from loyalty.common.dependencies import NowDep
from loyalty.customers.errors import ReasonRequired, ZeroAdjustment
from loyalty.db.session import SessionDep
from loyalty.operators.dependencies import AdminOperator, ReadOnlyOperator, WriteOperator

router = APIRouter(tags=["back office (operator API)"])

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]


def _required(key: str | None) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyRequired()
    return key.strip()


def _reason(text: str) -> str:
    if not text.strip():
        raise ReasonRequired()
    return text.strip()


@router.get("/customers", summary="Покупатели: поиск и постраничный вывод")
async def list_customers(
    session: SessionDep,
    operator: ReadOnlyOperator,
    now: NowDep,
    search: Annotated[
        str | None,
        Query(max_length=255, description="Телефон в любом формате, карта, e-mail или часть имени"),
    ] = None,
    status: Annotated[Literal["active", "blocked", "merged", "erased"] | None, Query()] = None,
    after: Annotated[uuid.UUID | None, Query(description="nextCursor предыдущей страницы")] = None,
    count: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CustomerPage:
    views = await service.list_customers(
        session,
        operator.account_id,
        search=search,
        status=status,
        after_id=after,
        limit=count,
        now=now,
    )
    return CustomerPage(
        items=[CustomerOut.of(item) for item in views],
        nextCursor=views[-1].row.id if len(views) == count else None,
    )


@router.get("/customers/{customer_id}", summary="Покупатель с балансами")
async def get_customer(
    customer_id: uuid.UUID, session: SessionDep, operator: ReadOnlyOperator, now: NowDep
) -> CustomerOut:
    return CustomerOut.of(await service.view(session, operator.account_id, customer_id, now))


@router.patch("/customers/{customer_id}", summary="Изменить данные покупателя")
async def update_customer(
    customer_id: uuid.UUID,
    body: CustomerPatch,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> CustomerOut:
    fields = body.model_dump(exclude_unset=True)
    customer = await service.update_customer(
        session, operator.account_id, customer_id, fields, actor=operator.actor, now=now
    )
    return CustomerOut.of(customer)


@router.post("/customers/{customer_id}/block", summary="Заблокировать покупателя")
async def block(
    customer_id: uuid.UUID,
    body: StatusChange,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> CustomerOut:
    customer = await service.set_blocked(
        session,
        operator.account_id,
        customer_id,
        True,
        reason=body.reason,
        actor=operator.actor,
        now=now,
    )
    return CustomerOut.of(customer)


@router.post("/customers/{customer_id}/unblock", summary="Разблокировать покупателя")
async def unblock(
    customer_id: uuid.UUID,
    body: StatusChange,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> CustomerOut:
    customer = await service.set_blocked(
        session,
        operator.account_id,
        customer_id,
        False,
        reason=body.reason,
        actor=operator.actor,
        now=now,
    )
    return CustomerOut.of(customer)


@router.post("/customers/{customer_id}/merge", summary="Объединить дубликат с этим покупателем")
async def merge(
    customer_id: uuid.UUID,
    body: MergeRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> MergeOut:
    customer, replayed = await service.merge(
        session,
        operator.account_id,
        customer_id,
        body.duplicateId,
        reason=body.reason,
        actor=operator.actor,
        now=now,
    )
    return MergeOut(customer=CustomerOut.of(customer), replayed=replayed)


@router.post("/customers/{customer_id}/replace-card", summary="Заменить карту покупателя")
async def replace_card(
    customer_id: uuid.UUID,
    body: ReplaceCard,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
) -> CustomerOut:
    customer = await service.replace_card(
        session, operator.account_id, customer_id, body.cardNumber, actor=operator.actor, now=now
    )
    return CustomerOut.of(customer)


@router.get("/customers/{customer_id}/ledger", summary="История баллов покупателя")
async def ledger(
    customer_id: uuid.UUID,
    session: SessionDep,
    operator: ReadOnlyOperator,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="nextCursor предыдущей страницы")
    ] = None,
    count: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LedgerPage:
    lines = await service.ledger_page(
        session, operator.account_id, customer_id, before_entry_id=before, limit=count
    )
    return LedgerPage(
        items=[LedgerLineOut.of(line) for line in lines],
        nextCursor=lines[-1].entry_id if len(lines) == count else None,
    )


@router.post("/customers/{customer_id}/adjustments", summary="Начислить или списать баллы вручную")
async def adjust(
    customer_id: uuid.UUID,
    body: AdjustmentRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    idempotency_key: IdempotencyKey = None,
) -> AdjustmentOut:
    if body.points == 0:
        raise ZeroAdjustment()
    change = await service.adjust(
        session,
        operator.account_id,
        customer_id,
        points=body.points,
        reason=_reason(body.reason),
        idempotency_key=_required(idempotency_key),
        actor=operator.actor,
        now=now,
    )
    return AdjustmentOut(
        customerId=customer_id,
        transactionId=change.transaction_id,
        points=body.points,
        replayed=change.replayed,
        balance=BalanceOut.of(change.balances[customer_id]),
    )


@router.post("/transfers", summary="Перевести баллы между покупателями")
async def transfer(
    body: TransferRequest,
    session: SessionDep,
    operator: WriteOperator,
    now: NowDep,
    idempotency_key: IdempotencyKey = None,
) -> TransferOut:
    change = await service.transfer(
        session,
        operator.account_id,
        source_id=body.fromCustomerId,
        target_id=body.toCustomerId,
        points=body.points,
        reason=_reason(body.reason),
        idempotency_key=_required(idempotency_key),
        actor=operator.actor,
        now=now,
    )
    return TransferOut(
        transactionId=change.transaction_id,
        points=body.points,
        replayed=change.replayed,
        fromBalance=BalanceOut.of(change.balances[body.fromCustomerId]),
        toBalance=BalanceOut.of(change.balances[body.toCustomerId]),
    )


@router.get("/customers/{customer_id}/export", summary="Все данные о покупателе (выгрузка)")
async def export(
    customer_id: uuid.UUID, session: SessionDep, operator: WriteOperator, now: NowDep
) -> ExportOut:
    document = await service.export(
        session, operator.account_id, customer_id, actor=operator.actor, now=now
    )
    return ExportOut.model_validate(document)


@router.post("/customers/{customer_id}/erase", summary="Обезличить покупателя по его запросу")
async def erase(
    customer_id: uuid.UUID, session: SessionDep, operator: WriteOperator, now: NowDep
) -> CustomerOut:
    customer = await service.erase(
        session, operator.account_id, customer_id, actor=operator.actor, now=now
    )
    return CustomerOut.of(customer)


@router.get("/program", summary="Настройки программы лояльности")
async def get_program(session: SessionDep, operator: ReadOnlyOperator) -> ProgramOut:
    return ProgramOut.of(await service.get_program(session, operator.account_id))


@router.put("/program", summary="Изменить настройки программы (только переданные поля)")
async def update_program(
    body: ProgramUpdate, session: SessionDep, operator: AdminOperator, now: NowDep
) -> ProgramOut:
    program = await service.update_program(
        session, operator.account_id, program_changes(body), actor=operator.actor, now=now
    )
    return ProgramOut.of(program)
