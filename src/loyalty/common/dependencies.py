"""Process-wide objects a request needs: settings, the clock, the code sender."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.verification.senders import CodeSender


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


def get_sender(request: Request) -> CodeSender:
    sender: CodeSender = request.app.state.code_sender
    return sender


SettingsDep = Annotated[Settings, Depends(get_settings)]
NowDep = Annotated[datetime, Depends(get_now)]
SenderDep = Annotated[CodeSender, Depends(get_sender)]
