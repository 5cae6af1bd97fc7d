"""The solution's main iframe: who is looking (MoySklad's user context), the program settings
and the connection to the tills."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import repository as accounts_repository
from loyalty.catalogue import repository as catalogue_repository
from loyalty.config import Settings
from loyalty.connection import service as connection_service
from loyalty.connection.errors import SolutionNotInstalled
from loyalty.moysklad.client import MoySkladClient
from loyalty.moysklad.errors import MoySkladRejected, SolutionNotConfigured
from loyalty.moysklad.runtime import MoySkladRuntime
from loyalty.program import service as program_service
from loyalty.program.errors import InvalidProgramSetting
from loyalty.program.schemas import ProgramSettings
from loyalty.settings_page import session as page_sessions
from loyalty.settings_page.errors import AdminOnly, CrossSiteRequest, PageContextUnavailable
from loyalty.settings_page.i18n import EN, EN_FIELD_ERRORS, translator
from loyalty.settings_page.session import PageSession
from loyalty.tasks import repository as tasks_repository
from loyalty.vendor import repository as vendor_repository

PERCENT_FIELDS = ("earn_percent", "max_spend_percent")
WHOLE_FIELDS = ("activation_delay_days", "welcome_bonus_points")
OPTIONAL_WHOLE_FIELDS = ("expiry_days", "verify_spend_above_points")
# Added later than the form: a form posted without them leaves them as they are.
JOB_WHOLE_FIELDS = ("birthday_bonus_points", "birthday_window_days", "expiry_warning_days")
FLAG_FIELDS = ("earn_on_spend", "verify_registration", "auto_enroll")
LARGEST_WHOLE = 1_000_000_000
MAX_CONTEXT_KEY_LENGTH = 512
LIVE_STATUSES = ("SettingsRequired", "Activated")


@dataclass
class PageView:
    """Everything the template shows; `form` holds the values as typed when they are echoed."""

    session_token: str
    page: PageSession
    account_name: str
    program: ProgramSettings
    installation: Any
    catalogue: dict[str, int]
    sync_queued: bool
    loyalty_url: str | None
    form: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notice: str | None = None
    notice_is_error: bool = False


def _secret(settings: Settings) -> bytes:
    if settings.MOYSKLAD_SECRET_KEY is None:
        raise SolutionNotConfigured("LOYALTY_MOYSKLAD_SECRET_KEY")
    return page_sessions.session_key(settings.MOYSKLAD_SECRET_KEY.get_secret_value())


def read_session(token: str | None, *, settings: Settings, now: datetime) -> PageSession:
    return page_sessions.read(token, _secret(settings), now)


def check_same_origin(
    origin: str | None, *, request_origin: str, public_base_url: str | None
) -> None:
    """Browsers send Origin on every POST; a form posted from another site is refused. The
    signed session in the form remains the main defence (see `session.py`)."""
    if not origin or origin == "null":
        return
    allowed = {request_origin.rstrip("/")}
    if public_base_url:
        scheme, _, rest = public_base_url.partition("://")
        allowed.add(f"{scheme}://{rest.split('/', 1)[0]}")
    if origin.rstrip("/") not in allowed:
        raise CrossSiteRequest()


def _is_admin(employee: Mapping[str, Any]) -> bool:
    permissions = employee.get("permissions")
    admin = permissions.get("admin") if isinstance(permissions, Mapping) else None
    view = admin.get("view") if isinstance(admin, Mapping) else None
    return view is True or (isinstance(view, str) and view.upper() == "ALL")


async def open_page(
    session: AsyncSession,
    client: MoySkladClient,
    *,
    context_key: str | None,
    locale: str,
    settings: Settings,
    now: datetime,
) -> PageView:
    """Resolve the user behind `contextKey`, then start the page's own session."""
    key = _secret(settings)
    if not context_key or len(context_key) > MAX_CONTEXT_KEY_LENGTH:
        raise PageContextUnavailable()
    try:
        employee = await client.get_context(context_key)
    except MoySkladRejected as exc:
        raise PageContextUnavailable() from exc
    moysklad_account_id = str(employee.get("accountId") or "")
    uid = str(employee.get("uid") or employee.get("id") or "")
    if not moysklad_account_id or not uid:
        raise PageContextUnavailable()
    account = await accounts_repository.find_by_moysklad_id(session, moysklad_account_id)
    if account is None:
        raise SolutionNotInstalled()
    page = PageSession(
        account_id=uuid.UUID(str(account.id)),
        moysklad_account_id=moysklad_account_id,
        employee_uid=uid,
        employee_name=str(employee.get("shortFio") or employee.get("name") or uid),
        is_admin=_is_admin(employee),
        locale=locale,
        expires_at=int(now.timestamp()) + settings.MOYSKLAD_SETTINGS_SESSION_TTL_SECONDS,
    )
    return await view(session, page, settings=settings, key=key, now=now)


async def view(
    session: AsyncSession,
    page: PageSession,
    *,
    settings: Settings,
    now: datetime,
    key: bytes | None = None,
    **extra: Any,
) -> PageView:
    account = await accounts_repository.get_account(session, page.account_id)
    installation = await vendor_repository.get_installation(session, page.account_id)
    if account is None or installation is None or installation.status not in LIVE_STATUSES:
        raise SolutionNotInstalled()
    program = await program_service.get_settings(session, page.account_id)
    tasks = {row.kind for row in await tasks_repository.pending_kinds(session, page.account_id)}
    # Every page served renews the session: an open page never expires while it is used.
    renewed = PageSession(
        **{
            **page.__dict__,
            "expires_at": int(now.timestamp()) + settings.MOYSKLAD_SETTINGS_SESSION_TTL_SECONDS,
        }
    )
    return PageView(
        session_token=page_sessions.issue(renewed, key or _secret(settings)),
        page=renewed,
        account_name=str(account.name),
        program=program,
        installation=installation,
        catalogue=await catalogue_repository.counts(session, page.account_id),
        sync_queued="sync_catalogue" in tasks,
        loyalty_url=(
            connection_service.loyalty_base_url(settings.PUBLIC_BASE_URL)
            if settings.PUBLIC_BASE_URL
            else None
        ),
        **extra,
    )


def parse_form(form: Mapping[str, str], locale: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed changes and per-field messages, checked field by field with the program's own
    validation, so every wrong field is marked at once."""
    t = translator(locale)
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in PERCENT_FIELDS:
        text = (form.get(name) or "").strip().replace(" ", "").replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            errors[name] = t("parse.number")
            continue
        if not number.is_finite():
            errors[name] = t("parse.number")
            continue
        changes[name] = number
    for name in (*WHOLE_FIELDS, *OPTIONAL_WHOLE_FIELDS, *JOB_WHOLE_FIELDS):
        if name in JOB_WHOLE_FIELDS and name not in form:
            continue
        text = (form.get(name) or "").strip().replace(" ", "")
        if not text and name in OPTIONAL_WHOLE_FIELDS:
            changes[name] = None
            continue
        try:
            whole = int(text)
        except ValueError:
            errors[name] = t("parse.whole")
            continue
        if abs(whole) > LARGEST_WHOLE:
            errors[name] = t("parse.whole")
            continue
        changes[name] = whole
    for name in FLAG_FIELDS:
        changes[name] = name in form
    changes["receipt_text"] = (form.get("receipt_text") or "").replace("\r\n", "\n")
    for name, value in list(changes.items()):
        try:
            program_service.validate_changes({name: value})
        except InvalidProgramSetting as error:
            errors[name] = (
                EN_FIELD_ERRORS.get(name, error.message) if locale == EN else error.message
            )
            del changes[name]
    return changes, errors


async def save_settings(
    session: AsyncSession,
    page: PageSession,
    form: Mapping[str, str],
    *,
    settings: Settings,
    now: datetime,
) -> PageView:
    if not page.is_admin:
        raise AdminOnly()
    t = translator(page.locale)
    current = await program_service.get_settings(session, page.account_id)
    if (form.get("version") or "").strip() != str(current.version):
        return await view(
            session,
            page,
            settings=settings,
            now=now,
            notice=t("notice.stale"),
            notice_is_error=True,
        )
    changes, errors = parse_form(form, page.locale)
    if errors:
        return await view(
            session,
            page,
            settings=settings,
            now=now,
            form=dict(form),
            errors=errors,
            notice=t("notice.invalid"),
            notice_is_error=True,
        )
    await program_service.update_settings(session, page.account_id, changes)
    await vendor_repository.update_installation(session, page.account_id, settings_saved_at=now)
    return await view(session, page, settings=settings, now=now, notice=t("notice.saved"))


async def request_sync(
    session: AsyncSession, page: PageSession, *, settings: Settings, now: datetime
) -> PageView:
    if not page.is_admin:
        raise AdminOnly()
    await tasks_repository.enqueue(session, page.account_id, "sync_catalogue")
    return await view(
        session,
        page,
        settings=settings,
        now=now,
        notice=translator(page.locale)("notice.sync_queued"),
    )


async def connect(runtime: MoySkladRuntime, page: PageSession) -> PageView:
    """The Connect button: a new till token to MoySklad, then `Activated`; what went wrong is
    shown on the page, and what may still succeed is retried in the background."""
    if not page.is_admin:
        raise AdminOnly()
    outcome = await connection_service.connect(
        runtime, page.account_id, rotate=True, interactive=True
    )
    if outcome.retry_after_seconds is not None:
        await connection_service.schedule_retry(
            runtime, page.account_id, outcome.retry_after_seconds
        )
    notice = None
    if outcome.state == "connected" and outcome.status_reported:
        notice = translator(page.locale)("notice.connected")
    async with runtime.transaction() as session:
        return await view(
            session, page, settings=runtime.settings, now=runtime.clock.now(), notice=notice
        )


def connection_problem(installation: Any, locale: str) -> str | None:
    """What the last attempt to connect met, in the merchant's words."""
    t = translator(locale)
    if installation.loyalty_state == "unknown":
        return t("moysklad.unknown")
    if installation.loyalty_error_status is not None:
        code = installation.loyalty_error_code
        if code in (2004, 2006, 2007):
            return t(f"moysklad.{code}")
        detail = installation.loyalty_error_detail or f"HTTP {installation.loyalty_error_status}"
        return f"{t('moysklad.rejected')}: {detail}"
    if installation.status_report_error:
        return t("moysklad.status_pending")
    return None
