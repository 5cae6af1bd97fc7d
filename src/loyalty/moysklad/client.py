"""One HTTP client for everything we ask MoySklad: apps-api (a fresh JWT per call) and JSON API
1.2 (the account's Bearer token).

Every request sends `Accept-Encoding: gzip` (both APIs answer 415 without it), goes through the
account's throttle (in-flight cap and sliding-window rate), and is retried on 429, 5xx and
transport failures with exponential backoff, waiting as long as `X-Lognex-Retry-After` says.
A 4xx other than 429 is final and raised as `MoySkladRejected`; running out of attempts raises
`MoySkladUnavailable`, meaning the outcome of a write is unknown.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from loyalty import __version__
from loyalty.config import Settings
from loyalty.moysklad.errors import MoySkladRejected, MoySkladUnavailable, SolutionNotConfigured
from loyalty.moysklad.signing import mint_app_token
from loyalty.moysklad.throttle import Throttle

logger = logging.getLogger("loyalty.moysklad")

PAGE_LIMIT = 1000  # the JSON API maximum (spec §3.1)
INTERACTIVE_ATTEMPTS = 2  # a person is waiting: fail fast, the background retries later
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class MoySkladClient:
    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None):
        self._settings = settings
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.MOYSKLAD_TIMEOUT_SECONDS),
            headers={"Accept-Encoding": "gzip", "User-Agent": f"loyalty/{__version__}"},
            transport=transport,
        )
        self._throttles: dict[str, Throttle] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    # apps-api ---------------------------------------------------------------------------

    async def get_context(self, context_key: str) -> dict[str, Any]:
        """The employee who opened the iframe (`POST /context/{contextKey}`)."""
        response = await self._apps_api(
            "POST", f"/context/{context_key}", throttle_key="context", interactive=True
        )
        body: dict[str, Any] = response.json()
        return body

    async def put_loyalty(
        self,
        moysklad_account_id: str,
        *,
        url: str,
        token: str,
        external_search: bool,
        interactive: bool,
    ) -> None:
        await self._apps_api(
            "PUT",
            f"/apps/{self._app_id()}/{moysklad_account_id}/loyalty",
            throttle_key=moysklad_account_id,
            json={"url": url, "token": token, "externalSearch": external_search},
            interactive=interactive,
        )

    async def put_status(self, moysklad_account_id: str, status: str, *, interactive: bool) -> None:
        await self._apps_api(
            "PUT",
            f"/apps/{self._app_id()}/{moysklad_account_id}/status",
            throttle_key=moysklad_account_id,
            json={"status": status},
            interactive=interactive,
        )

    async def get_status(self, moysklad_account_id: str) -> dict[str, Any]:
        response = await self._apps_api(
            "GET",
            f"/apps/{self._app_id()}/{moysklad_account_id}/status",
            throttle_key=moysklad_account_id,
            interactive=True,
        )
        body: dict[str, Any] = response.json()
        return body

    # JSON API ---------------------------------------------------------------------------

    async def iterate_rows(
        self,
        path: str,
        *,
        access_token: str,
        throttle_key: str,
        params: dict[str, str] | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of `rows` of a JSON API list, `limit=1000` each, until `meta.size` is reached."""
        offset = 0
        while True:
            response = await self._request(
                "GET",
                f"{self._settings.MOYSKLAD_JSON_API_URL.rstrip('/')}/{path.lstrip('/')}",
                throttle_key=throttle_key,
                authorization=lambda: f"Bearer {access_token}",
                params={**(params or {}), "limit": str(PAGE_LIMIT), "offset": str(offset)},
                interactive=False,
            )
            body = response.json()
            rows: list[dict[str, Any]] = body.get("rows") or []
            if rows:
                yield rows
            offset += len(rows)
            size = (body.get("meta") or {}).get("size")
            if len(rows) < PAGE_LIMIT or (isinstance(size, int) and offset >= size):
                return

    # plumbing ---------------------------------------------------------------------------

    def _app_id(self) -> str:
        if not self._settings.MOYSKLAD_APP_ID:
            raise SolutionNotConfigured("LOYALTY_MOYSKLAD_APP_ID")
        return self._settings.MOYSKLAD_APP_ID

    def _app_token(self) -> str:
        settings = self._settings
        if not settings.MOYSKLAD_APP_UID or settings.MOYSKLAD_SECRET_KEY is None:
            raise SolutionNotConfigured("LOYALTY_MOYSKLAD_APP_UID", "LOYALTY_MOYSKLAD_SECRET_KEY")
        return mint_app_token(
            settings.MOYSKLAD_APP_UID, settings.MOYSKLAD_SECRET_KEY.get_secret_value()
        )

    async def _apps_api(
        self,
        method: str,
        path: str,
        *,
        throttle_key: str,
        interactive: bool,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        self._app_token()  # fail before any I/O when the solution is not configured
        return await self._request(
            method,
            self._settings.MOYSKLAD_APPS_API_URL.rstrip("/") + path,
            throttle_key=throttle_key,
            # apps-api tokens are one-time: every attempt gets its own.
            authorization=lambda: f"Bearer {self._app_token()}",
            json=json,
            interactive=interactive,
        )

    def throttle(self, key: str) -> Throttle:
        throttle = self._throttles.get(key)
        if throttle is None:
            throttle = Throttle(
                max_parallel=self._settings.MOYSKLAD_MAX_PARALLEL_REQUESTS,
                requests_per_period=self._settings.moysklad_rate_limit_requests,
                period_seconds=self._settings.MOYSKLAD_RATE_LIMIT_PERIOD_SECONDS,
            )
            self._throttles[key] = throttle
        return throttle

    async def _request(
        self,
        method: str,
        url: str,
        *,
        throttle_key: str,
        authorization: Callable[[], str],
        interactive: bool,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        attempts = self._settings.MOYSKLAD_MAX_ATTEMPTS
        if interactive:
            attempts = min(attempts, INTERACTIVE_ATTEMPTS)
        throttle = self.throttle(throttle_key)
        last_problem = "нет ответа"
        last_status: int | None = None
        for attempt in range(1, attempts + 1):
            try:
                async with throttle.slot():
                    response = await self._http.request(
                        method,
                        url,
                        json=json,
                        params=params,
                        headers={"Authorization": authorization()},
                    )
            except httpx.TransportError as exc:
                last_problem, last_status = type(exc).__name__, None
                logger.warning(
                    "moysklad transport error",
                    extra={"method": method, "url": _redact(url), "attempt": attempt},
                )
                delay = self._backoff(attempt)
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRYABLE_STATUSES:
                    raise MoySkladRejected(response.status_code, _errors(response))
                last_problem, last_status = f"HTTP {response.status_code}", response.status_code
                delay = self._backoff(attempt)
                retry_after = _retry_after_seconds(response)
                if retry_after is not None:
                    delay = retry_after
                    throttle.pause(retry_after)
                logger.warning(
                    "moysklad answered %s",
                    response.status_code,
                    extra={"method": method, "url": _redact(url), "attempt": attempt},
                )
            if attempt < attempts:
                await asyncio.sleep(delay)
        raise MoySkladUnavailable(last_problem, status=last_status)

    def _backoff(self, attempt: int) -> float:
        """Exponential with jitter, so many accounts retrying do not arrive in lockstep."""
        base: float = self._settings.MOYSKLAD_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
        return min(base, 30.0) * random.uniform(0.5, 1.0)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    for header, scale in (
        ("X-Lognex-Retry-After", 1000.0),
        ("X-Lognex-Retry-TimeInterval", 1000.0),
        ("Retry-After", 1.0),
    ):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(float(value) / scale, 0.0)
        except ValueError:
            continue
    return None


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [item for item in errors if isinstance(item, dict)] if isinstance(errors, list) else []


def _redact(url: str) -> str:
    """Context keys are short-lived credentials: keep them out of logs."""
    head, marker, _ = url.partition("/context/")
    return head + marker + "…" if marker else url
