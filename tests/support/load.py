"""A small closed-loop load generator for fault tests: records every outcome it observes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import payloads

TOKEN_HEADER = "Lognex-Discount-API-Auth-Token"
PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


@dataclass
class Outcome:
    sale_id: str
    status: int | None  # None: no answer at all (connection error)
    seconds: float


@dataclass
class LoadReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[str]:
        return [outcome.sale_id for outcome in self.outcomes if outcome.status == 201]

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status != 201]


async def sell_until(
    base_url: str, token: str, customers: list[str], deadline: float, *, concurrency: int = 4
) -> LoadReport:
    """Commit earning sales from `concurrency` tills until `deadline` (monotonic seconds)."""
    report = LoadReport()

    async def till(number: int) -> None:
        async with httpx.AsyncClient(
            base_url=base_url, headers={TOKEN_HEADER: token}, timeout=10
        ) as client:
            index = 0
            while time.monotonic() < deadline:
                customer = customers[(number + index) % len(customers)]
                index += 1
                sale_id = payloads.new_id()
                body: dict[str, Any] = payloads.sale(
                    sale_id, customer, [payloads.position(PRODUCT, 1, 200)]
                )
                started = time.monotonic()
                try:
                    status: int | None = (
                        await client.post("/loyalty/retaildemand", json=body)
                    ).status_code
                except httpx.HTTPError:
                    status = None
                report.outcomes.append(Outcome(sale_id, status, time.monotonic() - started))
                if status != 201:
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(till(number) for number in range(concurrency)))
    return report
