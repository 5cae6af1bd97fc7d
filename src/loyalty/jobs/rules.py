"""Pure calendar rules of the scheduled jobs. No I/O."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def birthday_occurrences(today: date, window_days: int) -> list[tuple[int, int, int]]:
    """(month, day, year) of every birthday whose occurrence lies within `window_days` of
    `today`; the year is that occurrence's, so a bonus paid on 28 December for a 2 January
    birthday counts for the new year. A 29 February birthday falls on 28 February in a
    non-leap year."""
    found: list[tuple[int, int, int]] = []
    for offset in range(-window_days, window_days + 1):
        day = today + timedelta(days=offset)
        found.append((day.month, day.day, day.year))
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            found.append((2, 29, day.year))
    return found
