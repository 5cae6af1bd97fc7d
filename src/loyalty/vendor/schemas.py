"""Vendor API bodies (spec §2.2) and internal results."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SolutionStatus(enum.StrEnum):
    settings_required = "SettingsRequired"
    activated = "Activated"
    suspended = "Suspended"
    uninstalled = "Uninstalled"


class _VendorBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_max_length=65536)

    app_uid: str | None = Field(default=None, alias="appUid")
    account_name: str | None = Field(default=None, alias="accountName", max_length=1000)
    cause: str = Field(min_length=1, max_length=100)


class AccessGrant(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resource: str | None = None
    scope: list[str] = Field(default_factory=list)
    access_token: str | None = Field(default=None, max_length=4096)


class ActivationRequest(_VendorBody):
    """Install, Resume (both with a JSON API token), TariffChanged, Autoprolongation (none)."""

    access: list[AccessGrant] = Field(default_factory=list)
    subscription: dict[str, Any] | None = None

    def access_token(self) -> str | None:
        for grant in self.access:
            if grant.access_token:
                return grant.access_token
        return None


class DeactivationRequest(_VendorBody):
    """Suspend or Uninstall; MoySklad has already revoked the JSON API token."""


class ActivationResponse(BaseModel):
    status: SolutionStatus


@dataclass(frozen=True)
class VendorCall:
    method: str
    app_id: str
    moysklad_account_id: str
    authorization: str | None
    request_id: str | None
    body: bytes


@dataclass(frozen=True)
class VendorAnswer:
    status_code: int
    body: str | None
    # The account to wake background work for (sync, reconnection), if any was queued.
    queued_work: bool = False
