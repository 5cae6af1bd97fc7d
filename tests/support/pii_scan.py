"""Every log record the test process emits, kept for a scan for personal data at the end.

Two views are scanned: the raw record (message and `extra=` fields, before any masking), so
code that logs customer data and relies on the masking filter is caught; and the output of the
production handler, for what masking cannot recognise (names).
"""

from __future__ import annotations

import io
import logging
import re

from loyalty.config import Settings
from loyalty.observability.logs import build_handler

_PHONE = re.compile(
    r"(?<![\w.+-])(?:\+7|8|7)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?![\w-])"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Names and birth dates the tests give their customers.
_KNOWN = (
    "Иванов",
    "Ромашкова",
    "Варвара",
    "Покупатель Показ",
    "Тестов",
    "Пуговкина",
    "1992-08-01",
    "2023-07-14",
    "14.07.2023",
)
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class RawRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = {
            key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES
        }
        self.texts.append(f"{record.name}: {record.getMessage()} {extras}")


class SuiteLogs:
    def __init__(self) -> None:
        self.raw = RawRecords()
        self.output = io.StringIO()
        self.handler = build_handler(
            Settings(DATABASE_URL="postgresql://unused/unused"), self.output
        )
        # The tests' own HTTP client logs the URLs it calls, and `loyalty.example` is the logger
        # a test feeds personal data to on purpose: only the service is under test.
        ignored = ("httpx", "httpcore", "hypothesis", "loyalty.example")
        for handler in (self.raw, self.handler):
            handler.addFilter(lambda record: not record.name.startswith(ignored))

    def attach(self) -> None:
        root = logging.getLogger()
        root.addHandler(self.raw)
        root.addHandler(self.handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)

    def detach(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.raw)
        root.removeHandler(self.handler)

    def findings(self) -> list[str]:
        found: list[str] = []
        for text in self.raw.texts:
            for pattern in (_PHONE, _EMAIL):
                found += [
                    f"raw record has {match.group(0)!r}: {text[:200]}"
                    for match in pattern.finditer(text)
                ]
        output = self.output.getvalue()
        found += [f"log output names {needle!r}" for needle in _KNOWN if needle in output]
        found += [f"log output has {m.group(0)!r}" for m in _PHONE.finditer(output)]
        return found

    @property
    def records(self) -> int:
        return len(self.raw.texts)
