"""The outermost layer of the app: request id, latency and replay metrics, the access log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loyalty.observability import metrics
from loyalty.observability.context import (
    REQUEST_ID_HEADER,
    RequestContext,
    accept_request_id,
    begin_request,
)
from loyalty.observability.pii import mask_text
from loyalty.sales.router import REPLAY_HEADER

UNMATCHED_ROUTE = "unmatched"
# Probes hit these every few seconds; their access lines are debug-level noise.
PROBE_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

access_logger = logging.getLogger("loyalty.access")


class RouteTemplates:
    """Maps a request path to the template of the route that serves it, such as
    `/loyalty/counterparty`: a bounded metric label that never carries ids or phones.

    Built from the app's route table, so it also names requests refused before routing
    (413, 415)."""

    def __init__(self, templates: Collection[str]) -> None:
        self._literal = {template for template in templates if "{" not in template}
        self._patterns = [
            (compile_path(template)[0], template) for template in templates if "{" in template
        ]

    def match(self, path: str) -> str | None:
        if path in self._literal:
            return path
        return next((template for regex, template in self._patterns if regex.match(path)), None)


def _route_paths(app: FastAPI) -> set[str]:
    """Every route's full path template, router prefixes included."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is already flat
        paths = {getattr(route, "path", None) for route in app.routes}
    else:
        paths = {context.path for context in iter_route_contexts(app.routes)}
    return {path for path in paths if isinstance(path, str)}


class RequestObservabilityMiddleware:
    def __init__(
        self, app: ASGIApp, *, templates: Callable[[], RouteTemplates], access_log: bool
    ) -> None:
        self.app = app
        self.templates = templates
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        route = self.templates().match(scope.get("path", "")) or UNMATCHED_ROUTE
        context = begin_request(request_id, scope["method"], route)
        outcome: dict[str, Any] = {"status": 500, "replayed": False, "started": False}
        answered_at: float | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal answered_at
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                outcome.update(
                    status=message["status"],
                    replayed=headers.get(REPLAY_HEADER) == "true",
                    started=True,
                )
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered_at = time.perf_counter()
            await send(message)

        started_at = time.perf_counter()
        metrics.HTTP_REQUESTS_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            # The 500 handler has answered and logged it; Starlette re-raises only so that a
            # server can log it a second time.
            if not outcome["started"]:
                raise
        finally:
            metrics.HTTP_REQUESTS_IN_PROGRESS.dec()
            # The latency is the till's: until the answer's last byte, not until a request cut
            # at its deadline has finished cleaning up behind its 503.
            finished_at = answered_at if answered_at is not None else time.perf_counter()
            self._record(context, scope, outcome, finished_at - started_at)

    def _record(
        self, context: RequestContext, scope: Scope, outcome: dict[str, Any], seconds: float
    ) -> None:
        route = context.route
        method = context.method if context.method in _METHODS else "OTHER"
        status = str(outcome["status"])
        metrics.HTTP_REQUEST_DURATION.labels(method=method, route=route, status=status).observe(
            seconds
        )
        if outcome["replayed"]:
            metrics.IDEMPOTENT_REPLAYS.labels(route=route).inc()
        if self.access_log:
            level = logging.DEBUG if route in PROBE_ROUTES else logging.INFO
            fields: dict[str, Any] = {
                "method": context.method,
                "status": outcome["status"],
                "duration_ms": round(seconds * 1000, 3),
                "replayed": outcome["replayed"],
            }
            path = scope.get("path", "")
            if path != route:  # ids in the path, or no route at all
                # A path can carry anything a client typed (a phone looked up by operators):
                # masked here, not left to the handler's filter.
                fields["path"] = mask_text(path)
            access_logger.log(
                level,
                "%s %s %s %.1f ms",
                context.method,
                route,
                status,
                seconds * 1000,
                extra=fields,
            )


class ObservedFastAPI(FastAPI):
    """FastAPI with the observer outside every other layer, the 500 handler included, so a
    failed request is measured and still answers with its X-Request-ID."""

    access_log: bool = True
    _route_templates: RouteTemplates | None = None

    def route_templates(self) -> RouteTemplates:
        if self._route_templates is None:
            self._route_templates = RouteTemplates(_route_paths(self))
        return self._route_templates

    def build_middleware_stack(self) -> ASGIApp:
        return RequestObservabilityMiddleware(
            super().build_middleware_stack(),
            templates=self.route_templates,
            access_log=self.access_log,
        )
