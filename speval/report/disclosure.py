"""Statistical disclosure control for everything the report publishes.

This module is the one place the NHS Digital HES disclosure-control rule is applied
(see docs/decisions/0003-disclosure-control.md). The analysis tables written to
``tables/`` stay unsuppressed and unrounded (restricted to the evaluation team); the
HTML/PDF report only ever shows the strings returned by the functions below.

The rule (NHS Digital, *Hospital Episode Statistics (HES) Analysis Guide*, small-number
suppression for sub-national HES figures):

* a count of 1-7 is shown as ``*``; any other count is rounded to the nearest 5
  (0 stays 0);
* a percentage is computed from the *rounded* numerator and denominator, and is ``*``
  when either of them is suppressed;
* a mean (or a change / percentage change between means) over a group of 1-7 people is
  ``*``;
* a group of 0 people shows its count as ``0`` and its means blank.

A share shown with a 95% interval (the mental-health pathway's steps) is a percentage like any other, and its
Wilson interval is worked out from the same *rounded* counts (``publish_share``): an interval from the exact
counts would give them away. It is ``*`` whenever the percentage is.

Money (unit costs, programme costs, social values, returns per £1) is not a statistic about
people and is shown as computed (``publish_money``), with two exceptions that follow the rule
for means: a figure per patient (a saving per patient, the return worked from it) is a mean
over the group it was estimated on, so it is ``*`` when that group has 1-7 people; and a total
that multiplies a figure per patient by a number of people is worked out from the *rounded*
number, like a percentage, so it cannot give the exact count away. A count-like total that
need not be whole (volunteering hours) is rounded to a whole number and published as a count
(``publish_quantity``).

Rows of a delivered file (Appendix A's reconciliation: rows read, accepted, quarantined, duplicates, and
quarantined rows per reason) are not people and are printed exactly, outside this module
(speval/report/sections/appendices.py; ADR 0003, "What is and is not a count of people"). The HES data-quality
appendix's record counts (rows read, duplicates, records revised, ...) stay counts like any other; only the
share of *records* with a missing value (``publish_record_pct``), which is not a statistic about people, is
shown from the unrounded counts, to one decimal.

Rounding of displayed decimals is half-up on the decimal value as written
(``round_half_up(12.5) == 13``, ``format_decimal(1.125, 2) == "1.13"``), never Python's
banker's rounding.

Plain functions, no Dagster import; every function returns display-ready strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import Any

import polars as pl

#: What a suppressed cell shows.
SUPPRESSED = "*"
#: What a blank (not applicable / no people) cell shows.
BLANK = ""
#: Counts 1..SMALL_MAX are suppressed.
SMALL_MAX = 7
#: Other counts are rounded to a multiple of this base.
ROUNDING_BASE = 5

#: One line describing the rule, for captions and the title page.
RULE_TEXT = "counts 1–7 suppressed, others rounded to 5"

__all__ = [
    "ADJUSTED_COLUMNS",
    "BLANK",
    "E_VALUE_COLUMNS",
    "INFINITE",
    "RULE_TEXT",
    "SMALL_MAX",
    "SUPPRESSED",
    "format_decimal",
    "is_small",
    "publish_attrition",
    "publish_balance",
    "publish_balance_all_settings",
    "publish_costs_avoided",
    "publish_count",
    "publish_hes_file_quality",
    "publish_hes_missingness",
    "publish_hospital_use",
    "publish_matched_effects",
    "publish_matched_effects_all_settings",
    "publish_max_abs",
    "publish_mh_pathway",
    "publish_mean",
    "publish_money",
    "publish_pct",
    "publish_quantity",
    "publish_record_pct",
    "publish_share",
    "publish_sroi",
    "publish_unmatched_treated",
    "publish_value_for_money",
    "publish_value_inputs",
    "publish_wellbeing",
    "publish_wellbeing_progress",
    "round5",
    "round_half_up",
    "wilson_interval",
]


# --------------------------------------------------------------------------- scalars


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_count(n: Any) -> int | None:
    """A count as an int (None when missing). Rejects negatives and fractions."""
    if _missing(n):
        return None
    if isinstance(n, bool):
        raise TypeError(f"a count must be an integer, not {n!r}")
    if isinstance(n, float):
        if not n.is_integer():
            raise ValueError(f"a count must be a whole number, not {n!r}")
        n = int(n)
    n = int(n)
    if n < 0:
        raise ValueError(f"a count cannot be negative: {n}")
    return n


def round_half_up(value: float | int, decimals: int = 0) -> Decimal:
    """Round ``value`` half-up (away from zero at exactly .5) to ``decimals`` places.

    Works on the shortest decimal representation of the float, so 2.675 rounds to 2.68
    (as a person reading the number expects) and 12.5 rounds to 13.
    """
    d = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
    return d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def format_decimal(value: float | int, decimals: int = 2) -> str:
    """``value`` rounded half-up to ``decimals`` places; never shows ``-0``."""
    q = round_half_up(value, decimals)
    if q == 0:
        q = abs(q)
    return f"{q:.{decimals}f}"


def is_small(n: Any) -> bool:
    """True for a count that must be suppressed (1-7)."""
    c = _as_count(n)
    return c is not None and 1 <= c <= SMALL_MAX


def round5(n: Any) -> int | None:
    """The published value of a count: None when suppressed or missing, else rounded to 5.

    Counts are whole numbers, so ``n / 5`` is never exactly half-way; 12 -> 10, 13 -> 15.
    """
    c = _as_count(n)
    if c is None or 1 <= c <= SMALL_MAX:
        return None
    return int(round_half_up(Decimal(c) / ROUNDING_BASE) * ROUNDING_BASE)


def publish_count(n: Any) -> str:
    """A count for publication: ``0``, ``*`` for 1-7, else the nearest multiple of 5.

    A missing count (None) is blank.
    """
    c = _as_count(n)
    if c is None:
        return BLANK
    r = round5(c)
    return SUPPRESSED if r is None else str(r)


def publish_pct(numerator: Any, denominator: Any, decimals: int = 0) -> str:
    """A percentage computed from the *rounded* numerator and denominator.

    ``*`` when either count is 1-7; blank when the denominator is 0 or missing.
    """
    den = _as_count(denominator)
    num = _as_count(numerator)
    if den is None or den == 0:
        return BLANK
    if num is None:
        return BLANK
    if num > den:
        raise ValueError(f"numerator {num} exceeds denominator {den}")
    rnum, rden = round5(num), round5(den)
    if rnum is None or rden is None:
        return SUPPRESSED
    return format_decimal(Decimal(100) * rnum / rden, decimals)


def publish_mean(value: Any, n_people: Any, decimals: int = 2) -> str:
    """A mean (or a change / % change between means) over a group of ``n_people``.

    Blank when the group is empty or the value is missing (e.g. a % change whose base is
    0); ``*`` when the group has 1-7 people; otherwise the value rounded half-up.
    """
    n = _as_count(n_people)
    if n is None or n == 0:
        return BLANK
    if n <= SMALL_MAX:
        return SUPPRESSED
    if _missing(value):
        return BLANK
    return format_decimal(value, decimals)


def _count_from_pct(pct: Any, n: Any) -> int | None:
    """Recover the integer count behind a percentage of ``n`` people (half-up)."""
    c = _as_count(n)
    if c is None or _missing(pct):
        return None
    return int(round_half_up(Decimal(repr(float(pct))) * c / 100))


# --------------------------------------------------------------------------- tables


def _rows(df: pl.DataFrame | None, columns: list[str]) -> list[dict[str, Any]]:
    if df is None or df.height == 0:
        return []
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}")
    return df.select(columns).to_dicts()


def _frame(rows: list[dict[str, str]], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {c: [r[c] for r in rows] for c in columns},
        schema={c: pl.String for c in columns},
    )


HOSPITAL_USE_COLUMNS = [
    "cohort", "group", "measure", "n_patients",
    "mean_before", "mean_after", "change", "pct_change",
]


def publish_hospital_use(df: pl.DataFrame) -> pl.DataFrame:
    """hospital_use (docs/contract/outputs.md) -> the same columns as display strings.

    n_patients via :func:`publish_count`; mean_before, mean_after and change via
    :func:`publish_mean` (2 decimals); pct_change via :func:`publish_mean` (0 decimals).
    """
    out = []
    for r in _rows(df, HOSPITAL_USE_COLUMNS):
        n = r["n_patients"]
        out.append({
            "cohort": str(r["cohort"]),
            "group": str(r["group"]),
            "measure": str(r["measure"]),
            "n_patients": publish_count(n),
            "mean_before": publish_mean(r["mean_before"], n),
            "mean_after": publish_mean(r["mean_after"], n),
            "change": publish_mean(r["change"], n),
            "pct_change": publish_mean(r["pct_change"], n, decimals=0),
        })
    return _frame(out, HOSPITAL_USE_COLUMNS)


WELLBEING_COLUMNS = [
    "measure", "baseline_n", "baseline_mean", "baseline_low_pct",
    "followup_n", "followup_mean", "progress_pct", "progress_low_pct",
]


def publish_progress_low_pct(progress_low_pct: Any, followup_n: Any) -> str:
    """progress_low_pct, whose denominator (people with a low baseline) is not in the table.

    Blank when missing and nobody was followed up; ``*`` whenever followup_n is 1-7;
    otherwise the percentage rounded to a whole number (blank when missing).
    """
    return publish_mean(progress_low_pct, followup_n, decimals=0)


def publish_wellbeing(df: pl.DataFrame, followup_low_n: Mapping[str, int] | None = None) -> pl.DataFrame:
    """wellbeing (docs/contract/outputs.md) -> the same columns as display strings.

    * counts via :func:`publish_count`; means via :func:`publish_mean` over their count;
    * baseline_low_pct = pct(round5(low), round5(baseline_n)) where
      low = baseline_low_pct x baseline_n / 100 rounded half-up to an integer;
    * progress_pct likewise over followup_n;
    * progress_low_pct likewise over its own denominator, the followed-up referrals with a low baseline
      (`followup_low_n`, measure -> count, from the warehouse: not a column of the contract table), so a
      low-scorer group of 1-7 is `*` (ADR 0003); without it, :func:`publish_progress_low_pct`.
    """
    out = []
    for r in _rows(df, WELLBEING_COLUMNS):
        bn, fn = r["baseline_n"], r["followup_n"]
        low_n = None if followup_low_n is None else followup_low_n.get(str(r["measure"]), 0)
        out.append({
            "measure": str(r["measure"]),
            "baseline_n": publish_count(bn),
            "baseline_mean": publish_mean(r["baseline_mean"], bn),
            "baseline_low_pct": publish_pct(_count_from_pct(r["baseline_low_pct"], bn), bn),
            "followup_n": publish_count(fn),
            "followup_mean": publish_mean(r["followup_mean"], fn),
            "progress_pct": publish_pct(_count_from_pct(r["progress_pct"], fn), fn),
            "progress_low_pct": (publish_progress_low_pct(r["progress_low_pct"], fn) if low_n is None else
                                 publish_pct(_count_from_pct(r["progress_low_pct"], low_n), low_n)),
        })
    return _frame(out, WELLBEING_COLUMNS)


ATTRITION_STEPS = [
    "referred", "linked", "pre_window_covered", "post_window_covered", "alive", "registered",
]
ATTRITION_COLUMNS = ["cohort", "step", "n", "excluded"]


def publish_attrition(df: pl.DataFrame) -> pl.DataFrame:
    """attrition (docs/contract/outputs.md) -> cohort, step, n, excluded as display strings.

    Rows are put in the contract's step order within each cohort. ``excluded`` is the
    number dropped at that step (previous step's n minus this n, from the unrounded
    numbers), itself disclosure-controlled; blank for the first step.
    """
    rows = _rows(df, ["cohort", "step", "n"])
    order = {s: i for i, s in enumerate(ATTRITION_STEPS)}
    rows.sort(key=lambda r: (str(r["cohort"]), order.get(r["step"], len(order))))
    out, prev = [], {}
    for r in rows:
        cohort = str(r["cohort"])
        n = _as_count(r["n"])
        before = prev.get(cohort)
        excluded = BLANK if before is None or n is None else publish_count(max(before - n, 0))
        prev[cohort] = n
        out.append({"cohort": cohort, "step": str(r["step"]),
                    "n": publish_count(n), "excluded": excluded})
    return _frame(out, ATTRITION_COLUMNS)


MATCHED_EFFECTS_COLUMNS = [
    "cohort", "measure", "n_treated", "n_controls", "treated_before", "treated_after",
    "control_before", "control_after", "did", "did_ci_low", "did_ci_high",
]
RATE_RATIO_COLUMNS = ["rate_ratio", "rr_ci_low", "rr_ci_high"]
#: The doubly robust estimate (primary setting; blank for the others) and the rate ratio it implies.
ADJUSTED_COLUMNS = ["did_adjusted", "did_adjusted_ci_low", "did_adjusted_ci_high",
                    "rate_ratio_adjusted", "rr_adjusted_ci_low", "rr_adjusted_ci_high"]
#: E-value of the ratio of rate ratios and of its confidence limit nearer 1.
E_VALUE_COLUMNS = ["e_value", "e_value_ci"]
#: Columns a warehouse built before ADR 0017 lacks: published blank when absent.
OPTIONAL_EFFECT_COLUMNS = [*ADJUSTED_COLUMNS, *E_VALUE_COLUMNS]
MATCHED_EFFECTS_ALL_SETTINGS_COLUMNS = ["setting", *MATCHED_EFFECTS_COLUMNS, *RATE_RATIO_COLUMNS,
                                        *OPTIONAL_EFFECT_COLUMNS]


def _matched_group_size(n_treated: Any, n_controls: Any) -> int | None:
    """The group size that governs a statistic over both matched groups: the smaller one."""
    nt, nc = _as_count(n_treated), _as_count(n_controls)
    return None if nt is None or nc is None else min(nt, nc)


def _publish_effect_row(r: dict[str, Any], extra: list[str]) -> dict[str, str]:
    nt, nc = _as_count(r["n_treated"]), _as_count(r["n_controls"])
    both = _matched_group_size(nt, nc)
    out = {
        "cohort": str(r["cohort"]), "measure": str(r["measure"]),
        "n_treated": publish_count(nt), "n_controls": publish_count(nc),
        "treated_before": publish_mean(r["treated_before"], nt),
        "treated_after": publish_mean(r["treated_after"], nt),
        "control_before": publish_mean(r["control_before"], nc),
        "control_after": publish_mean(r["control_after"], nc),
    }
    for c in ("did", "did_ci_low", "did_ci_high", *extra):
        out[c] = _publish_estimate(r[c], both)
    return out


def _publish_estimate(value: Any, n_both: int | None) -> str:
    """An estimate over both matched groups (a difference, a ratio or an E-value): exactly as the
    difference in differences of its row, via :func:`publish_mean` over the smaller group (``*`` for
    1-7 people, blank for 0); a value that cannot be written (infinite) is blank, like a missing one."""
    if not _missing(value) and not math.isfinite(float(value)):
        value = None
    return publish_mean(value, n_both)


def publish_matched_effects(df: pl.DataFrame) -> pl.DataFrame:
    """matched_effects (docs/contract/outputs.md) -> display strings.

    Treated means over n_treated, control means over n_controls; the difference in
    differences and its interval use both groups, so they are suppressed when either is
    1-7 and blank when either is empty. In particular every estimate of a cohort with
    1-7 matched treated patients is ``*``.
    """
    out = [_publish_effect_row(r, []) for r in _rows(df, MATCHED_EFFECTS_COLUMNS)]
    return _frame(out, MATCHED_EFFECTS_COLUMNS)


def publish_matched_effects_all_settings(df: pl.DataFrame) -> pl.DataFrame:
    """matched_effects of every matching setting (the primary one and the sensitivity grid),
    with the ratio of rate ratios, the doubly robust estimate and the E-values -> display strings.

    As :func:`publish_matched_effects`, per row. The ratio of rate ratios (``rate_ratio``,
    ``rr_ci_low``, ``rr_ci_high``), the doubly robust difference in differences and the rate
    ratio it implies (``did_adjusted``, ``rate_ratio_adjusted`` and their intervals) and the
    E-values (``e_value``, ``e_value_ci``) are statistics over both matched groups, so each
    follows the difference in differences of its row: 2 decimals, ``*`` exactly when ``did``
    is (either group has 1-7 people), blank when either group is empty or the value is
    missing or undefined. A table without the doubly robust or E-value columns (built before
    they existed) is published with them blank.
    """
    if df is not None and df.height:
        absent = [c for c in OPTIONAL_EFFECT_COLUMNS if c not in df.columns]
        df = df.with_columns(pl.lit(None, pl.Float64).alias(c) for c in absent)
    out = []
    for r in _rows(df, MATCHED_EFFECTS_ALL_SETTINGS_COLUMNS):
        out.append({"setting": str(r["setting"]),
                    **_publish_effect_row(r, [*RATE_RATIO_COLUMNS, *OPTIONAL_EFFECT_COLUMNS])})
    return _frame(out, MATCHED_EFFECTS_ALL_SETTINGS_COLUMNS)


BALANCE_COLUMNS = ["cohort", "covariate", "smd_before", "smd_after"]
BALANCE_ALL_SETTINGS_COLUMNS = ["setting", "cohort", "covariate", "smd_before", "smd_after",
                                "variance_ratio_after"]


def _group_sizes(effects: pl.DataFrame | None, keys: list[str]) -> dict[tuple[str, ...], int]:
    """Smallest matched group size per ``keys`` (e.g. cohort) over a matched-effects table."""
    sizes: dict[tuple[str, ...], int] = {}
    for r in _rows(effects, [*keys, "n_treated", "n_controls"]):
        n = _matched_group_size(r["n_treated"], r["n_controls"])
        if n is None:
            continue
        k = tuple(str(r[c]) for c in keys)
        sizes[k] = min(sizes.get(k, n), n)
    return sizes


#: What an infinite statistic shows (an SMD whose treated SD is 0 with a non-zero difference).
INFINITE = "\u221e"


def _publish_statistic(value: Any, n: int | None, known: bool) -> str:
    """A statistic over a matched group of ``n``: shown to 2 decimals when the group is 8+,
    ``*`` when it is 1-7 or its size is unknown (``known`` and no size), blank when empty.
    An infinite value (a difference over a zero SD) shows as ``∞`` / ``-∞``."""
    if known and n is None:
        return SUPPRESSED
    if n is not None and n <= SMALL_MAX:
        return BLANK if n == 0 else SUPPRESSED
    if _missing(value):
        return BLANK
    if math.isinf(float(value)):
        return INFINITE if float(value) > 0 else f"-{INFINITE}"
    return format_decimal(value, 2)


def publish_balance(df: pl.DataFrame, matched_effects: pl.DataFrame | None = None) -> pl.DataFrame:
    """balance (docs/contract/outputs.md) -> display strings (SMDs to 2 decimals).

    A standardised mean difference is a statistic over the matched groups; when
    ``matched_effects`` is given, a cohort whose smaller group has 1-7 people (or 0
    people) is suppressed (or blank) like any other mean, and so is a cohort the
    effects table does not mention (its size is unknown: fail closed). Without
    ``matched_effects`` the SMDs are shown as they are (for callers that know the groups
    are large).
    """
    known = matched_effects is not None
    sizes = _group_sizes(matched_effects, ["cohort"]) if known else {}
    out = []
    for r in _rows(df, BALANCE_COLUMNS):
        c = str(r["cohort"])
        n = sizes.get((c,))
        out.append({"cohort": c, "covariate": str(r["covariate"]),
                    "smd_before": _publish_statistic(r["smd_before"], n, known),
                    "smd_after": _publish_statistic(r["smd_after"], n, known)})
    return _frame(out, BALANCE_COLUMNS)


def publish_balance_all_settings(df: pl.DataFrame, effects_all_settings: pl.DataFrame | None
                                 ) -> pl.DataFrame:
    """balance of every matching setting -> display strings.

    SMDs and the variance ratio after matching to 2 decimals, each (setting, cohort)
    controlled by the smaller matched group of that setting and cohort in
    ``effects_all_settings`` (``*`` for 1-7 people or when the setting and cohort are not
    in it, blank for 0).
    """
    sizes = _group_sizes(effects_all_settings, ["setting", "cohort"])
    out = []
    for r in _rows(df, BALANCE_ALL_SETTINGS_COLUMNS):
        s, c = str(r["setting"]), str(r["cohort"])
        n = sizes.get((s, c))
        out.append({"setting": s, "cohort": c, "covariate": str(r["covariate"]),
                    **{k: _publish_statistic(r[k], n, True)
                       for k in ("smd_before", "smd_after", "variance_ratio_after")}})
    return _frame(out, BALANCE_ALL_SETTINGS_COLUMNS)


def publish_max_abs(values: list[str]) -> str:
    """The largest absolute value among already-published 2-decimal statistics (e.g. the
    largest |SMD| after matching of one setting and cohort).

    ``∞`` when any is infinite; ``*`` when any of them is suppressed (the group is small, so the maximum is too);
    blank when none is a number. Rounding is monotone, so the maximum of the published
    values is the published maximum.
    """
    if any(v == SUPPRESSED for v in values):
        return SUPPRESSED
    if any(v in (INFINITE, f"-{INFINITE}") for v in values):
        return INFINITE
    nums = [Decimal(v) for v in values if v not in (BLANK, None)]
    if not nums:
        return BLANK
    return format_decimal(max(abs(v) for v in nums), 2)


UNMATCHED_REASONS = ["no candidates in stratum", "no candidate within caliper",
                     "candidates used up"]
UNMATCHED_TOTAL = "total"
UNMATCHED_COLUMNS = ["setting", "cohort", "reason", "n"]


def publish_unmatched_treated(df: pl.DataFrame) -> pl.DataFrame:
    """unmatched_treated (setting, cohort, reason, n: referred patients left without a
    match) -> display strings.

    One row per setting, cohort and reason (known reasons in their order, others after,
    repeated rows summed), then a ``total`` row per setting and cohort summed from the
    unrounded counts; every count via :func:`publish_count`.
    """
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for r in _rows(df, UNMATCHED_COLUMNS):
        n = _as_count(r["n"])
        if n is None:
            continue
        key = (str(r["setting"]), str(r["cohort"]))
        reasons = totals.setdefault(key, {})
        reasons[str(r["reason"])] = reasons.get(str(r["reason"]), 0) + n
    order = {x: i for i, x in enumerate(UNMATCHED_REASONS)}
    out = []
    for (setting, cohort), reasons in totals.items():
        for reason in sorted(reasons, key=lambda x: (order.get(x, len(order)), x)):
            out.append({"setting": setting, "cohort": cohort, "reason": reason,
                        "n": publish_count(reasons[reason])})
        out.append({"setting": setting, "cohort": cohort, "reason": UNMATCHED_TOTAL,
                    "n": publish_count(sum(reasons.values()))})
    return _frame(out, UNMATCHED_COLUMNS)


HES_FILE_QUALITY_COLUMNS = [
    "delivery", "file", "rows_read", "rows_accepted", "rows_duplicate", "rows_conflicting_key",
    "rows_quarantined_other", "date_column", "first_date", "last_date", "previous_delivery",
    "records_revised", "records_withdrawn", "records_new",
]
HES_FILE_QUALITY_COUNTS = [
    "rows_read", "rows_accepted", "rows_duplicate", "rows_conflicting_key",
    "rows_quarantined_other", "records_revised", "records_withdrawn", "records_new",
]


def _text(value: Any) -> str:
    return BLANK if _missing(value) else str(value)


def _iso_date(value: Any) -> str:
    """A date (or datetime, or ISO string) as ``YYYY-MM-DD``; blank when missing."""
    if _missing(value) or value == "":
        return BLANK
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)[:10]


def publish_hes_file_quality(df: pl.DataFrame) -> pl.DataFrame:
    """hes_file_quality (one row per HES file of the delivery in use) -> display strings.

    Every row and record count (rows read / accepted / duplicate / conflicting key / other
    quarantined; records revised / withdrawn / new since the previous delivery) goes
    through :func:`publish_count`, exactly as the reconciliation counts of Appendix A do,
    so the same file shows the same published rows read in both places. A missing count
    (no previous delivery) is blank. Dates are shown as ``YYYY-MM-DD``.
    """
    out = []
    for r in _rows(df, HES_FILE_QUALITY_COLUMNS):
        out.append({
            "delivery": _text(r["delivery"]),
            "file": _text(r["file"]),
            "date_column": _text(r["date_column"]),
            "first_date": _iso_date(r["first_date"]),
            "last_date": _iso_date(r["last_date"]),
            "previous_delivery": _text(r["previous_delivery"]),
            **{c: publish_count(r[c]) for c in HES_FILE_QUALITY_COUNTS},
        })
    return _frame(out, HES_FILE_QUALITY_COLUMNS)


def publish_record_pct(pct: Any, decimals: int = 1) -> str:
    """A percentage of *records* (not of people), e.g. the share of a file's rows with a
    blank cell in one column: not a statistic about people, so it is shown as computed,
    rounded half up to ``decimals`` places.

    A share above 0 that would round to 0 shows as ``<0.1`` (and one below 100 that would
    round to 100 as ``>99.9``), so a column with any missing value never reads as 0 or
    complete. Blank when missing.
    """
    if _missing(pct):
        return BLANK
    v = float(pct)
    if v < 0 or v > 100:
        raise ValueError(f"a percentage must be between 0 and 100, not {pct!r}")
    shown = format_decimal(v, decimals)
    step = format_decimal(10 ** -decimals, decimals)
    if 0 < v and Decimal(shown) == 0:
        return f"<{step}"
    if v < 100 and Decimal(shown) == 100:
        return f">{format_decimal(100 - 10 ** -decimals, decimals)}"
    return shown


HES_MISSINGNESS_COLUMNS = ["file", "column_name", "rows_read", "rows_missing", "pct_missing"]


def publish_hes_missingness(df: pl.DataFrame) -> pl.DataFrame:
    """hes_missingness (one row per file and column) -> display strings.

    rows_read and rows_missing via :func:`publish_count`; pct_missing via
    :func:`publish_record_pct` (one decimal, from the unrounded counts; recomputed from
    them when the table leaves it blank).
    """
    out = []
    for r in _rows(df, HES_MISSINGNESS_COLUMNS):
        pct = r["pct_missing"]
        read, miss = _as_count(r["rows_read"]), _as_count(r["rows_missing"])
        if _missing(pct) and read and miss is not None:
            pct = 100 * miss / read
        out.append({
            "file": _text(r["file"]), "column_name": _text(r["column_name"]),
            "rows_read": publish_count(read), "rows_missing": publish_count(miss),
            "pct_missing": publish_record_pct(pct),
        })
    return _frame(out, HES_MISSINGNESS_COLUMNS)


# --------------------------------------------------------------------------- economics


def publish_money(value: Any, decimals: int = 0) -> str:
    """An amount of money (or pounds per £1) as computed, rounded half up; blank when missing or not
    finite. Money is not a count of people: it is never suppressed (a figure per patient is a mean and
    goes through :func:`publish_mean` instead)."""
    if _missing(value) or not math.isfinite(float(value)):
        return BLANK
    return format_decimal(value, decimals)


def publish_quantity(value: Any) -> str:
    """A counted total that need not be whole (volunteering hours, funding awards shared between
    programmes): rounded half up to a whole number, then published as a count (``*`` for 1-7, else
    to the nearest 5). Blank when missing."""
    if _missing(value):
        return BLANK
    return publish_count(int(round_half_up(max(float(value), 0.0))))


def _per_people(value: Any, n_group: Any, people: Any, decimals: int = 0) -> str:
    """A figure per patient times a number of people: ``*`` when the group the figure was estimated
    on or the number of people is 1-7, blank when either is empty, unknown or the value missing;
    otherwise worked out from the rounded number of people."""
    n, rounded = _as_count(n_group), round5(people)
    if n is None or n == 0 or _as_count(people) in (None, 0):
        return BLANK
    if n <= SMALL_MAX or rounded is None:
        return SUPPRESSED
    if _missing(value):
        return BLANK
    return format_decimal(float(value) * rounded, decimals)


COST_BASIS_COHORT = "12m"


def cost_basis_sizes(hospital_use: pl.DataFrame | None, matched_effects: pl.DataFrame | None,
                     cohort: str = COST_BASIS_COHORT) -> dict[str, int | None]:
    """The group each basis of the costs avoided is estimated on, by basis: ``naive``, the cohort's
    patients (hospital_use, all patients); ``matched``, the smaller of its matched groups in the
    primary setting (matched_effects; a table of every setting is filtered to ``primary``). None
    when the table does not give it."""
    naive = next((_as_count(r["n_patients"]) for r in _rows(hospital_use, ["cohort", "group", "n_patients"])
                  if r["cohort"] == cohort and r["group"] == "all"), None)
    effects = matched_effects
    if effects is not None and "setting" in effects.columns:
        effects = effects.filter(pl.col("setting") == "primary")
    matched = _group_sizes(effects, ["cohort"]).get((cohort,))
    return {"naive": naive, "matched": matched}


COSTS_AVOIDED_COLUMNS = [
    "basis", "cohort", "item", "events_avoided_per_patient", "unit_cost_gbp", "saving_per_patient_gbp",
    "saving_ci_low_gbp", "saving_ci_high_gbp",
]
COSTS_AVOIDED_PEOPLE_COLUMNS = ["saving_people_gbp", "saving_people_ci_low_gbp", "saving_people_ci_high_gbp"]


def publish_costs_avoided(df: pl.DataFrame, sizes: dict[str, Any], people: Any = None) -> pl.DataFrame:
    """costs_avoided (docs/contract/outputs.md) -> display strings.

    Events avoided (2 decimals) and savings per patient (whole pounds, with their 95% interval) are
    means over the basis's group (``sizes``, see :func:`cost_basis_sizes`): ``*`` when it has 1-7
    people, blank when it is empty or unknown. Unit costs are money. ``saving_people_gbp`` and its
    interval: the saving per patient times ``people`` (the people referred), from the rounded number
    (see :func:`_per_people`).
    """
    out = []
    for r in _rows(df, COSTS_AVOIDED_COLUMNS):
        n = sizes.get(str(r["basis"]))
        out.append({
            "basis": str(r["basis"]), "cohort": str(r["cohort"]), "item": str(r["item"]),
            "events_avoided_per_patient": publish_mean(r["events_avoided_per_patient"], n),
            "unit_cost_gbp": publish_money(r["unit_cost_gbp"]),
            **{c: publish_mean(r[c], n, 0)
               for c in ("saving_per_patient_gbp", "saving_ci_low_gbp", "saving_ci_high_gbp")},
            **{p: _per_people(r[c], n, people) for p, c in zip(
                COSTS_AVOIDED_PEOPLE_COLUMNS,
                ("saving_per_patient_gbp", "saving_ci_low_gbp", "saving_ci_high_gbp"))},
        })
    return _frame(out, [*COSTS_AVOIDED_COLUMNS, *COSTS_AVOIDED_PEOPLE_COLUMNS])


VALUE_FOR_MONEY_COLUMNS = [
    "basis", "scenario", "years", "discount_rate", "cost_gbp", "roi", "roi_ci_low", "roi_ci_high",
    "prob_roi_at_least_1", "payback_months",
]


def publish_value_for_money(df: pl.DataFrame, sizes: dict[str, Any]) -> pl.DataFrame:
    """value_for_money (docs/contract/outputs.md) -> display strings.

    The return per £1 (2 decimals, with its 95% interval), the probability that it reaches 1 (a
    whole percentage) and the months to payback are worked from the saving per patient, so they
    follow it (:func:`publish_mean` over the basis's group). The cost is money. The benefit in
    pounds is not published: it is the saving per patient times an unrounded number of people.
    """
    out = []
    for r in _rows(df, VALUE_FOR_MONEY_COLUMNS):
        n = sizes.get(str(r["basis"]))
        prob = r["prob_roi_at_least_1"]
        out.append({
            "basis": str(r["basis"]), "scenario": str(r["scenario"]),
            "years": _text(r["years"]), "discount_rate": _text(r["discount_rate"]),
            "cost_gbp": publish_money(r["cost_gbp"]),
            **{c: _publish_estimate(r[c], _as_count(n)) for c in ("roi", "roi_ci_low", "roi_ci_high")},
            "prob_roi_at_least_1": publish_mean(None if _missing(prob) else 100 * float(prob), n, 0),
            "payback_months": publish_mean(r["payback_months"], n, 0),
        })
    return _frame(out, VALUE_FOR_MONEY_COLUMNS)


VALUE_INPUTS_COLUMNS = [
    "basis", "saving_per_patient_gbp", "referred_to_date", "referred_last_year", "cost_to_date_gbp",
    "annual_cost_gbp", "price_year",
]


def publish_value_inputs(df: pl.DataFrame, sizes: dict[str, Any]) -> pl.DataFrame:
    """value_inputs -> display strings: the saving per patient as in :func:`publish_costs_avoided`,
    the people referred (to date, and in the last four quarters) as counts, the costs as money. The
    annual benefit is not published (the saving per patient times an unrounded count)."""
    out = []
    for r in _rows(df, VALUE_INPUTS_COLUMNS):
        out.append({
            "basis": str(r["basis"]),
            "saving_per_patient_gbp": publish_mean(r["saving_per_patient_gbp"], sizes.get(str(r["basis"])), 0),
            "referred_to_date": publish_count(r["referred_to_date"]),
            "referred_last_year": publish_count(r["referred_last_year"]),
            "cost_to_date_gbp": publish_money(r["cost_to_date_gbp"]),
            "annual_cost_gbp": publish_money(r["annual_cost_gbp"]),
            "price_year": _text(r["price_year"]),
        })
    return _frame(out, VALUE_INPUTS_COLUMNS)


SROI_COLUMNS = ["component", "quantity", "unit", "value_low_gbp", "value_high_gbp", "per_pound_low",
                "per_pound_high"]


def publish_sroi(df: pl.DataFrame) -> pl.DataFrame:
    """sroi (docs/contract/outputs.md) -> display strings: each component's quantity (measure
    progressions, hours, awards) via :func:`publish_quantity`; values (whole pounds) and values per
    £1 (2 decimals) are money."""
    out = []
    for r in _rows(df, SROI_COLUMNS):
        out.append({
            "component": str(r["component"]), "quantity": publish_quantity(r["quantity"]),
            "unit": _text(r["unit"]),
            "value_low_gbp": publish_money(r["value_low_gbp"]), "value_high_gbp": publish_money(r["value_high_gbp"]),
            "per_pound_low": publish_money(r["per_pound_low"], 2),
            "per_pound_high": publish_money(r["per_pound_high"], 2),
        })
    return _frame(out, SROI_COLUMNS)


WELLBEING_PROGRESS_COLUMNS = ["measures_progressed", "n_followup", "n", "pct"]


def publish_wellbeing_progress(df: pl.DataFrame) -> pl.DataFrame:
    """wellbeing_progress (docs/contract/outputs.md) -> display strings: both counts via
    :func:`publish_count`, the percentage from the rounded counts (:func:`publish_pct`)."""
    out = [{"measures_progressed": str(r["measures_progressed"]), "n_followup": publish_count(r["n_followup"]),
            "n": publish_count(r["n"]), "pct": publish_pct(r["n"], r["n_followup"])}
           for r in _rows(df, WELLBEING_PROGRESS_COLUMNS)]
    return _frame(out, WELLBEING_PROGRESS_COLUMNS)


# --------------------------------------------------------------------------- shares with an interval (MH pathway)

#: The normal quantile of a two-sided 95% interval (1.959964).
Z_95 = NormalDist().inv_cdf(0.975)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / trials`` (95% by default), as two fractions.

    Chosen over the normal ("Wald") interval because the pathway's shares are often near 0 or 1 and its groups
    small, where Wald's interval is too narrow or leaves [0, 1]; Wilson's stays inside it. 0 of n starts at 0
    and n of n ends at 1 exactly.
    """
    if trials <= 0:
        raise ValueError(f"a proportion needs at least one trial, not {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} must lie between 0 and trials {trials}")
    p, z2 = successes / trials, z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def publish_share(numerator: Any, denominator: Any, decimals: int = 0) -> tuple[str, str, str]:
    """A share as (percentage, interval low, interval high), all in %: the percentage from the rounded counts
    (:func:`publish_pct`) and its 95% Wilson interval from the same rounded counts. All three ``*`` when either
    count is 1-7; all blank when the denominator is 0 or missing."""
    pct = publish_pct(numerator, denominator, decimals)
    if pct in (SUPPRESSED, BLANK):
        return pct, pct, pct
    low, high = wilson_interval(round5(numerator), round5(denominator))
    return pct, format_decimal(100 * low, decimals), format_decimal(100 * high, decimals)


MH_PATHWAY_COLUMNS = ["step", "n", "of", "pct", "pct_low", "pct_high"]


def publish_mh_pathway(df: pl.DataFrame, shares: Mapping[str, str]) -> pl.DataFrame:
    """mh_pathway (docs/contract/outputs.md; step, n) -> display strings: each step's people via
    :func:`publish_count`; for a step in ``shares`` (step -> the step it is a share of, ``of``), the share of
    that step's people with its Wilson interval (:func:`publish_share`); blank for the others."""
    rows = _rows(df, ["step", "n"])
    counts = {str(r["step"]): _as_count(r["n"]) for r in rows}
    out = []
    for r in rows:
        step = str(r["step"])
        of = shares.get(step)
        share = publish_share(counts[step], counts[of]) if of in counts else (BLANK, BLANK, BLANK)
        out.append({"step": step, "n": publish_count(counts[step]), "of": of if of in counts else BLANK,
                    **dict(zip(("pct", "pct_low", "pct_high"), share))})
    return _frame(out, MH_PATHWAY_COLUMNS)
