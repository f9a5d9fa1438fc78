"""Reporting quarters (`YYYYQn`, calendar quarters) and month arithmetic.

Month arithmetic clamps to the month's end (2013-01-31 + 1 month = 2013-02-28), as CONTRACT.md §2
requires; the SQL uses DuckDB's `date + INTERVAL n MONTH`, which behaves the same way, and
`tests/test_quarters.py` checks the two agree.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re

QUARTER_PATTERN = re.compile(r"^(\d{4})Q([1-4])$")


def parse_quarter(key: str) -> tuple[int, int]:
    match = QUARTER_PATTERN.match(key)
    if not match:
        raise ValueError(f"not a quarter key (expected YYYYQn, e.g. 2013Q4): {key!r}")
    return int(match.group(1)), int(match.group(2))


def is_quarter(key: str) -> bool:
    return bool(QUARTER_PATTERN.match(key))


def quarter_start(key: str) -> dt.date:
    year, q = parse_quarter(key)
    return dt.date(year, 3 * q - 2, 1)


def quarter_end(key: str) -> dt.date:
    year, q = parse_quarter(key)
    month = 3 * q
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def quarter_of(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def previous_quarter(key: str) -> str:
    year, q = parse_quarter(key)
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` + `months` calendar months, clamped to the end of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
