"""Scheduled jobs: post due activations and expiries, pay birthday bonuses, warn about
expiring points, re-derive tiers as months leave their window, roll up the daily report. Run
by `loyalty worker` (every LOYALTY_WORKER_INTERVAL_SECONDS) and by `loyalty jobs run-once`
(cron).

Every job works in batches of LOYALTY_JOBS_BATCH_SIZE rows, one transaction per batch, and
locks its rows with SKIP LOCKED: several workers (or a worker and the tills) share the work
without waiting for each other, and every write is keyed (ledger idempotency keys, the
expiry-warning primary key), so running a job twice, or twice at once, changes nothing more.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty.jobs import repository
from loyalty.jobs.rules import birthday_occurrences
from loyalty.ledger import service as ledger_service
from loyalty.ledger.schemas import TransactionKind
from loyalty.program import repository as program_repository
from loyalty.program.rules import immediate_terms
from loyalty.reports import service as reports_service
from loyalty.throttling import repository as throttling_repository
from loyalty.tiers import repository as tiers_repository
from loyalty.tiers import service as tiers_service
from loyalty.webhooks import repository as webhooks_repository
from loyalty.webhooks import service as webhooks

logger = logging.getLogger("loyalty.jobs")

# A batch whose every row was already handled (a replay) still makes progress by keyset, but a
# run that keeps finding due rows is stopped here so one run can never spin for ever.
MAX_BATCHES_PER_RUN = 10_000


@dataclass(frozen=True)
class JobSettings:
    batch_size: int
    timezone: str
    webhook_retention_days: int = 30
    # Throttle counters whose window started longer ago than this (and that lock nobody out)
    # are purged: at least a day, and at least the longest throttle window.
    throttle_stale_seconds: int = 86_400
    # Checked between batches: a stopping worker commits the batch in hand and leaves the rest.
    should_stop: Callable[[], bool] = field(default=lambda: False, compare=False)


Job = Callable[[async_sessionmaker[AsyncSession], datetime, JobSettings], Awaitable[int]]


async def post_due_maturities(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> int:
    """Customers whose lots fell due get their activations and expiries posted (through the
    ledger, one transaction per lot). Returns how many customers were brought up to date."""
    done = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        async with sessionmaker() as session, session.begin():
            due = await repository.lock_due_customers(session, now, job.batch_size)
            for row in due:
                await ledger_service.lock_customer(session, row.account_id, row.customer_id, now)
        done += len(due)
        if len(due) < job.batch_size or job.should_stop():
            break
    return done


async def pay_birthday_bonuses(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> int:
    """Pay each account's birthday bonus to customers whose birthday is within the window,
    once per customer and birthday year (the ledger key `birthday:<customer>:<year>`)."""
    today = now.astimezone(ZoneInfo(job.timezone)).date()
    paid = 0
    after_account: uuid.UUID | None = None
    while True:
        async with sessionmaker() as session, session.begin():
            account_ids = await repository.birthday_accounts(session, after_account, job.batch_size)
        for account_id in account_ids:
            if job.should_stop():
                return paid
            paid += await _pay_account_birthdays(sessionmaker, account_id, today, now, job)
        if len(account_ids) < job.batch_size:
            return paid
        after_account = account_ids[-1]


async def _pay_account_birthdays(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    today: date,
    now: datetime,
    job: JobSettings,
) -> int:
    paid = 0
    after: uuid.UUID | None = None
    for _ in range(MAX_BATCHES_PER_RUN):
        async with sessionmaker() as session, session.begin():
            program = await program_repository.get(session, account_id)
            if program is None or program.birthday_bonus_points <= 0:
                return paid
            occurrences = birthday_occurrences(today, program.birthday_window_days)
            batch = await repository.lock_birthday_customers(
                session, account_id, occurrences, after, job.batch_size
            )
            for row in batch:
                locked = await ledger_service.lock_customer(
                    session, account_id, row.customer_id, now
                )
                transaction_id = await ledger_service.credit(
                    session,
                    locked,
                    kind=TransactionKind.birthday,
                    points=program.birthday_bonus_points,
                    terms=immediate_terms(program, now),
                    idempotency_key=f"birthday:{row.customer_id}:{row.year}",
                    now=now,
                    reason=f"День рождения {row.year}",
                    actor="job:birthday",
                )
                paid += transaction_id is not None
        if len(batch) < job.batch_size or job.should_stop():
            break
        after = batch[-1].customer_id
    return paid


async def warn_expiring_points(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> int:
    """One `points.expiring` event per customer and expiry date, `expiry_warning_days` ahead."""
    async with sessionmaker() as session, session.begin():
        longest_days = await repository.max_expiry_warning_days(session)
    if longest_days <= 0:
        return 0
    horizon = now + timedelta(days=longest_days)
    warned = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        async with sessionmaker() as session, session.begin():
            claimed = await repository.claim_expiry_warnings(
                session, now, horizon, job.timezone, job.batch_size
            )
            for row in claimed:
                await webhooks.emit(
                    session,
                    row.account_id,
                    "points.expiring",
                    {
                        "customerId": str(row.customer_id),
                        "customerMoyskladId": row.moysklad_id,
                        "expiresOn": row.expires_on.isoformat(),
                        "points": int(row.expiring_points),
                    },
                    occurred_at=now,
                )
        warned += len(claimed)
        if len(claimed) < job.batch_size or job.should_stop():
            break
    return warned


async def purge_old_webhook_events(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> int:
    """Finished outbox rows (delivered, dead, cancelled) older than the retention period."""
    cutoff = now - timedelta(days=job.webhook_retention_days)
    purged = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        async with sessionmaker() as session, session.begin():
            deleted = await webhooks_repository.purge_finished(session, cutoff, job.batch_size)
        purged += deleted
        if deleted < job.batch_size or job.should_stop():
            break
    return purged


async def purge_housekeeping_rows(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> int:
    """Rows that only ever grow otherwise: throttle counters whose window is long over, and
    expiry-warning marks for dates already past (a day's margin for every timezone)."""
    window_started_before = now - timedelta(seconds=job.throttle_stale_seconds)
    past = (now - timedelta(days=2)).date()

    async def stale_throttles(session: AsyncSession) -> int:
        return await throttling_repository.purge_stale(
            session, window_started_before, now, job.batch_size
        )

    async def past_warnings(session: AsyncSession) -> int:
        return await repository.purge_past_expiry_warnings(session, past, job.batch_size)

    purged = 0
    for purge in (stale_throttles, past_warnings):
        for _ in range(MAX_BATCHES_PER_RUN):
            async with sessionmaker() as session, session.begin():
                deleted = await purge(session)
            purged += deleted
            if deleted < job.batch_size or job.should_stop():
                break
    return purged


async def reevaluate_due_tiers(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> int:
    """Customers whose oldest counted month left the tier window, or whose account changed its
    tiers, get their tier re-derived (a customer a till holds is skipped until the next run)."""
    async with sessionmaker() as session, session.begin():
        accounts = await tiers_repository.accounts_due(session, now)
    evaluated = 0
    for account_id in accounts:
        for _ in range(MAX_BATCHES_PER_RUN):
            async with sessionmaker() as session, session.begin():
                done = await tiers_service.reevaluate_tiers(
                    session, account_id, now, job.batch_size
                )
            evaluated += done
            if done < job.batch_size or job.should_stop():
                break
        if job.should_stop():
            break
    return evaluated


async def roll_up_daily_reports(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> int:
    """Closed days of every account's daily report, rolled up once; returns the days added."""
    async with sessionmaker() as session, session.begin():
        accounts = await reports_service.account_ids(session)
    added = 0
    for account_id in accounts:
        if job.should_stop():
            break
        async with sessionmaker() as session, session.begin():
            added += (await reports_service.roll_up(session, account_id, now)).days_added
    return added


@dataclass
class JobsSummary:
    maturities_posted_customers: int = 0
    birthday_bonuses_paid: int = 0
    expiry_warnings: int = 0
    webhook_events_purged: int = 0
    tiers_reevaluated: int = 0
    report_days_rolled_up: int = 0
    housekeeping_rows_purged: int = 0
    failed_jobs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "maturities_posted_customers": self.maturities_posted_customers,
            "birthday_bonuses_paid": self.birthday_bonuses_paid,
            "expiry_warnings": self.expiry_warnings,
            "webhook_events_purged": self.webhook_events_purged,
            "tiers_reevaluated": self.tiers_reevaluated,
            "report_days_rolled_up": self.report_days_rolled_up,
            "housekeeping_rows_purged": self.housekeeping_rows_purged,
            "failed_jobs": list(self.failed_jobs),
        }


JOBS: tuple[tuple[str, str, Job], ...] = (
    # Maturities first, so a warning never announces points that have already expired.
    ("maturities", "maturities_posted_customers", post_due_maturities),
    ("birthdays", "birthday_bonuses_paid", pay_birthday_bonuses),
    ("expiry_warnings", "expiry_warnings", warn_expiring_points),
    ("webhook_retention", "webhook_events_purged", purge_old_webhook_events),
    ("tiers", "tiers_reevaluated", reevaluate_due_tiers),
    ("report_rollup", "report_days_rolled_up", roll_up_daily_reports),
    ("housekeeping", "housekeeping_rows_purged", purge_housekeeping_rows),
)


async def run_all(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, job: JobSettings
) -> JobsSummary:
    """Every job once. A failing job is logged and reported; the others still run (what it
    committed before failing stays, and the next run carries on from there)."""
    summary = JobsSummary()
    for name, counter, run in JOBS:
        if job.should_stop():
            break
        try:
            setattr(summary, counter, await run(sessionmaker, now, job))
        except Exception:
            logger.exception("scheduled job failed", extra={"job": name})
            summary.failed_jobs.append(name)
    return summary
