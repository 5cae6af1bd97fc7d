"""Webhook endpoints (admin, audited) and `emit`, which writes events to the outbox.

`emit` runs in the caller's transaction: the event commits with the change that caused it, or
not at all. It writes one row per endpoint that wants the event type, in one statement, and
nothing for an account without endpoints; hot paths that already know the account has none
skip the call entirely (`ledger.service.LockedCustomer.has_webhooks`).
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.audit import service as audit_service
from loyalty.audit.schemas import AuditEvent
from loyalty.common import crypto
from loyalty.program import service as program_service
from loyalty.webhooks import repository
from loyalty.webhooks.errors import InvalidWebhook, WebhookNotFound
from loyalty.webhooks.schemas import EVENT_TYPES, CreatedEndpoint, Endpoint

URL_MAX_LENGTH = 2000
_URL_START = re.compile(r"^https?://")  # lower case, as the table's CHECK wants it
MAX_ENDPOINTS_PER_ACCOUNT = 20
_FLAG_KEY = "loyalty.webhooks"


def remember_flag(session: AsyncSession, account_id: uuid.UUID, has_endpoints: bool) -> None:
    """Keep what a statement of this transaction already learned (see `account_has_endpoints`)."""
    session.sync_session.info.setdefault(_FLAG_KEY, {})[account_id] = has_endpoints


async def account_has_endpoints(session: AsyncSession, account_id: uuid.UUID) -> bool:
    """Whether to write events: free when the customer lock already read it, else one query."""
    known = session.sync_session.info.get(_FLAG_KEY, {}).get(account_id)
    if known is not None:
        return bool(known)
    found = await repository.has_endpoints(session, account_id)
    remember_flag(session, account_id, found)
    return found


async def emit(
    session: AsyncSession,
    account_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
) -> int:
    """Queue an event for every endpoint of the account that wants it; returns the rows written.
    Call inside the transaction of the change the event reports. Free for an account without
    endpoints once this transaction has locked one of its customers or vouchers."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if session.sync_session.info.get(_FLAG_KEY, {}).get(account_id) is False:
        return 0  # a lock of this transaction already found no endpoints: skip the statement
    return await repository.insert_event(
        session,
        account_id=account_id,
        event_id=uuid.uuid4(),
        event_type=event_type,
        payload=payload,
        occurred_at=occurred_at or datetime.now(UTC),
    )


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(row.id, row.url, list(row.event_types), row.created_at, row.deleted_at)


def _check_url(url: str) -> str:
    url = url.strip()
    try:
        parts = urlsplit(url)
        _ = parts.port  # parsed lazily: a bad port raises only here
    except ValueError:  # an unclosed IPv6 bracket, a port out of range
        parts = None
    valid = (
        parts is not None
        and bool(parts.hostname)
        and len(url) <= URL_MAX_LENGTH
        and _URL_START.match(url) is not None
        and not any(character.isspace() or ord(character) < 32 for character in url)
    )
    if not valid:
        raise InvalidWebhook(
            "Адрес вебхука — полный URL http(s):// не длиннее 2000 символов.", parameter="url"
        )
    return url


def _check_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if not event_types or unknown:
        raise InvalidWebhook(
            "Укажите типы событий из списка: "
            + ", ".join(EVENT_TYPES)
            + (f". Неизвестные: {', '.join(unknown)}" if unknown else ""),
            parameter="eventTypes",
        )
    return sorted(set(event_types))


async def create_endpoint(
    session: AsyncSession,
    *,
    account_id: uuid.UUID,
    url: str,
    event_types: list[str],
    actor: str,
    now: datetime,
) -> CreatedEndpoint:
    url = _check_url(url)
    event_types = _check_event_types(event_types)
    await program_service.get_settings(session, account_id)  # the account must exist
    if len(await repository.list_endpoints(session, account_id)) >= MAX_ENDPOINTS_PER_ACCOUNT:
        raise InvalidWebhook("Не больше 20 вебхуков на аккаунт.", parameter="url")
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = await repository.insert_endpoint(
        session,
        account_id=account_id,
        url=url,
        secret_ciphertext=crypto.keyring().encrypt(secret),
        event_types=event_types,
        created_by=actor,
    )
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor,
            action="webhook.create",
            entity_type="webhook",
            entity_id=str(row.id),
            occurred_at=now,
            after={"url": url, "event_types": event_types},
        ),
    )
    return CreatedEndpoint(_endpoint(row), secret)


async def list_endpoints(session: AsyncSession, account_id: uuid.UUID) -> list[Endpoint]:
    return [_endpoint(row) for row in await repository.list_endpoints(session, account_id)]


async def delete_endpoint(
    session: AsyncSession, *, account_id: uuid.UUID, endpoint_id: int, actor: str, now: datetime
) -> Endpoint:
    row = await repository.delete_endpoint(session, account_id, endpoint_id, now)
    if row is None:
        raise WebhookNotFound(endpoint_id)
    await audit_service.record(
        session,
        AuditEvent(
            account_id=account_id,
            actor=actor,
            action="webhook.delete",
            entity_type="webhook",
            entity_id=str(endpoint_id),
            occurred_at=now,
            before={"url": row.url, "event_types": list(row.event_types)},
        ),
    )
    return _endpoint(row)


async def forget_account(session: AsyncSession, account_id: uuid.UUID, now: datetime) -> None:
    """An uninstalled account past retention: its endpoints go, with what they had to send."""
    await repository.delete_all_endpoints(session, account_id, now)
