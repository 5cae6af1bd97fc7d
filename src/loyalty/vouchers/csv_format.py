"""CSV import and export of vouchers. Pure: text in, rows out (and back), no I/O.

Export columns are a superset of import columns, so an exported file can be imported into
another account that has batches with the same codes. Amounts are integer kopecks; dates are
ISO 8601 (a date alone means its start, UTC).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from loyalty.vouchers.schemas import VoucherStatus, VoucherView

EXPORT_COLUMNS = (
    "code",
    "batch",
    "batch_id",
    "serial_number",
    "type",
    "status",
    "currency",
    "face_value_minor",
    "discount_percent",
    "balance_minor",
    "initial_balance_minor",
    "used_count",
    "usage_limit",
    "customer",
    "valid_from",
    "expires_at",
    "issued_at",
    "note",
)
IMPORT_STATUSES = ("NEW", "ISSUED", "REDEEMED", "VOID")
MAX_IMPORT_ROWS = 1_000_000


class CsvError(ValueError):
    """A row that cannot be imported; the message names the line and column (in Russian)."""


@dataclass(frozen=True)
class ImportRow:
    line: int
    code: str
    batch: str | None
    status: VoucherStatus
    balance_minor: int | None
    used_count: int
    usage_limit: int | None
    customer: str | None
    valid_from: datetime | None
    expires_at: datetime | None
    pin: str | None
    note: str | None


def _moment(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def export_rows(vouchers: Iterable[VoucherView], statuses: dict[str, str]) -> Iterator[list[str]]:
    """Rows in EXPORT_COLUMNS order; `statuses` maps voucher id to its effective status."""
    for voucher in vouchers:
        yield [
            voucher.code,
            voucher.batch_code,
            str(voucher.batch_id),
            str(voucher.serial_number),
            voucher.voucher_type.value,
            statuses.get(str(voucher.id), voucher.status.value),
            voucher.currency,
            "" if voucher.face_value_minor is None else str(voucher.face_value_minor),
            "" if voucher.discount_percent is None else format(voucher.discount_percent, "f"),
            str(voucher.balance_minor),
            str(voucher.initial_balance_minor),
            str(voucher.used_count),
            "" if voucher.usage_limit is None else str(voucher.usage_limit),
            "" if voucher.customer_id is None else str(voucher.customer_id),
            _moment(voucher.valid_from),
            _moment(voucher.expires_at),
            _moment(voucher.issued_at),
            voucher.note or "",
        ]


def header() -> list[str]:
    return list(EXPORT_COLUMNS)


def to_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header())
    writer.writerows(rows)
    return buffer.getvalue()


def _int(value: str, line: int, column: str, *, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise CsvError(f"Строка {line}, {column}: ожидается целое число, а не «{value}»") from exc
    if number < minimum or number > 10**13:
        raise CsvError(f"Строка {line}, {column}: число вне допустимых пределов")
    return number


def _datetime(value: str, line: int, column: str) -> datetime:
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CsvError(
            f"Строка {line}, {column}: дата в формате ГГГГ-ММ-ДД или ISO 8601, а не «{value}»"
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse(text: str) -> list[ImportRow]:
    """Parse an import file (comma or semicolon separated, header line required)."""
    text = text.lstrip("\ufeff")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text.split("\n", 1)[0], delimiters=",;"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if reader.fieldnames is None or "code" not in reader.fieldnames:
        raise CsvError("В первой строке файла нужны названия колонок, среди них — code")
    rows: list[ImportRow] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if len(rows) >= MAX_IMPORT_ROWS:
            raise CsvError(f"В файле больше {MAX_IMPORT_ROWS} строк")
        values = {key: (value or "").strip() for key, value in raw.items() if key is not None}
        code = values.get("code", "")
        if not code:
            raise CsvError(f"Строка {number}: не указан code")
        if len(code) > 64:
            raise CsvError(f"Строка {number}: code длиннее 64 символов")
        if code in seen:
            raise CsvError(f"Строка {number}: код {code} уже был в строке {seen[code]}")
        seen[code] = number
        status = (values.get("status") or "ISSUED").upper()
        if status not in IMPORT_STATUSES:
            raise CsvError(
                f"Строка {number}, status: одно из {', '.join(IMPORT_STATUSES)}, а не «{status}»"
            )
        balance = values.get("balance_minor", "")
        limit = values.get("usage_limit", "")
        valid_from = values.get("valid_from", "")
        expires_at = values.get("expires_at", "")
        rows.append(
            ImportRow(
                line=number,
                code=code,
                batch=values.get("batch") or values.get("batch_id") or None,
                status=VoucherStatus(status),
                balance_minor=_int(balance, number, "balance_minor") if balance else None,
                used_count=_int(values.get("used_count") or "0", number, "used_count"),
                usage_limit=_int(limit, number, "usage_limit", minimum=1) if limit else None,
                customer=values.get("customer") or values.get("customer_id") or None,
                valid_from=_datetime(valid_from, number, "valid_from") if valid_from else None,
                expires_at=_datetime(expires_at, number, "expires_at") if expires_at else None,
                pin=values.get("pin") or None,
                note=values.get("note") or None,
            )
        )
    return rows
