"""Numbers, dates and names as the report prints them.

Locale-independent and clock-free, so the report reads the same on every machine. Every
number handled here is already a published (disclosure-controlled) string; these helpers
only decide how it is written, never what it is.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from speval.report import disclosure as dc

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
_SHORT_MONTHS = [m[:3] for m in MONTHS]
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
#: A number as a template may print it: a published number, or one given a sign by :func:`signed`.
_PRINTED_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_ACRONYMS = {"imd": "IMD", "ltc": "LTC", "ae": "A&E", "hes": "HES", "gp": "GP", "op": "OP",
             "mh": "MH", "lsoa": "LSOA"}


def is_number(s: str) -> bool:
    """Whether a published cell is a number (not suppressed, blank or infinite)."""
    return bool(_NUMBER.match(s))


def as_date(value: Any) -> dt.date | None:
    """A date, datetime or ISO text as a date (None when blank)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def long_date(value: Any) -> str:
    """``2013-12-31`` -> ``31 December 2013`` (locale-independent)."""
    d = as_date(value)
    return "" if d is None else f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def short_date(value: Any) -> str:
    """``2013-09-30`` -> ``30 Sep 2013`` (for narrow table columns)."""
    d = as_date(value)
    return "" if d is None else f"{d.day} {_SHORT_MONTHS[d.month - 1]} {d.year}"


def month_year(value: Any) -> str:
    """``2012-07-01`` -> ``July 2012``."""
    d = as_date(value)
    return "" if d is None else f"{MONTHS[d.month - 1]} {d.year}"


def quarter_words(quarter: str) -> str:
    """``2013Q4`` -> ``October to December 2013``."""
    m = re.fullmatch(r"(\d{4})Q([1-4])", quarter or "")
    if not m:
        return quarter or ""
    year, q = int(m.group(1)), int(m.group(2))
    return f"{MONTHS[3 * q - 3]} to {MONTHS[3 * q - 1]} {year}"


def signed(s: str) -> str:
    """Prefix a positive published number with '+' (changes read more clearly)."""
    if is_number(s) and float(s) > 0:
        return "+" + s
    return s


def interval(lo: str, hi: str) -> str:
    """A published interval as ``lo to hi``; ``*`` when suppressed; blank otherwise."""
    if is_number(lo) and is_number(hi):
        return f"{grouped(lo)} to {grouped(hi)}"
    if dc.SUPPRESSED in (lo, hi):
        return dc.SUPPRESSED
    return ""


def direction(pct: str) -> str | None:
    """Which way a published % change went: 'fell', 'rose' or 'same' (None if not a number)."""
    if not is_number(pct):
        return None
    v = float(pct)
    return "fell" if v < 0 else "rose" if v > 0 else "same"


def humanise(name: str) -> str:
    """A code name as words: ``hes_gp_count`` -> ``HES GP count``."""
    words = [_ACRONYMS.get(w.lower(), w) for w in str(name).replace("_", " ").split()]
    s = " ".join(words)
    return s[:1].upper() + s[1:]


def in_sentence(label: str) -> str:
    """A label for use mid-sentence: first letter lower-cased unless it starts an acronym
    ('Emergency admissions' -> 'emergency admissions', 'A&E attendances' unchanged)."""
    first = label.split(" ", 1)[0]
    if sum(ch.isupper() for ch in first) > 1 or "&" in first:
        return label
    return label[:1].lower() + label[1:]


def param_value(value: Any) -> str:
    """A run parameter as one line of text (lists comma-separated, mappings as JSON)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(param_value(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


MINUS = "\u2212"


def grouped(s: str) -> str:
    """A published number with thousands separators and a proper minus sign (``-1234.5`` ->
    ``−1,234.5``; a leading ``+`` is kept); a zero never carries a sign (``-0.00`` -> ``0.00``);
    anything else (``*``, blank, text) unchanged. Only for display: the published string itself
    (what the tables and the code compare) keeps its plain form."""
    if not isinstance(s, str) or not _PRINTED_NUMBER.match(s):
        return s
    sign, body = (s[0], s[1:]) if s[0] in "+-" else ("", s)
    whole, _, decimals = body.partition(".")
    if not whole.strip("0") and not decimals.strip("0"):
        sign = ""
    return f"{MINUS if sign == '-' else sign}{int(whole):,}" + (f".{decimals}" if decimals else "")


class Verbatim(str):
    """Text the report prints exactly as given even when it is all digits (a sha256 or commit, a seed, a
    code): :func:`display` never gives it separators or a minus sign."""

    __slots__ = ()


def verbatim(value: Any) -> Verbatim:
    """``value`` as :class:`Verbatim` text."""
    return Verbatim("" if value is None else str(value))


def display(value: Any) -> Any:
    """How the report prints any value placed in a template (the templates' ``finalize``): a published number
    (a string such as ``1250``, ``-0.12`` or ``+0.04``) with thousands separators and a proper minus sign;
    everything else as it is: text, numbers that are not strings (table numbers, column spans), markup, and
    :class:`Verbatim` text (hashes, codes). Years, quarters and dates reach the templates as text that is not
    a bare number (``2013Q4``, ``31 December 2013``, ``2013/14``) or as ints, so they are never grouped."""
    if type(value) is not str:
        return value
    if value == "-" + dc.INFINITE:  # an SMD that is minus infinity
        return MINUS + dc.INFINITE
    return grouped(value)


def pounds(s: str) -> str:
    """A published amount of money: ``1234`` -> ``£1,234``, ``-21.9`` -> ``−£21.9``; ``*`` and blank
    unchanged."""
    if not is_number(s):
        return s
    g = grouped(s)
    return f"{MINUS}£{g[1:]}" if g.startswith(MINUS) else f"£{g}"


def pounds_interval(lo: str, hi: str) -> str:
    """A published interval of money as ``lo to hi`` (``−£637 to £560``); ``*`` when suppressed."""
    shown = interval(lo, hi)
    return f"{pounds(lo)} to {pounds(hi)}" if shown and shown != dc.SUPPRESSED else shown


_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def in_words(n: int) -> str:
    """A small whole number as a word (``5`` -> ``five``), as the text writes it; larger ones as digits."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else grouped(str(n))


def rate(value: float) -> str:
    """A share as a percentage for the text, to at most one decimal: ``0.035`` -> ``3.5%``,
    ``0.333`` -> ``33.3%``, ``0.25`` -> ``25%``."""
    return dc.format_decimal(100 * float(value), 1).removesuffix(".0") + "%"


def cell(s: Any) -> Any:
    """An empty table cell shown as an en dash."""
    return "–" if s in (None, "") else s
