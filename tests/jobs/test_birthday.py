"""The birthday bonus: paid once per customer and birthday year, inside the window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from loyalty.jobs.rules import birthday_occurrences
from tests.conftest import Tenant
from tests.jobs.conftest import RunJobs

MOSCOW = ZoneInfo("Europe/Moscow")


def _moment(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=MOSCOW).astimezone(UTC)


def _birthday_keys(tenant: Tenant) -> list[str]:
    rows = tenant.db.fetch(
        "SELECT idempotency_key FROM ledger_transaction"
        " WHERE account_id = :account AND kind = 'birthday' ORDER BY id",
        account=tenant.account_id,
    )
    return [str(row["idempotency_key"]) for row in rows]


def _register_born(tenant: Tenant, born: date) -> str:
    return tenant.register(birthDate=born.strftime("%Y-%m-%d 00:00:00"))


def test_bonus_is_paid_once_a_year_within_the_window(tenant: Tenant, run_jobs: RunJobs) -> None:
    tenant.set_program(birthday_bonus_points=150, birthday_window_days=3)
    celebrating = _register_born(tenant, date(1990, 6, 15))
    not_yet = _register_born(tenant, date(1985, 6, 25))
    no_birth_date = tenant.register()

    run_jobs(_moment(date(2026, 6, 13)), runners=2)
    run_jobs(_moment(date(2026, 6, 17)), runners=2)

    assert tenant.balance(celebrating) == 150
    assert tenant.balance(not_yet) == 0
    assert tenant.balance(no_birth_date) == 0
    keys = _birthday_keys(tenant)
    assert len(keys) == 1 and keys[0].startswith("birthday:") and keys[0].endswith(":2026")

    run_jobs(_moment(date(2027, 6, 14)))
    assert tenant.balance(celebrating) == 300
    assert [key[-4:] for key in _birthday_keys(tenant)] == ["2026", "2027"]


def test_bonus_off_pays_nothing(tenant: Tenant, run_jobs: RunJobs) -> None:
    tenant.set_program(birthday_bonus_points=0, birthday_window_days=30)
    ms_id = _register_born(tenant, date(1990, 6, 15))
    run_jobs(_moment(date(2026, 6, 15)))
    assert tenant.balance(ms_id) == 0
    assert _birthday_keys(tenant) == []


def test_29_february_is_celebrated_on_28_february_in_common_years(
    tenant: Tenant, run_jobs: RunJobs
) -> None:
    tenant.set_program(birthday_bonus_points=50, birthday_window_days=0)
    leapling = _register_born(tenant, date(2000, 2, 29))

    run_jobs(_moment(date(2027, 2, 28)))
    assert tenant.balance(leapling) == 50
    run_jobs(_moment(date(2028, 2, 28)))  # a leap year: the birthday is tomorrow
    assert tenant.balance(leapling) == 50
    run_jobs(_moment(date(2028, 2, 29)))
    assert tenant.balance(leapling) == 100
    assert [key[-4:] for key in _birthday_keys(tenant)] == ["2027", "2028"]


def test_a_window_across_new_year_pays_for_the_birthday_year(
    tenant: Tenant, run_jobs: RunJobs
) -> None:
    tenant.set_program(birthday_bonus_points=10, birthday_window_days=5)
    ms_id = _register_born(tenant, date(1970, 1, 2))
    run_jobs(_moment(date(2026, 12, 30)))
    run_jobs(_moment(date(2027, 1, 3)))
    assert tenant.balance(ms_id) == 10
    assert [key[-4:] for key in _birthday_keys(tenant)] == ["2027"]


@pytest.mark.parametrize(
    ("today", "window_days", "expected"),
    [
        (date(2027, 2, 28), 0, [(2, 28, 2027), (2, 29, 2027)]),
        (date(2028, 2, 28), 0, [(2, 28, 2028)]),
        (date(2026, 12, 31), 1, [(12, 30, 2026), (12, 31, 2026), (1, 1, 2027)]),
    ],
)
def test_birthday_occurrences(
    today: date, window_days: int, expected: list[tuple[int, int, int]]
) -> None:
    assert birthday_occurrences(today, window_days) == expected


def test_window_is_validated(tenant: Tenant) -> None:
    from loyalty.program.errors import InvalidProgramSetting

    with pytest.raises(InvalidProgramSetting) as error:
        tenant.set_program(birthday_window_days=31)
    assert error.value.parameter == "birthday_window_days"
    with pytest.raises(InvalidProgramSetting) as error:
        tenant.set_program(birthday_bonus_points=-1)
    assert error.value.parameter == "birthday_bonus_points"
    with pytest.raises(InvalidProgramSetting) as error:
        tenant.set_program(expiry_warning_days=366)
    assert error.value.parameter == "expiry_warning_days"
