"""HTML for the settings iframe: Jinja2 templates, security headers fit for MoySklad's frame."""

from __future__ import annotations

import secrets
from decimal import Decimal

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from loyalty.common.errors import DomainError
from loyalty.config import Settings
from loyalty.connection.errors import ConnectionInProgress, SolutionNotInstalled
from loyalty.moysklad.errors import MoySkladUnavailable
from loyalty.settings_page.errors import (
    AdminOnly,
    CrossSiteRequest,
    PageContextUnavailable,
    PageSessionInvalid,
)
from loyalty.settings_page.i18n import RU, translator
from loyalty.settings_page.service import PageView, connection_problem

_environment = Environment(
    loader=PackageLoader("loyalty.settings_page", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _decimal_text(value: Decimal, locale: str) -> str:
    """5 → "5", 2.50 → "2,5" in Russian, "2.5" in English (never "5E+1")."""
    text = format(value.normalize(), "f")
    return text.replace(".", ",") if locale == RU else text


_environment.filters["decimal_text"] = _decimal_text

_ERROR_TEXT_KEYS: dict[type[DomainError], str] = {
    PageSessionInvalid: "error.session",
    PageContextUnavailable: "error.context",
    AdminOnly: "error.admin_only",
    CrossSiteRequest: "error.cross_site",
    SolutionNotInstalled: "error.not_installed",
    ConnectionInProgress: "error.in_progress",
    MoySkladUnavailable: "error.unavailable",
}


def security_headers(settings: Settings, nonce: str) -> dict[str, str]:
    """Framing only by MoySklad (CSP frame-ancestors; X-Frame-Options cannot name an origin),
    inline style and script only with this response's nonce, forms only to ourselves, and
    nothing cached or leaked through Referer (the page carries a session)."""
    return {
        "Content-Security-Policy": (
            "default-src 'none'; "
            f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "img-src 'self' data:; form-action 'self'; base-uri 'none'; "
            f"frame-ancestors {settings.MOYSKLAD_FRAME_ANCESTORS}"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def render_page(
    view: PageView, settings: Settings, *, page_path: str, status_code: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _environment.get_template("settings.html").render(
        view=view,
        page_path=page_path,
        t=translator(view.page.locale),
        locale=view.page.locale,
        nonce=nonce,
        problem=connection_problem(view.installation, view.page.locale),
    )
    return HTMLResponse(html, status_code=status_code, headers=security_headers(settings, nonce))


def render_error(error: DomainError, settings: Settings, locale: str) -> HTMLResponse:
    t = translator(locale)
    key = next((text for kind, text in _ERROR_TEXT_KEYS.items() if isinstance(error, kind)), None)
    nonce = secrets.token_urlsafe(16)
    html = _environment.get_template("message.html").render(
        t=t, locale=locale, nonce=nonce, message=t(key) if key else error.message
    )
    return HTMLResponse(
        html, status_code=error.http_status, headers=security_headers(settings, nonce)
    )
