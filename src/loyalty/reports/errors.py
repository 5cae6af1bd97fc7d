"""Report errors."""

from __future__ import annotations

from loyalty.common.errors import InvalidRequest


class InvalidReportPeriod(InvalidRequest):
    """A report period that is reversed or longer than the service answers in one request."""

    title = "Некорректный период отчёта"
