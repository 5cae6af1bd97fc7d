"""Process-wide objects a request needs: settings, the clock, the code sender.

Dependencies are `async def` even when they never await: FastAPI runs a plain `def` dependency
in its thread pool, a thread hand-off per dependency per request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.verification.senders import CodeSender


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


async def get_sender(request: Request) -> CodeSender:
    sender: CodeSender = request.app.state.code_sender
    return sender


SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
SenderDep = Annotated[CodeSender, Depends(get_sender)]
