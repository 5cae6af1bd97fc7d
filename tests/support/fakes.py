"""Real local HTTP servers standing in for systems we cannot reach."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response


class FakeSmsGateway:
    """Records every message; `failing` makes it answer 500 like a broken gateway."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.failing = False
        self.app = FastAPI()

        @self.app.post("/send")
        async def send(request: Request) -> Response:
            if self.failing:
                return Response(status_code=500)
            self.messages.append(await request.json())
            self.authorizations.append(request.headers.get("authorization"))
            return Response(status_code=202)
