"""Section: well-being at baseline, and distance travelled as a paired change (outcome tool; ADR 0010).

Two parts, never set side by side as a change: the scores at baseline of everyone with a baseline score (the
contract's Table 2: count, mean, share with a low score); and, over the referrals with both a baseline and a
follow-up score, per measure the mean score at baseline and at follow-up of those same referrals, the paired
mean change (follow-up minus baseline) with its 95% t-interval, and the share making progress, first for all of
them and then for those with a low baseline score (2 or less).

Every figure is a published string (:mod:`speval.report.disclosure`): a count of 1-7 is ``*``; a mean, a mean
change and its interval over 1-7 referrals are ``*``; a share is worked out from the rounded counts. The paired
figures come from the report-only table ``wellbeing_paired_change`` (speval/report/outputs.py); without it the
part shows the counts and shares of Table 2 and no change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from speval.run import vocabulary

from speval.report import disclosure as dc
from speval.report.format import humanise, in_words, interval, is_number, signed
from speval.report.sections.common import change_interval, table

#: Outcome areas (docs/contract/outputs.md, wellbeing.csv) in report order, with their row labels.
WELLBEING_MEASURES = [(m.code, m.label) for m in vocabulary.WELLBEING_MEASURES]
#: The groups of the paired change (wellbeing_paired_change.csv `group`), in report order.
PAIRED_GROUPS = ("all", "low_baseline")


def followup_window(parameters: Mapping[str, Any]) -> tuple[str, str] | None:
    """The well-being follow-up window (first and last day after the baseline) from the run parameters;
    None when the run did not record it, and the text then points to the run parameters instead."""
    first, last = parameters.get("followup_min_days"), parameters.get("followup_max_days")
    return None if first is None or last is None else (str(first), str(last))


def outcome_rows(tables: Mapping[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Published rows in contract order, then any outcome area outside the contract list."""
    df = table(tables, "wellbeing")
    low = table(tables, "wellbeing_low_followup")
    followup_low_n = dict(low.select("measure", "followup_low_n").iter_rows()) if low is not None else None
    pub = dc.publish_wellbeing(df, followup_low_n) if df is not None else None
    by_measure = {r["measure"]: r for r in pub.to_dicts()} if pub is not None else {}
    rows = []
    for m, label in WELLBEING_MEASURES:
        r = by_measure.pop(m, None)
        if r is None:
            continue
        rows.append({"label": label, **r})
    for m, r in by_measure.items():
        rows.append({"label": humanise(m), **r})
    return rows


def publish_paired_change(n: Any, baseline_mean: Any, followup_mean: Any, mean_change: Any,
                          sd_change: Any) -> dict[str, str]:
    """One paired change as published strings: the count of referrals with both scores, their mean baseline and
    follow-up scores, the mean change (signed) and its 95% t-interval (``low``, ``high``, ``ci``), every mean and
    both ends of the interval a mean over those ``n`` referrals (``*`` for 1-7, blank for 0)."""
    count = int(n) if n is not None else 0
    low, high = (dc.publish_mean(v, n) for v in change_interval(count, mean_change, sd_change))
    return {"n": dc.publish_count(n), "baseline_mean": dc.publish_mean(baseline_mean, n),
            "followup_mean": dc.publish_mean(followup_mean, n),
            "change": signed(dc.publish_mean(mean_change, n)), "low": low, "high": high, "ci": interval(low, high)}


def paired_changes(tables: Mapping[str, pl.DataFrame]) -> dict[tuple[str, str], dict[str, str]]:
    """(measure, group) -> the published paired change (:func:`publish_paired_change`); empty without the table.
    The mean scores are optional columns: without them they are blank and only the change is shown."""
    df = table(tables, "wellbeing_paired_change")
    out = {}
    for r in df.to_dicts() if df is not None else []:
        out[(str(r["measure"]), str(r["group"]))] = publish_paired_change(
            r["n"], r.get("baseline_mean"), r.get("followup_mean"), r["mean_change"], r["sd_change"])
    return out


def direction(change: Mapping[str, str]) -> str | None:
    """'rose' or 'fell' when the published interval lies wholly above or below zero; None otherwise (it includes
    zero, or is not published)."""
    low, high = change.get("low", ""), change.get("high", "")
    if not (is_number(low) and is_number(high)):
        return None
    return "rose" if float(low) > 0 else "fell" if float(high) < 0 else None


def paired_panels(tables: Mapping[str, pl.DataFrame], rows: list[Mapping[str, str]]) -> list[dict[str, Any]]:
    """The paired part, one panel per group (all, then a low baseline score), one row per outcome area of
    ``rows`` (:func:`outcome_rows`): the referrals with both scores, their mean scores at baseline and follow-up,
    the mean change with its interval, and the share making progress (Table 2's ``progress_pct`` and
    ``progress_low_pct``). Each panel lists the areas whose mean rose or fell with an interval clear of zero
    (``rose``, ``fell``), how many areas have a published interval (``shown``) and, in words, how many of those
    include zero (``unclear``); ``withheld``: some area's change is suppressed."""
    changes = paired_changes(tables)
    low = table(tables, "wellbeing_low_followup")
    followup_low_n = dict(low.select("measure", "followup_low_n").iter_rows()) if low is not None else {}
    panels = []
    for group in PAIRED_GROUPS:
        out = []
        for r in rows:
            c = changes.get((r["measure"], group))
            if c is None:  # no paired figures: the count Table 2 (or the low scorers' denominator) gives
                n = (r["followup_n"] if group == "all" else
                     dc.publish_count(followup_low_n[r["measure"]]) if r["measure"] in followup_low_n else "")
                c = {"n": n, "baseline_mean": "", "followup_mean": "", "change": "", "low": "", "high": "",
                     "ci": ""}
            out.append({"label": r["label"], "measure": r["measure"], **c,
                        "progress_pct": r["progress_pct"] if group == "all" else r["progress_low_pct"],
                        "direction": direction(c)})
        rose = [r["label"] for r in out if r["direction"] == "rose"]
        fell = [r["label"] for r in out if r["direction"] == "fell"]
        shown = sum(is_number(r["low"]) for r in out)
        panels.append({"group": group, "rows": out, "rose": rose, "fell": fell, "shown": shown,
                       "unclear": in_words(shown - len(rose) - len(fell)),
                       "withheld": any(r["change"] == dc.SUPPRESSED for r in out)})
    return panels


def wellbeing(tables: Mapping[str, pl.DataFrame], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the well-being section shows: ``rows`` (Table 2 published: the baseline part, and what the
    summary and the mental-health section read), ``paired`` (the paired change, all and low baseline scores)."""
    rows = outcome_rows(tables)
    paired = paired_panels(tables, rows)
    return {"rows": rows, "paired": paired, "followup_window": followup_window(parameters),
            "has_change": any(is_number(r["change"].lstrip("+")) or r["change"] == dc.SUPPRESSED
                              for p in paired for r in p["rows"]),
            "has_means": any(r["baseline_mean"] or r["followup_mean"] for p in paired for r in p["rows"])}
