"""SQLSTATE helpers: decide by error class and constraint name, never by message text."""

from __future__ import annotations


def _driver_error(exc: BaseException) -> BaseException:
    orig: BaseException = getattr(exc, "orig", None) or exc
    cause = orig.__cause__
    if cause is not None and getattr(cause, "sqlstate", None):
        return cause
    return orig


def sqlstate(exc: BaseException) -> str | None:
    driver_error = _driver_error(exc)
    for attribute in ("sqlstate", "pgcode"):
        code = getattr(driver_error, attribute, None)
        if isinstance(code, str):
            return code
    return None


def constraint_name(exc: BaseException) -> str | None:
    name = getattr(_driver_error(exc), "constraint_name", None)
    return name if isinstance(name, str) else None


def is_unique_violation(exc: BaseException, constraint: str | None = None) -> bool:
    if sqlstate(exc) != "23505":
        return False
    return constraint is None or constraint_name(exc) == constraint


def is_check_violation(exc: BaseException, constraint: str | None = None) -> bool:
    if sqlstate(exc) != "23514":
        return False
    return constraint is None or constraint_name(exc) == constraint
