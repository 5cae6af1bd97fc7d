"""One request = one transaction, committed before the response is sent.

`scope="function"` ends the dependency after the endpoint returns but *before* the response
goes out, so a failed COMMIT reaches the till as an error instead of a false 201.

A domain error rolls the transaction back, except one marked `keeps_changes` (a failed code
look-up must still count towards the client's lockout): its work is committed, then the error
is answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.error_handlers import database_failure
from loyalty.common.errors import DomainError

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

# Endpoints that never write (a recalc is a quote): their session runs in autocommit, which
# saves the BEGIN and COMMIT round trips on the till's hottest call.
READ_ONLY_ENDPOINTS: set[Callable[..., Any]] = set()


def read_only(endpoint: Endpoint) -> Endpoint:
    READ_ONLY_ENDPOINTS.add(endpoint)
    return endpoint


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    answered: DomainError | None = None
    try:
        if request.scope.get("endpoint") in READ_ONLY_ENDPOINTS:
            # Every statement is its own transaction: there is none to begin or end.
            async with request.app.state.read_sessionmaker() as session:
                yield session
        else:
            async with request.app.state.sessionmaker() as session, session.begin():
                try:
                    yield session
                except DomainError as error:
                    if not error.keeps_changes:
                        raise
                    answered = error
    except Exception as exc:
        classified = database_failure(exc)
        if classified is not None:
            raise classified from exc
        raise
    if answered is not None:
        raise answered


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
