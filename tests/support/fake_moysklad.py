"""A fake MoySklad: a real HTTP server speaking apps-api (context, status, loyalty) and the JSON
API list endpoints we use, checking our JWTs as MoySklad does. It also plays MoySklad's side of
the lifecycle: it signs Vendor API calls (install, resume, suspend, uninstall, tariff changes)
and sends them to our service, and it can embed our settings page in a frame of its own.

Tests tell it to misbehave with `fail(...)`: any status, MoySklad error code and
`X-Lognex-Retry-After`, for a number of matching requests.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse

APPS_API = "/api/vendor/1.0"
JSON_API = "/api/remap/1.2"
JSON_ENTITIES = ("retailstore", "productfolder", "product", "service", "bundle", "variant")


@dataclass
class FakeInstallation:
    account_id: str
    account_name: str
    status: str = "Activating"
    access_token: str | None = None
    loyalty: dict[str, Any] | None = None
    subscription: dict[str, Any] = field(
        default_factory=lambda: {
            "tariffId": str(uuid.uuid4()),
            "trial": True,
            "tariffName": "Базовый",
        }
    )


@dataclass
class FailureRule:
    path_contains: str
    status: int
    method: str | None
    times: int
    code: int | None
    retry_after_ms: int | None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and self.path_contains in path
            and (self.method is None or self.method == method)
        )


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0
    claims: dict[str, Any] | None = None


class FakeMoySklad:
    def __init__(self, *, app_id: str, app_uid: str, secret_key: str) -> None:
        self.app_id = app_id
        self.app_uid = app_uid
        self.secret_key = secret_key
        self.installations: dict[str, FakeInstallation] = {}
        self.catalogues: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.contexts: dict[str, tuple[dict[str, Any], float]] = {}
        self.seen_jti: set[str] = set()
        self.requests: list[Recorded] = []
        self.rules: list[FailureRule] = []
        self.loyalty_api_allowed = True
        self.json_api_delay_seconds = 0.0
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.base_url = ""
        self.app = self._build_app()

    # what tests arrange ---------------------------------------------------------------

    def fail(
        self,
        path_contains: str,
        status: int,
        *,
        method: str | None = None,
        times: int = 1,
        code: int | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        self.rules.append(FailureRule(path_contains, status, method, times, code, retry_after_ms))

    def issue_context(
        self, account_id: str, *, admin: bool = True, name: str = "Петрова А. В."
    ) -> str:
        key = secrets.token_hex(16)
        employee = {
            "id": str(uuid.uuid4()),
            "uid": f"user{secrets.token_hex(2)}@{account_id[:8]}",
            "accountId": account_id,
            "shortFio": name,
            "name": name,
            "permissions": {"admin": {"view": "ALL" if admin else "NO"}},
        }
        self.contexts[key] = (employee, time.time() + 300)
        return key

    def seed_catalogue(
        self, account_id: str, *, products: int = 3, folders: int = 2, stores: int = 2
    ) -> dict[str, list[dict[str, Any]]]:
        href = f"https://api.moysklad.ru{JSON_API}/entity"
        folder_rows = [
            {
                "id": str(uuid.uuid4()),
                "name": f"Группа {index}",
                "pathName": "" if index == 0 else "Группа 0",
            }
            for index in range(folders)
        ]
        for row in folder_rows[1:]:
            row["productFolder"] = {
                "meta": {"href": f"{href}/productfolder/{folder_rows[0]['id']}"}
            }
        product_rows = [
            {
                "id": str(uuid.uuid4()),
                "name": f"Товар {index}",
                "pathName": folder_rows[index % folders]["name"] if folders else "",
                "productFolder": {
                    "meta": {"href": f"{href}/productfolder/{folder_rows[index % folders]['id']}"}
                }
                if folders
                else None,
            }
            for index in range(products)
        ]
        catalogue: dict[str, list[dict[str, Any]]] = {
            "retailstore": [
                {"id": str(uuid.uuid4()), "name": f"Точка {index}", "active": True}
                for index in range(stores)
            ],
            "productfolder": folder_rows,
            "product": product_rows,
            "service": [{"id": str(uuid.uuid4()), "name": "Доставка", "pathName": ""}],
            "bundle": [],
            "variant": [
                {
                    "id": str(uuid.uuid4()),
                    "name": f"{product_rows[0]['name']} (XL)",
                    "product": {"meta": {"href": f"{href}/product/{product_rows[0]['id']}"}},
                }
            ]
            if product_rows
            else [],
        }
        self.catalogues[account_id] = catalogue
        return catalogue

    def sign(
        self,
        *,
        issued_at: float | None = None,
        expires_at: float | None = None,
        jti: str | None = None,
        key: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        now = time.time() if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "iat": int(now),
            "exp": int(now + 60 if expires_at is None else expires_at),
            "jti": jti or secrets.token_hex(16),
            **(extra or {}),
        }
        return jwt.encode(claims, key or self.secret_key, algorithm="HS256")

    # MoySklad calling our Vendor API --------------------------------------------------------

    def vendor_call(
        self,
        target: str,
        method: str,
        account_id: str,
        body: dict[str, Any] | None,
        *,
        token: str | None = None,
        request_id: str | None = None,
        app_id: str | None = None,
        authorization: str | None = "default",
    ) -> httpx.Response:
        headers = {
            "Content-Type": "application/json",
            "X_Lognex_RequestId": request_id or str(uuid.uuid4()),
        }
        if authorization == "default":
            headers["Authorization"] = f"Bearer {token or self.sign()}"
        elif authorization is not None:
            headers["Authorization"] = authorization
        return httpx.request(
            method,
            f"{target}/api/moysklad/vendor/1.0/apps/{app_id or self.app_id}/{account_id}",
            content=json.dumps(body, ensure_ascii=False) if body is not None else None,
            headers=headers,
            timeout=30,
        )

    def activation_body(
        self, installation: FakeInstallation, cause: str, *, with_token: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "appUid": self.app_uid,
            "accountName": installation.account_name,
            "cause": cause,
            "subscription": installation.subscription,
        }
        if with_token:
            installation.access_token = secrets.token_hex(20)
            body["access"] = [
                {
                    "resource": "https://api.moysklad.ru/api/remap/1.2",
                    "scope": ["admin"],
                    "access_token": installation.access_token,
                }
            ]
        return body

    def install(
        self, target: str, account_id: str | None = None, *, account_name: str = "Кофейня"
    ) -> tuple[str, httpx.Response]:
        account_id = account_id or str(uuid.uuid4())
        installation = self.installations.get(account_id) or FakeInstallation(
            account_id, account_name
        )
        self.installations[account_id] = installation
        installation.status = "Activating"
        if account_id not in self.catalogues:
            self.seed_catalogue(account_id)
        response = self.vendor_call(
            target,
            "PUT",
            account_id,
            self.activation_body(installation, "Install", with_token=True),
        )
        self._after_activation(installation, response)
        return account_id, response

    def resume(self, target: str, account_id: str) -> httpx.Response:
        installation = self.installations[account_id]
        response = self.vendor_call(
            target, "PUT", account_id, self.activation_body(installation, "Resume", with_token=True)
        )
        self._after_activation(installation, response)
        return response

    def change_tariff(
        self, target: str, account_id: str, cause: str = "TariffChanged"
    ) -> httpx.Response:
        installation = self.installations[account_id]
        installation.subscription = {
            **installation.subscription,
            "trial": False,
            "tariffName": "Профи",
        }
        return self.vendor_call(
            target, "PUT", account_id, self.activation_body(installation, cause, with_token=False)
        )

    def suspend(self, target: str, account_id: str) -> httpx.Response:
        installation = self.installations[account_id]
        installation.access_token = None  # revoked before the call, as MoySklad does
        response = self.vendor_call(
            target, "DELETE", account_id, {"appUid": self.app_uid, "cause": "Suspend"}
        )
        if response.status_code == 200:
            installation.status = "Suspended"
        return response

    def uninstall(self, target: str, account_id: str) -> httpx.Response:
        installation = self.installations.get(account_id)
        if installation is not None:
            installation.access_token = None
        response = self.vendor_call(
            target, "DELETE", account_id, {"appUid": self.app_uid, "cause": "Uninstall"}
        )
        if response.status_code in (200, 204) and installation is not None:
            # MoySklad deletes its loyalty settings with the solution.
            installation.loyalty = None
            installation.status = "Uninstalled"
        return response

    def _after_activation(self, installation: FakeInstallation, response: httpx.Response) -> None:
        if response.status_code == 200:
            installation.status = response.json()["status"]
        else:
            installation.status = "ActivationFailed"

    # the till, as MoySklad would call our LoyaltyAPI ------------------------------------------

    def till_call(self, account_id: str, path: str, body: dict[str, Any]) -> httpx.Response:
        loyalty = self.installations[account_id].loyalty
        assert loyalty is not None, "no loyalty settings at MoySklad"
        return httpx.post(
            loyalty["url"].rstrip("/") + path,
            json=body,
            headers={"Lognex-Discount-API-Auth-Token": loyalty["token"]},
            timeout=30,
        )

    def requests_to(self, path_contains: str, method: str | None = None) -> list[Recorded]:
        return [
            request
            for request in self.requests
            if path_contains in request.path and (method is None or request.method == method)
        ]

    # the server ---------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            recorded = Recorded(
                request.method,
                request.url.path,
                dict(request.headers),
                body,
                time.monotonic(),
                dict(request.query_params),
            )
            self.requests.append(recorded)
            if request.url.path.startswith((APPS_API, JSON_API)):
                if "gzip" not in request.headers.get("accept-encoding", ""):
                    recorded.status = 415
                    return Response(status_code=415)
                for rule in self.rules:
                    if rule.matches(request.method, request.url.path):
                        rule.times -= 1
                        recorded.status = rule.status
                        return _error(rule.status, rule.code, rule.retry_after_ms)
            request.state.recorded = recorded
            response: Response = await call_next(request)
            recorded.status = response.status_code
            return response

        def authorised(request: Request) -> Response | None:
            problem, claims = self._check_jwt(request.headers.get("authorization"))
            request.state.recorded.claims = claims
            if problem:
                return Response(
                    json.dumps({"errors": [{"error": problem, "code": 1056}]}),
                    status_code=401,
                    media_type="application/json",
                    headers={"X-Lognex-Auth": "-1", "X-Lognex-Auth-Message": problem},
                )
            return None

        @app.post(APPS_API + "/context/{key}")
        async def context(key: str, request: Request) -> Response:
            if (refused := authorised(request)) is not None:
                return refused
            found = self.contexts.get(key)
            if found is None or found[1] < time.time():
                return _error(404, 3007)
            return _json(found[0])

        @app.get(APPS_API + "/apps/{app_id}/{account_id}/status")
        async def get_status(app_id: str, account_id: str, request: Request) -> Response:
            if (refused := authorised(request)) is not None:
                return refused
            installation = self._live(app_id, account_id)
            if installation is None:
                return _error(404, 2004)
            return _json({"status": installation.status, "subscription": installation.subscription})

        @app.put(APPS_API + "/apps/{app_id}/{account_id}/status")
        async def put_status(app_id: str, account_id: str, request: Request) -> Response:
            if (refused := authorised(request)) is not None:
                return refused
            installation = self._live(app_id, account_id)
            if installation is None:
                return _error(404, 2004)
            wanted = (await request.json()).get("status")
            if wanted not in ("Activating", "SettingsRequired", "Activated"):
                return _error(400, 2000)
            if installation.status in ("Suspended",):
                return _error(409, 2009)
            installation.status = wanted
            return _json({"status": wanted})

        @app.put(APPS_API + "/apps/{app_id}/{account_id}/loyalty")
        async def put_loyalty(app_id: str, account_id: str, request: Request) -> Response:
            if (refused := authorised(request)) is not None:
                return refused
            installation = self._live(app_id, account_id)
            if installation is None:
                return _error(404, 2004)
            if not self.loyalty_api_allowed:
                return _error(400, 2006)
            if installation.status not in ("SettingsRequired", "Activated"):
                return _error(400, 2007)
            body = await request.json()
            if not all(key in body for key in ("url", "token", "externalSearch")):
                return _error(400, 2000)
            installation.loyalty = body
            return _json(body)

        @app.get(JSON_API + "/entity/{entity}")
        async def entity_list(entity: str, request: Request) -> Response:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            installation = next(
                (item for item in self.installations.values() if item.access_token == token),
                None,
            )
            if not token or installation is None:
                return _error(401, 1056)
            if entity not in JSON_ENTITIES:
                return _error(404, 1002)
            limit = int(request.query_params.get("limit", "1000"))
            offset = int(request.query_params.get("offset", "0"))
            if limit > 1000:
                return _error(400, 1033)
            account = installation.account_id
            self.in_flight[account] = self.in_flight.get(account, 0) + 1
            self.max_in_flight[account] = max(
                self.max_in_flight.get(account, 0), self.in_flight[account]
            )
            try:
                if self.json_api_delay_seconds:
                    await asyncio.sleep(self.json_api_delay_seconds)
                rows = self.catalogues.get(account, {}).get(entity, [])
                page = {
                    "meta": {"size": len(rows), "limit": limit, "offset": offset},
                    "rows": rows[offset : offset + limit],
                }
            finally:
                self.in_flight[account] -= 1
            return Response(
                gzip.compress(json.dumps(page, ensure_ascii=False).encode()),
                media_type="application/json",
                headers={"Content-Encoding": "gzip"},
            )

        @app.get("/app/embed", response_class=HTMLResponse)
        async def embed(src: str) -> HTMLResponse:
            """MoySklad's own page with the solution's iframe in it."""
            quoted = src.replace("&", "&amp;").replace('"', "&quot;")
            return HTMLResponse(
                "<!doctype html><html><body style='margin:0'><h3>МойСклад</h3>"
                f'<iframe id="solution" src="{quoted}" style="width:100%;height:1400px;border:0">'
                "</iframe></body></html>"
            )

        return app

    def _live(self, app_id: str, account_id: str) -> FakeInstallation | None:
        installation = self.installations.get(account_id)
        if app_id != self.app_id or installation is None:
            return None
        if installation.status in ("Uninstalled", "ActivationFailed"):
            return None
        return installation

    def _check_jwt(self, authorization: str | None) -> tuple[str | None, dict[str, Any] | None]:
        """MoySklad's rules for a developer's token (spec §2.1)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            return "no bearer token", None
        try:
            if jwt.get_unverified_header(token).get("alg") != "HS256":
                return "alg must be HS256", None
            claims = jwt.decode(
                token,
                self.secret_key,
                algorithms=["HS256"],
                options={"require": ["sub", "iat", "jti"], "verify_iat": False},
            )
        except jwt.PyJWTError as error:
            return f"bad token: {error}", None
        if claims["sub"] != self.app_uid:
            return "sub is not the app uid", claims
        effective_exp = min(claims.get("exp", claims["iat"] + 300), claims["iat"] + 300)
        if claims.get("exp", 0) > claims["iat"] + 300:
            return "exp later than iat + 300", claims
        if effective_exp < time.time():
            return "token expired", claims
        if claims["jti"] in self.seen_jti:
            return "jti already used", claims
        self.seen_jti.add(claims["jti"])
        return None, claims


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status_code=status_code, media_type="application/json"
    )


def _error(status: int, code: int | None, retry_after_ms: int | None = None) -> Response:
    headers = {"X-Lognex-Retry-After": str(retry_after_ms)} if retry_after_ms is not None else {}
    errors = [{"error": f"Ошибка {code or status}", **({"code": code} if code else {})}]
    return Response(
        json.dumps({"errors": errors}, ensure_ascii=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
