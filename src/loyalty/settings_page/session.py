"""The settings page's own short-lived session, signed with a key derived from the solution's
secret key.

MoySklad's `contextKey` lives 5 minutes, and cookies of a site framed by another are blocked
by Safari and Firefox and phased out by Chrome, so the page keeps no cookie: the signed session
travels in a hidden form field. An attacker's page can neither read it (same-origin policy) nor
guess it, so it also serves as the CSRF token (the synchronizer-token pattern); POSTs are also
refused when the browser says they come from another origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from loyalty.settings_page.errors import PageSessionInvalid

_KEY_LABEL = b"loyalty settings page session v1"


@dataclass(frozen=True)
class PageSession:
    account_id: uuid.UUID
    moysklad_account_id: str
    employee_uid: str
    employee_name: str
    is_admin: bool
    locale: str
    expires_at: int  # unix seconds


def session_key(secret_key: str) -> bytes:
    """A key of its own (domain separation): a page session never passes for a Vendor JWT."""
    return hmac.new(secret_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(page: PageSession, key: bytes) -> str:
    fields = asdict(page)
    fields["account_id"] = str(page.account_id)
    payload = _b64(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read(token: str | None, key: bytes, now: datetime) -> PageSession:
    if not token or len(token) > 4096 or "." not in token:
        raise PageSessionInvalid()
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise PageSessionInvalid()
    try:
        fields = json.loads(_unb64(payload))
        page = PageSession(**{**fields, "account_id": uuid.UUID(fields["account_id"])})
    except (ValueError, TypeError, KeyError) as exc:
        raise PageSessionInvalid() from exc
    if page.expires_at <= now.timestamp():
        raise PageSessionInvalid()
    return page
