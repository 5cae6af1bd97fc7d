"""FastAPI dependencies: the operator behind an API key, and role checks.

The key is accepted as `Authorization: Bearer <key>`, as `X-Api-Key: <key>`, or as the password
of HTTP Basic authentication (the user name is ignored), so POS systems built for other voucher
APIs can send it the way they already send credentials.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from loyalty.db.session import SessionDep
from loyalty.operators import service
from loyalty.operators.errors import OperatorForbidden
from loyalty.operators.schemas import OperatorContext, Role

bearer = HTTPBearer(auto_error=False, scheme_name="OperatorKey")
key_header = APIKeyHeader(name="X-Api-Key", auto_error=False, scheme_name="OperatorKeyHeader")


def basic_password(authorization: str | None) -> str | None:
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, separator, password = decoded.partition(":")
    return password if separator else None


async def authenticate_operator(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(key_header)],
) -> OperatorContext:
    key = (
        credentials.credentials
        if credentials is not None
        else header_key or basic_password(request.headers.get("authorization"))
    )
    return await service.authenticate(session, key)


CurrentOperator = Annotated[OperatorContext, Depends(authenticate_operator)]


def require_role(required: Role) -> Callable[[OperatorContext], Awaitable[OperatorContext]]:
    async def check(operator: CurrentOperator) -> OperatorContext:
        if not operator.role.allows(required):
            raise OperatorForbidden(required.value, operator.role.value)
        return operator

    return check


ReadOnlyOperator = Annotated[OperatorContext, Depends(require_role(Role.read_only))]
WriteOperator = Annotated[OperatorContext, Depends(require_role(Role.operator))]
AdminOperator = Annotated[OperatorContext, Depends(require_role(Role.admin))]
