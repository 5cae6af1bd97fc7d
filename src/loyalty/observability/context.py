"""What every log line of a request carries: its id, the merchant account and the endpoint.

The middleware puts one mutable `RequestContext` in a context variable; the till-token
dependency fills in the account. A mutable object (rather than one variable per field) stays
visible to the middleware even if part of the request runs in a copied context.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"
# Ids from a proxy or a client are kept when they are short and plain; anything else could be
# a log-injection attempt and is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@dataclass
class RequestContext:
    request_id: str
    method: str
    # The route template (`/loyalty/counterparty`), never the raw path with ids or phones.
    route: str
    account_id: uuid.UUID | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.route}"


_current: ContextVar[RequestContext | None] = ContextVar("loyalty_request", default=None)


def accept_request_id(incoming: str | None) -> str:
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def begin_request(request_id: str, method: str, route: str) -> RequestContext:
    context = RequestContext(request_id=request_id, method=method, route=route)
    _current.set(context)
    return context


def current_request() -> RequestContext | None:
    return _current.get()


def bind_account(account_id: uuid.UUID) -> None:
    """Called once the till token is resolved: later log lines name the merchant account."""
    context = _current.get()
    if context is not None:
        context.account_id = account_id
