"""The only writer of the points ledger.

Rules every function here keeps:
- a customer's ledger, lots and balance change only under that customer's row lock
  (`lock_customer`), and the lock is taken before anything is computed;
- every change is one balanced transaction with a unique idempotency key;
- activations and expiries that fell due are posted before anything else is decided, so a
  balance is never spent after it expired;
- services never commit: the request (or job) that called us owns the transaction;
- every posting writes its webhook events (for accounts with endpoints) in its own
  transaction: `_record` and `_post` derive them from the entries; a transfer writes
  `points.transferred`; a merge's `customer.merged` is written by the back office's merge,
  which also moves vouchers and happens even when the duplicate held no points.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.ledger import events, repository, rules
from loyalty.ledger.errors import InsufficientPoints, LedgerKeyReused
from loyalty.ledger.schemas import (
    Balance,
    Bucket,
    DocumentWrite,
    Entry,
    LedgerLine,
    Lot,
    LotDraw,
    LotTerms,
    ReversalResult,
    SalePostingResult,
    TransactionHeader,
    TransactionKind,
)
from loyalty.webhooks.service import emit
from loyalty.webhooks.service import remember_flag as remember_webhooks_flag


@dataclass
class LockedCustomer:
    """A customer whose balance row is locked for the current transaction."""

    account_id: uuid.UUID
    customer_id: uuid.UUID
    balance: Balance
    # The account has webhook endpoints: postings also write their events to the outbox.
    has_webhooks: bool = False
    _lots: list[Lot] | None = field(default=None, repr=False)
    _event_subject: dict[str, str | None] | None = field(default=None, repr=False)

    async def event_subject(self, session: AsyncSession) -> dict[str, str | None]:
        """Who webhook events are about: our id and MoySklad's (read once, only for accounts
        with webhooks)."""
        if self._event_subject is None:
            moysklad_id = await repository.customer_moysklad_id(
                session, self.account_id, self.customer_id
            )
            self._event_subject = {
                "customerId": str(self.customer_id),
                "customerMoyskladId": moysklad_id,
            }
        return self._event_subject

    async def lots(self, session: AsyncSession) -> list[Lot]:
        if self._lots is None:
            self._lots = await repository.live_lots(session, self.account_id, self.customer_id)
        return self._lots

    def forget_lots(self) -> None:
        """Lots were drawn from in the database: read them again when next needed."""
        self._lots = None

    async def lots_to_spend(self, session: AsyncSession, points: int, now: datetime) -> list[Lot]:
        """The spendable lots a spend of `points` draws from, in spend order: only as many as
        it needs, so a customer with thousands of lots costs a spend no more than one with few."""
        if self._lots is not None:
            return self._lots
        return await repository.lots_to_spend(
            session, self.account_id, self.customer_id, points, now
        )


async def open_customer(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID
) -> None:
    await repository.insert_balance(session, account_id, customer_id)


async def read_balance(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, now: datetime
) -> Balance | None:
    """Lock-free read, exact as of `now` even if due activations/expiries are not posted yet."""
    stored = await repository.get_balance(session, account_id, customer_id)
    if stored is None:
        return None
    return await balance_as_of(session, account_id, customer_id, stored, now)


async def balance_as_of(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    stored: Balance,
    now: datetime,
) -> Balance:
    """A stored balance read without the lock, made exact as of `now` (due maturities)."""
    if stored.next_maturity_at is None or stored.next_maturity_at > now:
        return stored
    due = await repository.due_lots(session, account_id, customer_id, now)
    effective = rules.effective_balance(stored, due, now)
    return replace(
        effective,
        next_maturity_at=await repository.next_maturity(session, account_id, customer_id, now),
    )


async def lock_customer(
    session: AsyncSession, account_id: uuid.UUID, customer_id: uuid.UUID, now: datetime
) -> LockedCustomer:
    found = await repository.lock_balance(session, account_id, customer_id)
    if found is None:
        raise LookupError(f"customer {customer_id} has no balance row")
    stored, has_webhooks = found
    remember_webhooks_flag(session, account_id, has_webhooks)
    locked = LockedCustomer(account_id, customer_id, stored, has_webhooks)
    if stored.next_maturity_at is not None and stored.next_maturity_at <= now:
        await _post_maturities(session, locked, now)
    return locked


async def _post_maturities(session: AsyncSession, locked: LockedCustomer, now: datetime) -> None:
    """Post the activations and expiries that fell due (one transaction per lot, keyed by lot,
    so two processes can never post the same maturity twice). Reads only the due lots."""
    lots = await repository.due_lots(session, locked.account_id, locked.customer_id, now)
    available, pending = locked.balance.available_points, locked.balance.pending_points
    for lot in sorted(lots, key=lambda item: item.id):
        expired = lot.expires_at is not None and lot.expires_at <= now
        if expired:
            bucket = Bucket.pending if lot.state == "pending" else Bucket.available
            assert lot.expires_at is not None
            transaction_id = await repository.claim_transaction(
                session,
                TransactionHeader(
                    account_id=locked.account_id,
                    kind=TransactionKind.expiry,
                    idempotency_key=f"expiry:{lot.id}",
                    customer_id=locked.customer_id,
                    effective_at=lot.expires_at,
                ),
            )
            if transaction_id is not None and lot.remaining_points > 0:
                await _record(
                    session,
                    locked,
                    transaction_id,
                    TransactionKind.expiry,
                    lot.expires_at,
                    [
                        Entry(Bucket.expired, lot.remaining_points, None),
                        Entry(bucket, -lot.remaining_points, locked.customer_id),
                    ],
                )
                await repository.apply_draws(
                    session,
                    locked.account_id,
                    transaction_id,
                    [LotDraw(lot.id, bucket, lot.remaining_points)],
                )
                if bucket is Bucket.pending:
                    pending -= lot.remaining_points
                else:
                    available -= lot.remaining_points
            continue
        if lot.state == "pending" and lot.activates_at <= now:
            transaction_id = await repository.claim_transaction(
                session,
                TransactionHeader(
                    account_id=locked.account_id,
                    kind=TransactionKind.activation,
                    idempotency_key=f"activation:{lot.id}",
                    customer_id=locked.customer_id,
                    effective_at=lot.activates_at,
                ),
            )
            if transaction_id is not None:
                await _record(
                    session,
                    locked,
                    transaction_id,
                    TransactionKind.activation,
                    lot.activates_at,
                    [
                        Entry(Bucket.available, lot.remaining_points, locked.customer_id),
                        Entry(Bucket.pending, -lot.remaining_points, locked.customer_id),
                    ],
                )
                await repository.activate_lot(session, locked.account_id, lot.id)
                pending -= lot.remaining_points
                available += lot.remaining_points
    next_maturity_at = await repository.next_maturity(
        session, locked.account_id, locked.customer_id, now
    )
    await repository.set_next_maturity(
        session, locked.account_id, locked.customer_id, next_maturity_at
    )
    locked._lots = None  # read again from the database, which now holds the posted state
    locked.balance = Balance(available, pending, locked.balance.debt_points, next_maturity_at)


async def _record(
    session: AsyncSession,
    locked: LockedCustomer,
    transaction_id: int,
    kind: TransactionKind,
    occurred_at: datetime,
    entries: list[Entry],
) -> None:
    """Write a transaction's entries, and its webhook events in the same transaction (every
    posting passes here or through `_post`, so a committed posting has its events and a
    rolled-back one none)."""
    await repository.insert_entries(session, locked.account_id, transaction_id, entries)
    await _emit_events(session, locked, transaction_id, kind, occurred_at, entries)


async def _emit_events(
    session: AsyncSession,
    locked: LockedCustomer,
    transaction_id: int,
    kind: TransactionKind,
    occurred_at: datetime,
    entries: list[Entry],
) -> None:
    if locked.has_webhooks:
        for event_type, payload in events.ledger_events(
            kind, entries, transaction_id=transaction_id, customer_id=locked.customer_id
        ):
            subject = await locked.event_subject(session)
            await emit(
                session, locked.account_id, event_type, payload | subject, occurred_at=occurred_at
            )


async def _advance_next_maturity(
    session: AsyncSession, locked: LockedCustomer, moment: datetime | None
) -> None:
    if moment is None:
        return
    current = locked.balance.next_maturity_at
    if current is None or moment < current:
        await repository.set_next_maturity(session, locked.account_id, locked.customer_id, moment)
        locked.balance = Balance(
            locked.balance.available_points,
            locked.balance.pending_points,
            locked.balance.debt_points,
            moment,
        )


def _lot_maturity(state: str, terms: LotTerms) -> datetime | None:
    return terms.activates_at if state == "pending" else terms.expires_at


@dataclass(frozen=True)
class _CreditPlan:
    """Points coming to a customer: debt is repaid first, the rest becomes a lot."""

    entries: list[Entry]
    repaid: int
    lot_points: int  # 0 when everything went to repay debt
    lot_state: str


def _plan_credit(
    locked: LockedCustomer, points: int, terms: LotTerms, now: datetime, source: Bucket
) -> _CreditPlan:
    repaid = min(points, locked.balance.debt_points)
    rest = points - repaid
    entries: list[Entry] = [Entry(source, -points, None)]
    if repaid:
        entries.append(Entry(Bucket.debt, repaid, locked.customer_id))
    state = "pending" if terms.activates_at > now else "active"
    if rest:
        bucket = Bucket.pending if state == "pending" else Bucket.available
        entries.append(Entry(bucket, rest, locked.customer_id))
    return _CreditPlan(entries, repaid, rest, state)


async def _apply_credit(
    session: AsyncSession,
    locked: LockedCustomer,
    plan: _CreditPlan,
    terms: LotTerms,
    lot_id: int | None,
) -> None:
    """What a written credit changes in `locked`: its lots, balance and next maturity."""
    balance = locked.balance
    available, pending = balance.available_points, balance.pending_points
    if plan.lot_points and lot_id is not None:
        rest, state = plan.lot_points, plan.lot_state
        if locked._lots is not None:
            locked._lots.append(Lot(lot_id, state, rest, terms.activates_at, terms.expires_at))
        if state == "pending":
            pending += rest
        else:
            available += rest
        await _advance_next_maturity(session, locked, _lot_maturity(state, terms))
    locked.balance = Balance(
        available, pending, balance.debt_points - plan.repaid, locked.balance.next_maturity_at
    )


async def _credit(
    session: AsyncSession,
    locked: LockedCustomer,
    transaction_id: int,
    points: int,
    terms: LotTerms,
    now: datetime,
    source: Bucket,
) -> tuple[list[Entry], int]:
    """Entries for points coming to the customer from `source`: debt is repaid first, the
    rest becomes a lot (pending until `terms.activates_at`). Updates `locked.balance`."""
    plan = _plan_credit(locked, points, terms, now, source)
    lot_id = None
    if plan.lot_points:
        lot_id = await repository.insert_lot(
            session,
            account_id=locked.account_id,
            customer_id=locked.customer_id,
            transaction_id=transaction_id,
            points=plan.lot_points,
            state=plan.lot_state,
            terms=terms,
        )
    await _apply_credit(session, locked, plan, terms, lot_id)
    return plan.entries, plan.repaid


async def _post(
    session: AsyncSession,
    locked: LockedCustomer,
    header: TransactionHeader,
    *,
    draws: list[LotDraw],
    spent_points: int,
    credit: _CreditPlan | None,
    terms: LotTerms | None,
    document: DocumentWrite | None = None,
) -> int:
    """A posting that spends `draws` (the entries for `spent_points` are added here) and
    credits `credit`: the transaction, draws, movements, lot and entries in one statement, so the
    customer's lock is held for one round trip instead of up to six. Returns the transaction id."""
    entries: list[Entry] = []
    if spent_points:
        entries += [
            Entry(Bucket.redeemed, spent_points, None),
            Entry(Bucket.available, -spent_points, locked.customer_id),
        ]
    if credit is not None:
        entries += credit.entries
    entries = _credits_first(entries)
    posted = await repository.post_transaction(
        session,
        header,
        entries,
        draws=draws,
        lot_points=credit.lot_points if credit is not None else 0,
        lot_state=credit.lot_state if credit is not None else "active",
        terms=terms,
        document=document,
    )
    if posted is None:
        # The document's own unique key is claimed first, so this is a broken invariant.
        raise LedgerKeyReused(header.idempotency_key)
    if posted.lots_drawn != len(draws):
        # The lots were read under the customer's lock a moment before: they cannot be gone.
        raise InsufficientPoints(
            available_points=0,
            requested_points=spent_points,
            parameter="bonusProgram.bonusValueToSpend",
        )
    if spent_points:
        balance = locked.balance
        locked.balance = Balance(
            balance.available_points - spent_points,
            balance.pending_points,
            balance.debt_points,
            balance.next_maturity_at,
        )
        locked.forget_lots()
    if credit is not None and terms is not None:
        await _apply_credit(session, locked, credit, terms, posted.lot_id)
    await _emit_events(
        session, locked, posted.transaction_id, header.kind, header.effective_at, entries
    )
    return posted.transaction_id


async def post_sale(
    session: AsyncSession,
    locked: LockedCustomer,
    *,
    spend_points: int,
    earn_points: int,
    earn_terms: LotTerms,
    idempotency_key: str,
    sale_id: int,
    now: datetime,
    document: DocumentWrite | None = None,
) -> SalePostingResult:
    """Spend (soonest-expiring lots first) and earn for one sale, as one transaction, with
    `document`'s write in the posting's statement. Nothing is posted, and `document` is not
    written, when there is nothing to spend or earn (`transaction_id` None)."""
    if spend_points > locked.balance.available_points:
        raise InsufficientPoints(
            available_points=locked.balance.available_points,
            requested_points=spend_points,
            parameter="bonusProgram.bonusValueToSpend",
        )
    if spend_points == 0 and earn_points == 0:
        return SalePostingResult(None, 0, 0, 0, locked.balance)
    header = TransactionHeader(
        account_id=locked.account_id,
        kind=TransactionKind.sale,
        idempotency_key=idempotency_key,
        customer_id=locked.customer_id,
        effective_at=now,
        document_kind="sale",
        document_id=sale_id,
    )
    draws: list[LotDraw] = []
    if spend_points:
        draws, unpaid = rules.draw_from_lots(
            await locked.lots_to_spend(session, spend_points, now), spend_points, now
        )
        if unpaid:
            raise InsufficientPoints(
                available_points=spend_points - unpaid,
                requested_points=spend_points,
                parameter="bonusProgram.bonusValueToSpend",
            )
    credit = None
    if earn_points:
        credit = _plan_credit(locked, earn_points, earn_terms, now, Bucket.issued)
    transaction_id = await _post(
        session,
        locked,
        header,
        draws=draws,
        spent_points=spend_points,
        credit=credit,
        terms=earn_terms if credit is not None else None,
        document=document,
    )
    repaid = credit.repaid if credit is not None else 0
    return SalePostingResult(transaction_id, spend_points, earn_points, repaid, locked.balance)


def _credits_first(entries: list[Entry]) -> list[Entry]:
    """Insert increases before decreases so no running balance dips below zero mid-transaction."""
    return sorted(entries, key=lambda entry: entry.amount_points < 0)


async def post_reversal(
    session: AsyncSession,
    locked: LockedCustomer,
    *,
    refund_spent_points: int,
    reclaim_earned_points: int,
    sale_transaction_id: int | None,
    previously_forgiven_points: int,
    fallback_refund_terms: LotTerms,
    idempotency_key: str,
    return_id: int,
    now: datetime,
) -> ReversalResult:
    """Give back spent points and take back earned ones for a return.

    Refunded points keep the life of the points they replace; if that life is over they are
    recorded straight as expired. Earned points are taken back per `rules.reclaim_from_lots`:
    the sale's own lot, then forgiveness for what of it already expired, then other points,
    then debt that later credits repay.
    """
    preferred: list[Lot] = []
    forgivable = 0
    if reclaim_earned_points and sale_transaction_id is not None:
        preferred = await repository.lots_created_by(
            session, locked.account_id, sale_transaction_id
        )
        expired = await repository.expired_from_lots_of(
            session, locked.account_id, sale_transaction_id
        )
        forgivable = expired - previously_forgiven_points
    refund_terms = (
        await _refund_terms(
            session, locked.account_id, sale_transaction_id, fallback_refund_terms, now
        )
        if refund_spent_points
        else fallback_refund_terms
    )
    refund_is_expired = refund_terms.expires_at is not None and refund_terms.expires_at <= now
    reclaim = await _plan_reclaim(
        session, locked, reclaim_earned_points, preferred, forgivable, now
    )
    collected = reclaim_earned_points - reclaim.forgiven_points
    if refund_spent_points == 0 and collected == 0:
        return ReversalResult(
            None, 0, reclaim_earned_points, reclaim.forgiven_points, 0, locked.balance
        )
    transaction_id = await repository.claim_transaction(
        session,
        TransactionHeader(
            account_id=locked.account_id,
            kind=TransactionKind.sales_return,
            idempotency_key=idempotency_key,
            customer_id=locked.customer_id,
            effective_at=now,
            document_kind="return",
            document_id=return_id,
            reverses_transaction_id=sale_transaction_id,
        ),
    )
    if transaction_id is None:
        raise LedgerKeyReused(idempotency_key)
    entries: list[Entry] = []
    if refund_spent_points and refund_is_expired:
        entries += [
            Entry(Bucket.expired, refund_spent_points, None),
            Entry(Bucket.redeemed, -refund_spent_points, None),
        ]
    elif refund_spent_points:
        refund_entries, _ = await _credit(
            session, locked, transaction_id, refund_spent_points, refund_terms, now, Bucket.redeemed
        )
        entries += refund_entries
        # Recompute: the refund may have repaid debt or added a lot the reclaim can draw from.
        reclaim = await _plan_reclaim(
            session, locked, reclaim_earned_points, preferred, forgivable, now
        )
    if collected:
        taken: dict[Bucket, int] = defaultdict(int)
        for draw in reclaim.draws:
            taken[draw.bucket] += draw.points
        entries.append(Entry(Bucket.issued, collected, None))
        entries += [
            Entry(bucket, -points, locked.customer_id) for bucket, points in taken.items() if points
        ]
        if reclaim.debt_points:
            entries.append(Entry(Bucket.debt, -reclaim.debt_points, locked.customer_id))
        await repository.apply_draws(session, locked.account_id, transaction_id, reclaim.draws)
    await _record(
        session, locked, transaction_id, TransactionKind.sales_return, now, _credits_first(entries)
    )
    balance = await repository.get_balance(session, locked.account_id, locked.customer_id)
    assert balance is not None
    locked.balance = balance
    locked._lots = None
    return ReversalResult(
        transaction_id,
        refund_spent_points,
        reclaim_earned_points,
        reclaim.forgiven_points,
        reclaim.debt_points,
        balance,
    )


async def _plan_reclaim(
    session: AsyncSession,
    locked: LockedCustomer,
    points: int,
    preferred: list[Lot],
    forgivable_points: int,
    now: datetime,
) -> rules.Reclaim:
    """`rules.reclaim_from_lots` over only the lots it can draw from: the sale's own, then, for
    what they do not cover, the first spendable lots in spend order (a customer's thousands of
    other lots are never read)."""
    preferred_ids = [lot.id for lot in preferred]
    reclaim = rules.reclaim_from_lots(preferred, points, preferred_ids, forgivable_points, now)
    if not reclaim.debt_points:
        return reclaim
    # The spend-order prefix may include the sale's own lots: ask for enough to cover them too.
    wanted = reclaim.debt_points + sum(lot.remaining_points for lot in preferred)
    own = set(preferred_ids)
    others = [lot for lot in await locked.lots_to_spend(session, wanted, now) if lot.id not in own]
    return rules.reclaim_from_lots(
        preferred + others, points, preferred_ids, forgivable_points, now
    )


async def _refund_terms(
    session: AsyncSession,
    account_id: uuid.UUID,
    sale_transaction_id: int | None,
    fallback: LotTerms,
    now: datetime,
) -> LotTerms:
    """Refunded points keep the life of the points they replace: the latest expiry among the
    lots the sale drew from (no expiry if any of them had none), so a return never renews old
    points."""
    if sale_transaction_id is None:
        return fallback
    expiries = await repository.drawn_lot_expiries(session, account_id, sale_transaction_id)
    if not expiries:
        return fallback
    if any(expiry is None for expiry in expiries):
        return LotTerms(activates_at=now, expires_at=None)
    return LotTerms(
        activates_at=now, expires_at=max(expiry for expiry in expiries if expiry is not None)
    )


async def credit(
    session: AsyncSession,
    locked: LockedCustomer,
    *,
    kind: TransactionKind,
    points: int,
    terms: LotTerms,
    idempotency_key: str,
    now: datetime,
    reason: str | None = None,
    actor: str | None = None,
) -> int | None:
    """Issue points outside a sale (welcome bonus, manual credit). Returns None on a replay."""
    assert points > 0
    source = Bucket.adjustment if kind is TransactionKind.adjustment else Bucket.issued
    transaction_id = await repository.claim_transaction(
        session,
        TransactionHeader(
            account_id=locked.account_id,
            kind=kind,
            idempotency_key=idempotency_key,
            customer_id=locked.customer_id,
            effective_at=now,
            reason=reason,
            actor=actor,
        ),
    )
    if transaction_id is None:
        await _check_replay(session, locked, idempotency_key, points)
        return None
    entries, _ = await _credit(session, locked, transaction_id, points, terms, now, source)
    await _record(session, locked, transaction_id, kind, now, _credits_first(entries))
    return transaction_id


async def debit(
    session: AsyncSession,
    locked: LockedCustomer,
    *,
    points: int,
    idempotency_key: str,
    now: datetime,
    reason: str | None = None,
    actor: str | None = None,
) -> int | None:
    """Remove available points by hand (soonest-expiring first). Returns None on a replay."""
    assert points > 0
    transaction_id = await repository.claim_transaction(
        session,
        TransactionHeader(
            account_id=locked.account_id,
            kind=TransactionKind.adjustment,
            idempotency_key=idempotency_key,
            customer_id=locked.customer_id,
            effective_at=now,
            reason=reason,
            actor=actor,
        ),
    )
    if transaction_id is None:
        await _check_replay(session, locked, idempotency_key, -points)
        return None
    if points > locked.balance.available_points:
        raise InsufficientPoints(
            available_points=locked.balance.available_points, requested_points=points
        )
    draws, unpaid = rules.draw_from_lots(
        await locked.lots_to_spend(session, points, now), points, now
    )
    assert unpaid == 0, "lots disagree with the available balance"
    await repository.apply_draws(session, locked.account_id, transaction_id, draws)
    await _record(
        session,
        locked,
        transaction_id,
        TransactionKind.adjustment,
        now,
        [
            Entry(Bucket.adjustment, points, None),
            Entry(Bucket.available, -points, locked.customer_id),
        ],
    )
    locked.balance = Balance(
        locked.balance.available_points - points,
        locked.balance.pending_points,
        locked.balance.debt_points,
        locked.balance.next_maturity_at,
    )
    return transaction_id


async def _check_replay(
    session: AsyncSession,
    locked: LockedCustomer,
    key: str,
    signed_points: int,
    *,
    by_header: bool = True,
) -> None:
    """A reused key must name the same change: the customer's net change (and, unless
    `by_header` is off, the customer named on the transaction) as the first time."""
    stored = await repository.find_transaction(session, locked.account_id, key)
    assert stored is not None
    entries = await repository.transaction_entries(session, locked.account_id, stored.id)
    customer_delta = sum(
        entry.amount_points for entry in entries if entry.customer_id == locked.customer_id
    )
    if (by_header and stored.customer_id != locked.customer_id) or customer_delta != signed_points:
        raise LedgerKeyReused(key)


async def history(
    session: AsyncSession,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    limit: int = 20,
    before_entry_id: int | None = None,
) -> list[LedgerLine]:
    return await repository.history(session, account_id, customer_id, limit, before_entry_id)


async def lock_customers(
    session: AsyncSession, account_id: uuid.UUID, customer_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, LockedCustomer]:
    """Lock several customers in id order: two requests touching the same customers always
    take their locks in the same order, so they queue instead of deadlocking."""
    return {
        customer_id: await lock_customer(session, account_id, customer_id, now)
        for customer_id in sorted(set(customer_ids))
    }


@dataclass(frozen=True)
class _Portion:
    """Points moving to another customer with the life they had: state, activation, expiry."""

    points: int
    state: str
    terms: LotTerms


async def _receive(
    session: AsyncSession,
    target: LockedCustomer,
    transaction_id: int,
    portions: list[_Portion],
    now: datetime,
) -> list[Entry]:
    """The target's entries for incoming points: its debt is repaid first (as by any credit),
    the rest becomes lots with the terms the points had."""
    debt_left = target.balance.debt_points
    available, pending = target.balance.available_points, target.balance.pending_points
    repaid = 0
    for portion in portions:
        take = min(portion.points, debt_left)
        debt_left -= take
        repaid += take
        rest = portion.points - take
        if not rest:
            continue
        lot_id = await repository.insert_lot(
            session,
            account_id=target.account_id,
            customer_id=target.customer_id,
            transaction_id=transaction_id,
            points=rest,
            state=portion.state,
            terms=portion.terms,
        )
        if target._lots is not None:
            terms = portion.terms
            lot = Lot(lot_id, portion.state, rest, terms.activates_at, terms.expires_at)
            target._lots.append(lot)
        if portion.state == "pending":
            pending += rest
        else:
            available += rest
        await _advance_next_maturity(session, target, _lot_maturity(portion.state, portion.terms))
    entries: list[Entry] = []
    if repaid:
        entries.append(Entry(Bucket.debt, repaid, target.customer_id))
    if available != target.balance.available_points:
        entries.append(
            Entry(Bucket.available, available - target.balance.available_points, target.customer_id)
        )
    if pending != target.balance.pending_points:
        entries.append(
            Entry(Bucket.pending, pending - target.balance.pending_points, target.customer_id)
        )
    target.balance = Balance(available, pending, debt_left, target.balance.next_maturity_at)
    return entries


async def transfer(
    session: AsyncSession,
    source: LockedCustomer,
    target: LockedCustomer,
    *,
    points: int,
    idempotency_key: str,
    now: datetime,
    reason: str | None = None,
    actor: str | None = None,
) -> int | None:
    """Move available points from one customer to another; they keep their expiry. Both must
    be locked (`lock_customers`). Returns None on a replay of the same transfer."""
    assert points > 0
    assert source.customer_id != target.customer_id
    transaction_id = await repository.claim_transaction(
        session,
        TransactionHeader(
            account_id=source.account_id,
            kind=TransactionKind.transfer,
            idempotency_key=idempotency_key,
            customer_id=source.customer_id,
            effective_at=now,
            reason=reason,
            actor=actor,
        ),
    )
    if transaction_id is None:
        await _check_replay(session, source, idempotency_key, -points)
        await _check_replay(session, target, idempotency_key, points, by_header=False)
        return None
    if points > source.balance.available_points:
        raise InsufficientPoints(
            available_points=source.balance.available_points, requested_points=points
        )
    # Only the first lots in spend order: a transfer from a customer with thousands of lots
    # reads what it moves, as a spend does.
    lots = await source.lots_to_spend(session, points, now)
    draws, unpaid = rules.draw_from_lots(lots, points, now)
    assert unpaid == 0, "lots disagree with the available balance"
    by_id = {lot.id: lot for lot in lots}
    await repository.apply_draws(session, source.account_id, transaction_id, draws)
    portions = [
        _Portion(draw.points, "active", LotTerms(now, by_id[draw.lot_id].expires_at))
        for draw in draws
    ]
    entries = await _receive(session, target, transaction_id, portions, now)
    entries.append(Entry(Bucket.available, -points, source.customer_id))
    await repository.insert_entries(session, source.account_id, transaction_id, entries)
    if source.has_webhooks:
        await emit(
            session,
            source.account_id,
            "points.transferred",
            events.transfer_event(
                await source.event_subject(session),
                await target.event_subject(session),
                transaction_id=transaction_id,
                points=points,
            ),
            occurred_at=now,
        )
    source.balance = Balance(
        source.balance.available_points - points,
        source.balance.pending_points,
        source.balance.debt_points,
        source.balance.next_maturity_at,
    )
    source._lots = None
    return transaction_id


async def merge(
    session: AsyncSession,
    duplicate: LockedCustomer,
    survivor: LockedCustomer,
    *,
    idempotency_key: str,
    now: datetime,
    reason: str | None = None,
    actor: str | None = None,
) -> int | None:
    """Move everything a duplicate holds to the survivor, as one transaction: every live lot
    (available and pending, with its activation and expiry) and the debt. The survivor's debt
    is then repaid from what it can spend, so debt and available points never coexist."""
    assert duplicate.customer_id != survivor.customer_id
    held = duplicate.balance
    lots = [lot for lot in await duplicate.lots(session) if lot.remaining_points > 0]
    if not lots and held.debt_points == 0:
        return None
    transaction_id = await repository.claim_transaction(
        session,
        TransactionHeader(
            account_id=duplicate.account_id,
            kind=TransactionKind.merge,
            idempotency_key=idempotency_key,
            customer_id=duplicate.customer_id,
            effective_at=now,
            reason=reason,
            actor=actor,
        ),
    )
    if transaction_id is None:
        raise LedgerKeyReused(idempotency_key)
    account_id = duplicate.account_id
    draws = [
        LotDraw(
            lot.id,
            Bucket.pending if lot.state == "pending" else Bucket.available,
            lot.remaining_points,
        )
        for lot in lots
    ]
    await repository.apply_draws(session, account_id, transaction_id, draws)
    # Entry order matters: the balance trigger checks every entry as it lands.
    entries: list[Entry] = []
    if held.debt_points:
        entries.append(Entry(Bucket.debt, -held.debt_points, survivor.customer_id))
        survivor.balance = Balance(
            survivor.balance.available_points,
            survivor.balance.pending_points,
            survivor.balance.debt_points + held.debt_points,
            survivor.balance.next_maturity_at,
        )
    portions = [
        _Portion(lot.remaining_points, lot.state, LotTerms(lot.activates_at, lot.expires_at))
        for lot in sorted(lots, key=rules.spend_order_key)
    ]
    entries += await _receive(session, survivor, transaction_id, portions, now)
    netted = min(survivor.balance.debt_points, survivor.balance.available_points)
    if netted:
        net_draws, unpaid = rules.draw_from_lots(
            await survivor.lots_to_spend(session, netted, now), netted, now
        )
        assert unpaid == 0, "lots disagree with the available balance"
        await repository.apply_draws(session, account_id, transaction_id, net_draws)
        entries += [
            Entry(Bucket.debt, netted, survivor.customer_id),
            Entry(Bucket.available, -netted, survivor.customer_id),
        ]
        survivor.balance = Balance(
            survivor.balance.available_points - netted,
            survivor.balance.pending_points,
            survivor.balance.debt_points - netted,
            survivor.balance.next_maturity_at,
        )
        survivor._lots = None
    if held.available_points:
        entries.append(Entry(Bucket.available, -held.available_points, duplicate.customer_id))
    if held.pending_points:
        entries.append(Entry(Bucket.pending, -held.pending_points, duplicate.customer_id))
    if held.debt_points:
        entries.append(Entry(Bucket.debt, held.debt_points, duplicate.customer_id))
    await repository.insert_entries(session, account_id, transaction_id, entries)
    await repository.set_next_maturity(session, account_id, duplicate.customer_id, None)
    duplicate.balance = Balance(0, 0, 0, None)
    duplicate._lots = []
    return transaction_id
