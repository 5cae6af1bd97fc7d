"""Connecting the loyalty program to MoySklad's tills (spec §2.5).

1. A pending till token is issued (or, after an unanswered attempt, the same one is reused);
2. `PUT /apps/{appId}/{accountId}/loyalty` sends MoySklad our URL and that token;
3. 200 promotes the token, a 4xx drops it, no answer keeps both tokens working;
4. then, if MoySklad still waits for the settings, `PUT …/status` reports `Activated`.

The steps are separate short transactions around the network calls, so no transaction (and no
row lock) is held while MoySklad answers; a lease on the installation row keeps two attempts
for one account from interleaving.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from loyalty.accounts import repository as accounts_repository
from loyalty.accounts import service as accounts_service
from loyalty.accounts.errors import NoPendingToken
from loyalty.connection.errors import ConnectionInProgress, SolutionNotInstalled
from loyalty.moysklad.errors import MoySkladRejected, MoySkladUnavailable, SolutionNotConfigured
from loyalty.moysklad.runtime import MoySkladRuntime
from loyalty.tasks import repository as tasks_repository
from loyalty.vendor import repository as vendor_repository
from loyalty.vendor.schemas import SolutionStatus

logger = logging.getLogger("loyalty.connection")

CONNECT_LEASE = timedelta(minutes=3)
EXTERNAL_SEARCH = True  # tills search customers here, by phone, card, e-mail or name
STILL_INSTALLING = 2007
RETRY_WHILE_INSTALLING_SECONDS = 30.0
RETRY_UNKNOWN_OUTCOME_SECONDS = 60.0
LIVE_STATUSES = (SolutionStatus.settings_required.value, SolutionStatus.activated.value)


@dataclass(frozen=True)
class ConnectionOutcome:
    state: str  # connected, failed, unknown
    error_status: int | None = None
    error_code: int | None = None
    error_detail: str | None = None
    status_reported: bool = True
    # Set when trying again later may succeed (no answer, or MoySklad still installing).
    retry_after_seconds: float | None = None


def loyalty_base_url(public_base_url: str) -> str:
    from loyalty.api import LOYALTY_PREFIX  # api.py imports every router, this one included

    return public_base_url.rstrip("/") + LOYALTY_PREFIX


def _require_configuration(runtime: MoySkladRuntime) -> str:
    settings = runtime.settings
    missing = [
        name
        for name, value in (
            ("LOYALTY_PUBLIC_BASE_URL", settings.PUBLIC_BASE_URL),
            ("LOYALTY_MOYSKLAD_APP_ID", settings.MOYSKLAD_APP_ID),
            ("LOYALTY_MOYSKLAD_APP_UID", settings.MOYSKLAD_APP_UID),
            ("LOYALTY_MOYSKLAD_SECRET_KEY", settings.MOYSKLAD_SECRET_KEY),
        )
        if not value
    ]
    if not runtime.cipher.configured:
        missing.append("LOYALTY_MOYSKLAD_TOKEN_ENCRYPTION_KEYS")
    if missing:
        raise SolutionNotConfigured(*missing)
    assert settings.PUBLIC_BASE_URL is not None
    return settings.PUBLIC_BASE_URL


async def connect(
    runtime: MoySkladRuntime, account_id: uuid.UUID, *, rotate: bool, interactive: bool
) -> ConnectionOutcome:
    """Deliver a till token when needed (always with `rotate`), then report `Activated`.

    Idempotent: with the program connected and the status reported, nothing is sent."""
    public_base_url = _require_configuration(runtime)
    now = runtime.clock.now()
    async with runtime.transaction() as session:
        account = await accounts_repository.lock_account(session, account_id)
        installation = await vendor_repository.get_installation(
            session, account_id, for_update=True
        )
        if account is None or installation is None or account.status != "active":
            raise SolutionNotInstalled()
        if installation.status not in LIVE_STATUSES:
            raise SolutionNotInstalled()
        if installation.connect_lease_until is not None and installation.connect_lease_until > now:
            raise ConnectionInProgress()
        moysklad_account_id: str = account.moysklad_account_id
        was_connected = installation.loyalty_connected_at is not None
        token: str | None = None
        if installation.pending_till_token_ciphertext is not None:
            # The last attempt got no answer: MoySklad may hold this token, so resend it.
            token = runtime.cipher.decrypt(installation.pending_till_token_ciphertext)
        elif rotate or installation.loyalty_state != "connected":
            token = await accounts_service.issue_pending_token(session, account_id)
        if token is not None:
            await vendor_repository.update_installation(
                session,
                account_id,
                pending_till_token_ciphertext=runtime.cipher.encrypt(token),
                loyalty_state="connecting",
                connect_lease_until=now + CONNECT_LEASE,
            )

    outcome = ConnectionOutcome(state="connected")
    if token is not None:
        outcome = await _deliver(
            runtime,
            account_id,
            moysklad_account_id,
            token=token,
            url=loyalty_base_url(public_base_url),
            was_connected=was_connected,
            interactive=interactive,
        )
    if outcome.state == "connected":
        outcome = await _report_activated(runtime, account_id, moysklad_account_id, interactive)
    return outcome


async def _deliver(
    runtime: MoySkladRuntime,
    account_id: uuid.UUID,
    moysklad_account_id: str,
    *,
    token: str,
    url: str,
    was_connected: bool,
    interactive: bool,
) -> ConnectionOutcome:
    try:
        await runtime.client.put_loyalty(
            moysklad_account_id,
            url=url,
            token=token,
            external_search=EXTERNAL_SEARCH,
            interactive=interactive,
        )
    except MoySkladRejected as rejected:
        # Refused for certain: the new token is useless; the previous one (if any) stays.
        still_installing = rejected.moysklad_code == STILL_INSTALLING
        retry = RETRY_WHILE_INSTALLING_SECONDS if still_installing else None
        outcome = ConnectionOutcome(
            state="connected" if was_connected else "failed",
            error_status=rejected.status,
            error_code=rejected.moysklad_code,
            error_detail=rejected.detail,
            retry_after_seconds=retry,
        )
        await _settle(runtime, account_id, outcome, promote=False, drop=True)
        logger.warning(
            "loyalty connection refused",
            extra={"account_id": str(account_id), "status": rejected.status},
        )
        return outcome
    except Exception as error:
        # Timeout, 5xx, a dropped connection: MoySklad may or may not have the token now,
        # so both tokens keep working until a later attempt gets an answer.
        outcome = ConnectionOutcome(
            state="unknown",
            error_status=error.status if isinstance(error, MoySkladUnavailable) else None,
            error_detail=error.detail if isinstance(error, MoySkladUnavailable) else str(error),
            retry_after_seconds=RETRY_UNKNOWN_OUTCOME_SECONDS,
        )
        await _settle(runtime, account_id, outcome, promote=False, drop=False)
        if not isinstance(error, MoySkladUnavailable):
            raise
        return outcome
    outcome = ConnectionOutcome(state="connected")
    await _settle(runtime, account_id, outcome, promote=True, drop=False)
    logger.info("loyalty connected", extra={"account_id": str(account_id)})
    return outcome


async def _settle(
    runtime: MoySkladRuntime,
    account_id: uuid.UUID,
    outcome: ConnectionOutcome,
    *,
    promote: bool,
    drop: bool,
) -> None:
    now = runtime.clock.now()
    async with runtime.transaction() as session:
        installation = await vendor_repository.get_installation(
            session, account_id, for_update=True
        )
        if installation is None or installation.status not in LIVE_STATUSES:
            return  # suspended or uninstalled meanwhile: its tokens were dealt with then
        values: dict[str, Any] = {
            "loyalty_state": outcome.state,
            "connect_lease_until": None,
            "loyalty_error_status": outcome.error_status,
            "loyalty_error_code": outcome.error_code,
            "loyalty_error_detail": (outcome.error_detail or "")[:2000] or None,
        }
        try:
            if promote:
                await accounts_service.confirm_pending_token(session, account_id)
            elif drop:
                await accounts_service.discard_pending_token(session, account_id)
        except NoPendingToken:
            pass  # an operator settled the rotation by hand meanwhile
        if promote or drop:
            values["pending_till_token_ciphertext"] = None
        if promote:
            values["loyalty_connected_at"] = now
            # The program runs at the tills with these settings: a resume or a reinstall
            # can answer Activated from now on.
            values["settings_saved_at"] = installation.settings_saved_at or now
        await vendor_repository.update_installation(session, account_id, **values)


async def _report_activated(
    runtime: MoySkladRuntime, account_id: uuid.UUID, moysklad_account_id: str, interactive: bool
) -> ConnectionOutcome:
    async with runtime.transaction() as session:
        installation = await vendor_repository.get_installation(session, account_id)
    if installation is None or installation.status != SolutionStatus.settings_required.value:
        return ConnectionOutcome(state="connected")
    try:
        await runtime.client.put_status(
            moysklad_account_id, SolutionStatus.activated.value, interactive=interactive
        )
    except (MoySkladRejected, MoySkladUnavailable) as error:
        async with runtime.transaction() as session:
            await vendor_repository.update_installation(
                session, account_id, status_report_error=error.message[:2000]
            )
        return ConnectionOutcome(
            state="connected",
            status_reported=False,
            error_status=error.status,
            error_code=error.moysklad_code if isinstance(error, MoySkladRejected) else None,
            error_detail=error.detail,
            retry_after_seconds=RETRY_UNKNOWN_OUTCOME_SECONDS,
        )
    async with runtime.transaction() as session:
        await vendor_repository.activate_if_waiting(session, account_id)
    return ConnectionOutcome(state="connected")


async def schedule_retry(runtime: MoySkladRuntime, account_id: uuid.UUID, delay: float) -> None:
    async with runtime.transaction() as session:
        await tasks_repository.enqueue(session, account_id, "connect_loyalty", delay_seconds=delay)
