"""Day numbers and the simulation calendar.

Dates are held as int64 day numbers since 1970-01-01 so whole columns can be shifted, compared and
bucketed with numpy; the simulation runs in calendar months from April 2011 (month index 0).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .constants import COVERAGE_START, DELIVERIES

EPOCH = np.datetime64("1970-01-01", "D")
SIM_START = np.datetime64("2011-04", "M")
SIM_MONTHS = 75  # 2011-04 .. 2017-06: covers every 12-month post window of an MH referral
#: First day of each simulated month, plus the day after the last one.
MONTH_START = (SIM_START + np.arange(SIM_MONTHS + 1)).astype("datetime64[D]").astype(np.int64)
DAYS_IN_MONTH = np.diff(MONTH_START)
NEVER = np.int64(10**6)  # a day number far in the future ("no date")


def to_day(d: dt.date | str) -> int:
    """Day number of a date (or ISO string)."""
    return int((np.datetime64(str(d), "D") - EPOCH).astype(np.int64))


def to_date(day) -> dt.date:
    """The date of a day number."""
    return (EPOCH + np.timedelta64(int(day), "D")).astype(dt.date)


def month_index(day: int | dt.date | str) -> int:
    """Simulation month (0 = April 2011) of a day number, date or ISO string."""
    d = np.datetime64(str(day), "D") if not isinstance(day, (int, np.integer)) else EPOCH + day
    return int((d.astype("datetime64[M]") - SIM_START).astype(np.int64))


CUTOFF_DAYS = np.array([to_day(c) for c in DELIVERIES.values()], dtype=np.int64)
LAST_DAY = int(CUTOFF_DAYS[-1])
COVER_DAY = to_day(COVERAGE_START)
LTC_START, LTC_END = to_day("2012-09-01"), to_day("2014-03-31")
MH_START, MH_END = to_day("2015-04-01"), to_day("2016-03-31")


def add_months(days: np.ndarray, n) -> np.ndarray:
    """Day numbers + n calendar months, clamped to the month end (Jan 31 + 1 month = Feb 28)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + np.asarray(n, dtype=np.int64)
    start2 = m2.astype("datetime64[D]")
    dim2 = ((m2 + 1).astype("datetime64[D]") - start2).astype(np.int64)
    return (start2 + np.minimum(dom, dim2 - 1)).astype(np.int64)


def months_of(days: np.ndarray) -> np.ndarray:
    """Simulation month index of each day number."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return (d.astype("datetime64[M]") - SIM_START).astype(np.int64)


def quarter_key(days: np.ndarray) -> np.ndarray:
    """Integer quarter key year*4 + (q-1)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return (1970 * 12 + months) // 3


def qkey(label: str) -> int:
    """Quarter key (as :func:`quarter_key`) of a label such as "2013Q2"."""
    return int(label[:4]) * 4 + int(label[5]) - 1


def qbounds(label: str) -> tuple[int, int]:
    """First and last day numbers of a quarter label."""
    y, q = int(label[:4]), int(label[5])
    start = dt.date(y, 3 * q - 2, 1)
    end = dt.date(y + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1)
    return to_day(start), to_day(end)


def first_delivery(days: np.ndarray) -> np.ndarray:
    """Index of the first delivery whose cut-off is on or after each day (4 = none)."""
    return np.searchsorted(CUTOFF_DAYS, np.asarray(days, dtype=np.int64), side="left")


def to_weekday(days: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Move weekend days to a neighbouring weekday within [lo, hi] (referrals are made on weekdays)."""
    dow = (days + 3) % 7  # 0 = Monday
    d = days.copy()
    sat, sun = dow == 5, dow == 6
    d[sat] = np.where(d[sat] - 1 >= lo[sat], d[sat] - 1, d[sat] + 2)
    d[sun] = np.where(d[sun] + 1 <= hi[sun], d[sun] + 1, d[sun] - 2)
    return d


_MONDAY = 4  # day number of Monday 1970-01-05


def weekdays_before(day: np.ndarray) -> np.ndarray:
    """Number of weekdays in [1970-01-05, day)."""
    q, r = np.divmod(np.asarray(day, dtype=np.int64) - _MONDAY, 7)
    return 5 * q + np.minimum(r, 5)


def nth_weekday(j: np.ndarray) -> np.ndarray:
    """The day number of the j-th weekday (0-based) from 1970-01-05 (inverse of :func:`weekdays_before`)."""
    q, r = np.divmod(np.asarray(j, dtype=np.int64), 5)
    return _MONDAY + 7 * q + r
