"""Every SQL statement this process sends (the live server runs in it): through a session
(SQLAlchemy's cursor events) and straight on the driver (`loyalty.db.driver`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from loyalty.db import driver

_DRIVER_CALLS = ("fetch_one", "fetch_all", "execute")


@contextmanager
def sent_statements() -> Iterator[list[str]]:
    sent: list[str] = []

    def through_session(*args: Any) -> None:
        sent.append(str(args[2]))

    def on_driver(call: Any) -> Any:
        async def recorded(session: Any, statement: driver.Statement, params: Any) -> Any:
            sent.append(statement.sql)
            return await call(session, statement, params)

        return recorded

    originals = {name: getattr(driver, name) for name in _DRIVER_CALLS}
    event.listen(Engine, "before_cursor_execute", through_session)
    for name, call in originals.items():
        setattr(driver, name, on_driver(call))
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", through_session)
        for name, call in originals.items():
            setattr(driver, name, call)
