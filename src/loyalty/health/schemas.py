"""Probe answers (operator-facing, not part of the LoyaltyAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    # "ok", or why the database cannot be used (the error class only: the probe is public).
    database: str
    # "at head", "ahead" (a newer release already migrated it), "behind", or "unknown".
    migrations: str
    database_revisions: list[str]
    code_revisions: list[str]

    @property
    def ready(self) -> bool:
        return self.status == "ready"
