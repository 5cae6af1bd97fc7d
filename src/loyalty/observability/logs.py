"""Structured logs: one JSON object per line, with the request context and no personal data.

Every record passes two filters on the handler (so records of uvicorn, SQLAlchemy and Alembic
get them too): `RequestContextFilter` adds `request_id`, `account_id` and `endpoint`;
`PiiMaskingFilter` masks personal data in the message, the extra fields and the traceback.
`LOYALTY_LOG_FORMAT=console` prints the same records as readable lines for development.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import IO, Any

from loyalty.config import LogFormat, Settings
from loyalty.observability.context import current_request
from loyalty.observability.pii import mask_fields, mask_text

CONTEXT_FIELDS = ("request_id", "account_id", "endpoint")
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None)).keys()
    | {"message", "asctime", "color_message", "taskName", *CONTEXT_FIELDS}
)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    attributes = vars(record)
    return {key: attributes[key] for key in sorted(attributes.keys() - _RECORD_ATTRIBUTES)}


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = current_request()
        if context is not None:
            record.request_id = context.request_id
            record.account_id = str(context.account_id) if context.account_id else None
            record.endpoint = context.endpoint
        return True


class PiiMaskingFilter(logging.Filter):
    """Renders the message and traceback once, masked, so no formatter sees the raw text."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for key, value in mask_fields(_extra_fields(record)).items():
            setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        line.update(_extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        details = {
            name: getattr(record, name) for name in CONTEXT_FIELDS if getattr(record, name, None)
        }
        details.update(_extra_fields(record))
        if details:
            text += " " + " ".join(f"{key}={value}" for key, value in details.items())
        return text


def build_handler(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.addFilter(PiiMaskingFilter())
    formatter = JsonFormatter() if LogFormat.json == settings.LOG_FORMAT else ConsoleFormatter()
    handler.setFormatter(formatter)
    return handler


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `dictConfig` for the process and for every uvicorn worker (applied in each worker)."""
    formatter = "json" if LogFormat.json == settings.LOG_FORMAT else "console"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": RequestContextFilter},
            "pii": {"()": PiiMaskingFilter},
        },
        "formatters": {
            "json": {"()": JsonFormatter},
            "console": {"()": ConsoleFormatter},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["context", "pii"],
                "formatter": formatter,
            }
        },
        "root": {"level": settings.LOG_LEVEL, "handlers": ["default"]},
        "loggers": {
            # uvicorn's own loggers carry handlers in its default config; ours go to the root.
            "uvicorn": {"level": settings.LOG_LEVEL, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": settings.LOG_LEVEL, "handlers": [], "propagate": True},
            # Access lines come from our middleware (with request id and route template).
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "sqlalchemy.engine": {"level": "WARNING"},
            # One line per outgoing request (the SMS gateway) is noise at INFO.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
