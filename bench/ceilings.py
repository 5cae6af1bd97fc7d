"""Ceilings measured in the same run as the service (guide §6.3).

C0: a bare ASGI app that parses the request body and echoes it (the HTTP and JSON ceiling).
C1: a FastAPI endpoint with the recalc request and response models that echoes the receipt
    unchanged (the framework and validation ceiling for the same payload).

Both are served by uvicorn with the same workers and options as the service:
    uvicorn --factory bench.ceilings:c0_app   /   uvicorn --factory bench.ceilings:c1_app
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from loyalty.common.schemas import EchoModel
from loyalty.sales.schemas import (
    Assortment,
    PositionOut,
    RecalcBonusProgramOut,
    RecalcRequest,
    RecalcResponse,
)


def c0_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        payload = json.dumps(json.loads(body) if body else {}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def c1_app() -> FastAPI:
    app = FastAPI()

    @app.post("/loyalty/retaildemand/recalc", response_model_exclude_none=True)
    async def recalc(body: RecalcRequest) -> RecalcResponse:
        return RecalcResponse(
            agent=body.agent,
            positions=[
                PositionOut(
                    assortment=Assortment.model_validate(position.assortment.model_dump()),
                    quantity=position.quantity,
                    price=position.price,
                    discountPercent=0,
                    discountedPrice=position.price,
                    sn=position.sn,
                    pack=EchoModel.model_validate(position.pack.model_dump())
                    if position.pack
                    else None,
                )
                for position in body.positions
            ],
            bonusProgram=RecalcBonusProgramOut(
                transactionType="EARNING",
                agentBonusBalance=0,
                bonusValueToSpend=0,
                bonusValueToEarn=0,
                agentBonusBalanceAfter=0,
                paidByBonusPoints=0,
                receiptExtraInfo="",
            ),
            needVerification=False,
        )

    return app
