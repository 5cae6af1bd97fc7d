"""The solution's lifecycle as MoySklad drives it (spec §2.2): install, resume, tariff changes,
suspend, uninstall, and the data retention that follows an uninstall.

Each call runs in one transaction, under a per-account advisory lock, and is answered from the
database alone: the catalogue sync and any reconnection are queued, not run, so MoySklad's 10 s
deadline is never at risk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import repository as accounts_repository
from loyalty.accounts import service as accounts_service
from loyalty.catalogue import repository as catalogue_repository
from loyalty.common.error_handlers import parameter_path
from loyalty.common.errors import InvalidRequest
from loyalty.config import Settings
from loyalty.customers import repository as customers_repository
from loyalty.moysklad.crypto import TokenCipher
from loyalty.moysklad.errors import SolutionNotConfigured
from loyalty.program import service as program_service
from loyalty.program.schemas import PROGRAM_FIELDS, ProgramSettings
from loyalty.tasks import repository as tasks_repository
from loyalty.tiers import service as tiers_service
from loyalty.vendor import repository
from loyalty.vendor.errors import UnknownApplication, VendorRequestConflict, VendorTokenReplayed
from loyalty.vendor.jwt import verify_vendor_token
from loyalty.vendor.schemas import (
    ActivationRequest,
    DeactivationRequest,
    SolutionStatus,
    VendorAnswer,
    VendorCall,
)
from loyalty.verification import repository as verification_repository
from loyalty.webhooks import service as webhooks_service

logger = logging.getLogger("loyalty.vendor")

BodyT = TypeVar("BodyT", bound=BaseModel)

# MoySklad retries TariffChanged for 24 h: remember answered requests a little longer.
REQUEST_MEMORY = timedelta(hours=48)
LIVE_STATUSES = (SolutionStatus.settings_required, SolutionStatus.activated)


def _require_configured(settings: Settings) -> str:
    if not settings.MOYSKLAD_APP_ID or settings.MOYSKLAD_SECRET_KEY is None:
        raise SolutionNotConfigured("LOYALTY_MOYSKLAD_APP_ID", "LOYALTY_MOYSKLAD_SECRET_KEY")
    return settings.MOYSKLAD_SECRET_KEY.get_secret_value()


async def handle_call(
    session: AsyncSession,
    call: VendorCall,
    *,
    settings: Settings,
    cipher: TokenCipher,
    now: datetime,
) -> VendorAnswer:
    """Authenticate, de-duplicate by X_Lognex_RequestId, then activate or deactivate."""
    secret_key = _require_configured(settings)
    token = verify_vendor_token(call.authorization, secret_key=secret_key, now=now)
    if call.app_id != settings.MOYSKLAD_APP_ID:
        raise UnknownApplication(call.app_id)
    try:
        uuid.UUID(call.moysklad_account_id)
    except ValueError as exc:
        raise InvalidRequest(
            "Идентификатор аккаунта МоегоСклада должен быть UUID", parameter="accountId"
        ) from exc

    await repository.lock_moysklad_account(session, call.moysklad_account_id)
    fresh_jti = await repository.claim_jti(session, token.jti, token.remember_until)
    stored = (
        await repository.get_vendor_request(session, call.moysklad_account_id, call.request_id)
        if call.request_id
        else None
    )
    # A jti seen before is a replay, unless this is the very request it came with, resent.
    if not fresh_jti and (stored is None or stored.jti != token.jti):
        raise VendorTokenReplayed()
    body_hash = hashlib.sha256(call.body).digest()
    if stored is not None:
        if stored.method != call.method or bytes(stored.body_hash) != body_hash:
            raise VendorRequestConflict()
        return VendorAnswer(stored.response_status, stored.response_body)

    if call.method == "PUT":
        answer = await _activate(
            session,
            call.moysklad_account_id,
            _parse(ActivationRequest, call.body),
            settings=settings,
            cipher=cipher,
            now=now,
        )
    else:
        answer = await _deactivate(
            session,
            call.moysklad_account_id,
            _parse(DeactivationRequest, call.body),
            settings=settings,
            now=now,
        )
    if call.request_id:
        await repository.save_vendor_request(
            session,
            moysklad_account_id=call.moysklad_account_id,
            request_id=call.request_id,
            method=call.method,
            body_hash=body_hash,
            jti=token.jti,
            response_status=answer.status_code,
            response_body=answer.body,
        )
    return answer


def _parse(model: type[BodyT], raw: bytes) -> BodyT:
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidRequest(
            f"Некорректное тело запроса Vendor API: {first.get('msg', '')}",
            parameter=parameter_path(first.get("loc", ())),
        ) from exc


def _status_answer(status: SolutionStatus, *, queued_work: bool) -> VendorAnswer:
    return VendorAnswer(200, json.dumps({"status": status.value}), queued_work=queued_work)


def _settings_survive(installation: Any | None) -> bool:
    return (
        installation is not None
        and installation.settings_saved_at is not None
        and installation.purged_at is None
    )


async def _activate(
    session: AsyncSession,
    moysklad_account_id: str,
    body: ActivationRequest,
    *,
    settings: Settings,
    cipher: TokenCipher,
    now: datetime,
) -> VendorAnswer:
    _check_app_uid(body.app_uid, settings)
    access_token = body.access_token()
    # Encrypt first: without keys the call fails with 503 and MoySklad retries it later.
    ciphertext = cipher.encrypt(access_token) if access_token else None
    account_id = await _account_for(session, moysklad_account_id, body.account_name)
    installation = await repository.get_installation(session, account_id, for_update=True)
    common: dict[str, Any] = {"last_cause": body.cause}
    if body.subscription is not None:
        common["subscription"] = body.subscription
    if body.account_name:
        common["moysklad_account_name"] = body.account_name

    if ciphertext is None:
        # TariffChanged, Autoprolongation: news about the subscription, nothing else changes.
        if installation is None:
            await repository.insert_installation(
                session,
                account_id=account_id,
                app_id=settings.MOYSKLAD_APP_ID,
                status=SolutionStatus.settings_required.value,
                installed_at=now,
                **common,
            )
            return _status_answer(SolutionStatus.settings_required, queued_work=False)
        await repository.update_installation(session, account_id, **common)
        current = SolutionStatus(installation.status)
        if current not in LIVE_STATUSES:
            current = (
                SolutionStatus.activated
                if _settings_survive(installation)
                else SolutionStatus.settings_required
            )
        return _status_answer(current, queued_work=False)

    # Install or Resume: a new JSON API token, and the account is open to the tills again.
    status = (
        SolutionStatus.activated
        if _settings_survive(installation)
        else SolutionStatus.settings_required
    )
    values: dict[str, Any] = {
        **common,
        "status": status.value,
        "access_token_ciphertext": ciphertext,
        "suspended_at": None,
        "uninstalled_at": None,
        "purge_after": None,
    }
    if installation is None:
        await repository.insert_installation(
            session,
            account_id=account_id,
            app_id=settings.MOYSKLAD_APP_ID,
            installed_at=now,
            **values,
        )
    else:
        if installation.status == SolutionStatus.uninstalled:
            values["installed_at"] = now
        await repository.update_installation(session, account_id, **values)
    await accounts_repository.set_status(session, account_id, "active")
    await tasks_repository.enqueue(session, account_id, "sync_catalogue")
    # After an uninstall MoySklad forgot our till token; a suspension only paused it.
    if status == SolutionStatus.activated and (
        installation is None or installation.loyalty_state != "connected"
    ):
        await tasks_repository.enqueue(session, account_id, "connect_loyalty")
    logger.info(
        "solution activated",
        extra={"account_id": str(account_id), "cause": body.cause, "status": status.value},
    )
    return _status_answer(status, queued_work=True)


async def _deactivate(
    session: AsyncSession,
    moysklad_account_id: str,
    body: DeactivationRequest,
    *,
    settings: Settings,
    now: datetime,
) -> VendorAnswer:
    _check_app_uid(body.app_uid, settings)
    account = await accounts_repository.find_by_moysklad_id(session, moysklad_account_id)
    installation = (
        None
        if account is None
        else await repository.get_installation(session, account.id, for_update=True)
    )
    if account is None or installation is None:
        return VendorAnswer(204, None)
    if installation.status == SolutionStatus.uninstalled:
        return VendorAnswer(200, None)  # already gone; a repeat changes nothing
    # MoySklad revoked the JSON API token before calling: drop our copy either way.
    if body.cause == "Uninstall":
        await repository.update_installation(
            session,
            account.id,
            status=SolutionStatus.uninstalled.value,
            last_cause=body.cause,
            uninstalled_at=now,
            purge_after=now + timedelta(days=settings.MOYSKLAD_UNINSTALL_RETENTION_DAYS),
            access_token_ciphertext=None,
            pending_till_token_ciphertext=None,
            connect_lease_until=None,
            loyalty_state="disconnected",
            loyalty_connected_at=None,
        )
        await accounts_repository.set_status(session, account.id, "uninstalled")
        await accounts_service.revoke_all_tokens(session, account.id)
    else:
        # Suspend (and any other deactivation): keep everything, just shut the tills out.
        await repository.update_installation(
            session,
            account.id,
            status=SolutionStatus.suspended.value,
            last_cause=body.cause,
            suspended_at=now,
            access_token_ciphertext=None,
        )
        await accounts_repository.set_status(session, account.id, "suspended")
    await tasks_repository.delete_for_account(session, account.id)
    logger.info("solution deactivated", extra={"account_id": str(account.id), "cause": body.cause})
    return VendorAnswer(200, None)


def _check_app_uid(app_uid: str | None, settings: Settings) -> None:
    if app_uid and settings.MOYSKLAD_APP_UID and app_uid != settings.MOYSKLAD_APP_UID:
        raise UnknownApplication(app_uid)


async def _account_for(
    session: AsyncSession, moysklad_account_id: str, account_name: str | None
) -> uuid.UUID:
    """The account of this MoySklad account: created on first install, or adopted when an
    operator created it by hand before the solution existed."""
    account = await accounts_repository.find_by_moysklad_id(session, moysklad_account_id)
    if account is not None:
        return uuid.UUID(str(account.id))
    created = await accounts_service.create_account(
        session,
        name=(account_name or "").strip() or moysklad_account_id,
        moysklad_account_id=moysklad_account_id,
        issue_token=False,
    )
    return created.id


async def purge_expired(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """After the retention period, erase what an uninstalled merchant left: customers'
    personal data, codes, the catalogue, the program settings and webhook endpoints. The
    ledger stays (an accounting record without personal data); a later install starts from
    SettingsRequired."""
    purged = await repository.due_for_purge(session, now)
    defaults = {name: getattr(ProgramSettings(), name) for name in PROGRAM_FIELDS}
    for account_id in purged:
        await customers_repository.erase_personal_data(session, account_id)
        await verification_repository.delete_for_account(session, account_id)
        await catalogue_repository.delete_for_account(session, account_id)
        await program_service.update_settings(session, account_id, defaults)
        await webhooks_service.forget_account(session, account_id, now)
        await tiers_service.forget_program(session, account_id)
        await repository.update_installation(
            session,
            account_id,
            purged_at=now,
            settings_saved_at=None,
            subscription=None,
            catalogue_synced_at=None,
            catalogue_sync_error=None,
            loyalty_error_status=None,
            loyalty_error_code=None,
            loyalty_error_detail=None,
        )
        logger.info("uninstalled account purged", extra={"account_id": str(account_id)})
    return purged


async def forget_old_calls(session: AsyncSession, now: datetime) -> None:
    await repository.forget_old(session, now, now - REQUEST_MEMORY)
