"""Settings checks that go beyond types: what production refuses, and how a bad setting is told.

A secret setting opts in by its annotation, so new secrets need no code here:

    SOLUTION_SECRET: RequiredSecret = None     # production refuses to start without it
    METRICS_TOKEN: OptionalSecret = None       # may be unset; when set it must be strong

With `LOYALTY_ENV=production` every `SecretStr` setting that is set must not be a placeholder,
and those marked with `SecretPolicy` must also be long enough (and present, if required).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from loyalty.config import Settings

SETTINGS_ERROR_EXIT_CODE = 2


class SettingsError(Exception):
    """A setting that passed validation but cannot work here (told like a validation error)."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"неверная настройка / invalid setting: {variable}: {reason}")


# Values that are never secrets: defaults, placeholders from examples, words. Only words of six
# letters or more, so a random key contains one by chance with negligible probability.
_PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "example",
    "placeholder",
    "insecure",
    "password",
    "secret",
    "default",
    "development",
)


@dataclass(frozen=True)
class SecretPolicy:
    """Marks a `SecretStr` setting; see the module docstring."""

    required_in_production: bool = False
    min_length: int = 32


RequiredSecret = Annotated[SecretStr | None, SecretPolicy(required_in_production=True)]
OptionalSecret = Annotated[SecretStr | None, SecretPolicy()]


def env_name(field_name: str, info: FieldInfo, env_prefix: str) -> str:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{env_prefix}{field_name}"


def _is_secret_field(info: FieldInfo) -> bool:
    annotation = info.annotation
    if annotation is SecretStr:
        return True
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and SecretStr in typing.get_args(annotation)


def _policy(info: FieldInfo) -> SecretPolicy | None:
    return next((item for item in info.metadata if isinstance(item, SecretPolicy)), None)


def secret_weakness(value: str, min_length: int | None) -> str | None:
    """Why `value` is not a production secret, or None."""
    stripped = value.strip()
    lowered = stripped.lower()
    if not stripped:
        return "пустое значение / empty"
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return "значение-заглушка / a placeholder value"
    if min_length is not None and len(stripped) < min_length:
        return f"короче {min_length} символов / shorter than {min_length} characters"
    if len(set(stripped)) < 8:
        return "слишком мало разных символов / too few distinct characters"
    return None


def production_problems(settings: Settings) -> list[tuple[str, str]]:
    """(environment variable, reason) for everything production refuses."""
    fields = type(settings).model_fields
    prefix = str(settings.model_config.get("env_prefix", ""))
    problems: list[tuple[str, str]] = []
    for name, info in fields.items():
        if not _is_secret_field(info):
            continue
        policy = _policy(info)
        value = getattr(settings, name)
        variable = env_name(name, info, prefix)
        if value is None:
            if policy is not None and policy.required_in_production:
                problems.append((variable, "обязательна в production / required in production"))
            continue
        weakness = secret_weakness(
            value.get_secret_value(), policy.min_length if policy is not None else None
        )
        if weakness is not None:
            problems.append((variable, f"слабый секрет / weak secret: {weakness}"))
    if settings.DATABASE_URL is None and not settings.ALLOW_EMBEDDED_POSTGRES:
        problems.append(
            (
                "DATABASE_URL",
                "встроенный PostgreSQL не используется в production; укажите сервер"
                " / the embedded PostgreSQL is refused in production: set a server"
                " (or LOYALTY_ALLOW_EMBEDDED_POSTGRES=true)",
            )
        )
    return problems


def describe_settings_error(error: ValidationError, settings_class: type[Any]) -> str:
    """One line naming every bad variable; secret values are never echoed."""
    fields: dict[str, FieldInfo] = settings_class.model_fields
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    parts: list[str] = []
    for item in error.errors(include_url=False):
        location = item.get("loc", ())
        field_name = str(location[0]) if location else None
        info = fields.get(field_name) if field_name else None
        if info is None:
            parts.append(str(item.get("msg", "")))
            continue
        variable = env_name(str(field_name), info, prefix)
        shown = ""
        if not _is_secret_field(info) and "input" in item:
            shown = f"={item['input']!r}"
        parts.append(f"{variable}{shown}: {item.get('msg', '')}")
    return "неверная настройка / invalid setting: " + "; ".join(parts)
