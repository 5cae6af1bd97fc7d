"""The solution's main iframe (descriptor `iframes/iframe[type=main]`): a server-rendered page.

GET opens it from MoySklad with `contextKey`; the forms POST back with the page's own signed
session (see `session.py`). Failures render as a page in the user's language, not as JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from loyalty.common.dependencies import NowDep, SettingsDep
from loyalty.common.errors import DomainError
from loyalty.db.session import SessionDep
from loyalty.moysklad.dependencies import RuntimeDep
from loyalty.settings_page import service
from loyalty.settings_page.i18n import locale_from
from loyalty.settings_page.rendering import render_error, render_page
from loyalty.settings_page.service import PageView
from loyalty.settings_page.session import PageSession

SETTINGS_PATH = "/moysklad/settings"

router = APIRouter(prefix=SETTINGS_PATH, tags=["settings page"], include_in_schema=False)


def _page_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + SETTINGS_PATH


async def _respond(
    request: Request, settings: SettingsDep, locale: str, build: Callable[[], Awaitable[PageView]]
) -> HTMLResponse:
    try:
        view = await build()
    except DomainError as error:
        return render_error(error, settings, locale)
    return render_page(view, settings, page_path=_page_path(request))


async def _posted_session(request: Request, settings: SettingsDep, now: NowDep) -> PageSession:
    service.check_same_origin(
        request.headers.get("origin"),
        request_origin=f"{request.url.scheme}://{request.url.netloc}",
        public_base_url=settings.PUBLIC_BASE_URL,
    )
    form = await request.form()
    token = form.get("session")
    return service.read_session(
        token if isinstance(token, str) else None, settings=settings, now=now
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.get("", response_class=HTMLResponse)
async def open_settings(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    runtime: RuntimeDep,
    context_key: Annotated[str | None, Query(alias="contextKey", max_length=512)] = None,
    user_locale: Annotated[str | None, Query(alias="userLocale", max_length=16)] = None,
) -> HTMLResponse:
    locale = locale_from(user_locale)
    return await _respond(
        request,
        settings,
        locale,
        lambda: service.open_page(
            session,
            runtime.client,
            context_key=context_key,
            locale=locale,
            settings=settings,
            now=now,
        ),
    )


async def _handle_post(
    request: Request,
    settings: SettingsDep,
    now: NowDep,
    action: Callable[[PageSession, dict[str, str]], Awaitable[PageView]],
) -> HTMLResponse:
    form = await _form(request)

    async def build() -> PageView:
        return await action(await _posted_session(request, settings, now), form)

    # The hidden locale field only picks the language of an error page shown before the
    # session is read.
    return await _respond(request, settings, locale_from(form.get("locale")), build)


@router.post("", response_class=HTMLResponse)
async def save_settings(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep
) -> HTMLResponse:
    return await _handle_post(
        request,
        settings,
        now,
        lambda page, form: service.save_settings(session, page, form, settings=settings, now=now),
    )


@router.post("/connect", response_class=HTMLResponse)
async def connect(
    request: Request, settings: SettingsDep, now: NowDep, runtime: RuntimeDep
) -> HTMLResponse:
    return await _handle_post(
        request, settings, now, lambda page, _form: service.connect(runtime, page)
    )


@router.post("/sync", response_class=HTMLResponse)
async def request_sync(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep
) -> HTMLResponse:
    return await _handle_post(
        request,
        settings,
        now,
        lambda page, _form: service.request_sync(session, page, settings=settings, now=now),
    )
