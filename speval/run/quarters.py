"""Reporting quarters (`YYYYQn`, calendar quarters: Q1 = January to March) and month arithmetic.

A quarter is parsed once, into a `Quarter`, and passed around as that value. Month arithmetic clamps to
the month's end (2013-01-31 + 1 month = 2013-02-28); the SQL uses DuckDB's `date + INTERVAL n MONTH`,
which behaves the same way, and `tests/test_quarters.py` checks the two agree.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

QUARTER_PATTERN = re.compile(r"^(\d{4})Q([1-4])$")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, e.g. `Quarter.parse("2013Q4")`: October to December 2013."""

    year: int
    number: int

    @classmethod
    def parse(cls, key: str) -> Quarter:
        match = QUARTER_PATTERN.match(str(key))
        if not match:
            raise ValueError(f"not a quarter: {key!r} (write it like 2013Q4: a year, Q and 1 to 4)")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Quarter:
        """The quarter `day` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        return f"{self.year}Q{self.number}"

    def __str__(self) -> str:
        return self.key

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        month = 3 * self.number
        return dt.date(self.year, month, calendar.monthrange(self.year, month)[1])

    def shift(self, quarters: int) -> Quarter:
        """The quarter `quarters` later (earlier when negative)."""
        index = self.year * 4 + self.number - 1 + quarters
        return Quarter(index // 4, index % 4 + 1)

    @property
    def previous(self) -> Quarter:
        return self.shift(-1)

    @property
    def words(self) -> str:
        """`October to December 2013`."""
        return f"{MONTHS[3 * self.number - 3]} to {MONTHS[3 * self.number - 1]} {self.year}"


def is_quarter(key: str) -> bool:
    return bool(QUARTER_PATTERN.match(str(key)))


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` + `months` calendar months, clamped to the end of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
