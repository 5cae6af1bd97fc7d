"""Recording the SQL a request sends: round trips are the hot path's cost, so tests pin them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect


class StatementRecorder:
    """Every statement the in-process server prepares and executes while `recording` (BEGIN
    and COMMIT go by another road and are not counted)."""

    def __init__(self) -> None:
        self.recorded: list[str] = []
        self.on = False

    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        self.recorded, self.on = [], True
        try:
            yield self.recorded
        finally:
            self.on = False


@contextmanager
def statement_recorder() -> Iterator[StatementRecorder]:
    recorder = StatementRecorder()
    cursor = asyncpg_dialect.AsyncAdapt_asyncpg_cursor
    original = cursor._prepare_and_execute

    async def recorded(self: Any, operation: str, parameters: Any) -> None:
        # The server's background task runner polls its queue meanwhile; not the till's SQL.
        if recorder.on and "moysklad_task" not in operation:
            recorder.recorded.append(operation)
        await original(self, operation, parameters)

    cursor._prepare_and_execute = recorded  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        cursor._prepare_and_execute = original  # type: ignore[method-assign]
