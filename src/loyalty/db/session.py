"""One request = one transaction, committed before the response is sent.

`scope="function"` ends the dependency after the endpoint returns but *before* the response
goes out, so a failed COMMIT reaches the till as an error instead of a false 201.

A domain error rolls the transaction back, except one marked `keeps_changes` (a failed code
look-up must still count towards the client's lockout): its work is committed, then the error
is answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.common.error_handlers import database_failure
from loyalty.common.errors import DomainError


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessionmaker = request.app.state.sessionmaker
    answered: DomainError | None = None
    try:
        async with sessionmaker() as session, session.begin():
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
