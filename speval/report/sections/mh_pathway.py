"""Section (mental-health runs only): the pilot's own questions, in the order of its key findings (ADR 0020).

Engagement (referred, engaged, took up a service) as a funnel; discharge from secondary mental health care and
whether it lasted a year, each share with its denominator and a 95% Wilson interval; well-being progress and the
paired mean change per measure with a 95% interval; where the matched hospital-use comparison is and, when the
cohorts are too small for it, why there is none; and the social return per £1.

Every figure is a published string (:mod:`speval.report.disclosure`): a step of 1-7 people is ``*`` and has no
bar; a share whose numerator or denominator is 1-7 is ``*`` with its interval, and an interval is worked out
from the rounded counts like its percentage; a mean change over 1-7 referrals is ``*`` with its interval. The
funnel draws the published counts. Wording is in ``reports/templates/sections/mh_pathway.html.j2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from markupsafe import Markup

from speval.report import charts
from speval.report import disclosure as dc
from speval.report.format import grouped, interval, is_number, pounds, signed
from speval.report.outputs import MH_ONLY_PROGRAMMES
from speval.report.sections.common import COHORT_LABELS, COHORTS, change_interval, table
from speval.report.sections.wellbeing import outcome_rows
from speval.run.vocabulary import MH_PATHWAY_STEPS, PROGRESS_THRESHOLDS

STEP_LABELS = {s.code: s.label for s in MH_PATHWAY_STEPS}
#: The first discharge step: before it, engagement (each a share of the people referred); from it on, each
#: step is a subset of the one before and is shown as a share of it (ADR 0020).
DISCHARGE_FROM = "discharge_review_due"
_CODES = [s.code for s in MH_PATHWAY_STEPS]
_FIRST_DISCHARGE = _CODES.index(DISCHARGE_FROM)
#: The funnel's steps: referral to taking up a service.
FUNNEL_STEPS = _CODES[:_FIRST_DISCHARGE]
#: Step -> the step whose people its share is of.
SHARE_OF = {**{c: _CODES[0] for c in _CODES[1:_FIRST_DISCHARGE]},
            **{c: _CODES[i - 1] for i, c in enumerate(_CODES) if i > _FIRST_DISCHARGE}}


# --------------------------------------------------------------------------- engagement and discharge


def pathway_steps(tables: Mapping[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Published steps in the pathway's order, each with the step its share is of and the share's interval."""
    df = table(tables, "mh_pathway")
    if df is None or df.height == 0:
        return []
    by_step = {r["step"]: r for r in dc.publish_mh_pathway(df, SHARE_OF).to_dicts()}
    steps = []
    for code in _CODES:
        r = by_step.get(code)
        if r is None:
            continue
        steps.append({"code": code, "label": STEP_LABELS[code], "n": r["n"], "of": r["of"],
                      "of_label": STEP_LABELS.get(r["of"], ""), "pct": r["pct"],
                      "ci": interval(r["pct_low"], r["pct_high"]), "low": r["pct_low"], "high": r["pct_high"],
                      "discharge": _CODES.index(code) >= _FIRST_DISCHARGE})
    return steps


def funnel_figure(steps: list[Mapping[str, Any]]) -> tuple[Markup | None, str | None]:
    """Figure: referral to taking up a service, from the published counts; or why there is none ('no_figures',
    'no_referrals', 'suppressed': fewer than 8 referred, so every step is withheld)."""
    shown = [s for s in steps if s["code"] in FUNNEL_STEPS]
    if not shown or shown[0]["code"] != _CODES[0]:
        return None, "no_figures"
    if shown[0]["n"] == "0":
        return None, "no_referrals"
    if shown[0]["n"] == dc.SUPPRESSED:
        return None, "suppressed"
    texts = [grouped(s["n"]) if s["code"] == _CODES[0] or not is_number(s["pct"])
             else f"{grouped(s['n'])} ({s['pct']}%)" for s in shown]
    svg = charts.funnel_bars([s["label"] for s in shown], [float(s["n"]) if is_number(s["n"]) else None
                                                           for s in shown], texts, prefix="funnel")
    return Markup(svg), None


# --------------------------------------------------------------------------- well-being


def progress_across_measures(tables: Mapping[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Referrals progressing on at least one and on four or more measures, each share with its interval."""
    df = table(tables, "wellbeing_progress")
    if df is None or df.height == 0:
        return []
    raw = {r["measures_progressed"]: r for r in df.to_dicts()}
    pub = {r["measures_progressed"]: r for r in dc.publish_wellbeing_progress(df).to_dicts()}
    rows = []
    for t in PROGRESS_THRESHOLDS:
        if t.code not in pub:
            continue
        pct, low, high = dc.publish_share(raw[t.code]["n"], raw[t.code]["n_followup"])
        rows.append({"code": t.code, "label": t.label, "n": pub[t.code]["n"],
                     "n_followup": pub[t.code]["n_followup"], "pct": pct, "low": low, "high": high})
    return rows


def mean_changes(tables: Mapping[str, pl.DataFrame]) -> dict[str, dict[str, str]]:
    """Published paired mean change per measure (follow-up minus baseline) with its 95% t-interval, each a mean
    over the referrals with both scores (``*`` for 1-7)."""
    df = table(tables, "wellbeing_change")
    out = {}
    for r in df.to_dicts() if df is not None else []:
        n, mean, sd = r["n"], r["mean_change"], r["sd_change"]
        low, high = (dc.publish_mean(v, n) for v in change_interval(int(n or 0), mean, sd))
        out[r["measure"]] = {"n": dc.publish_count(n), "change": signed(dc.publish_mean(mean, n)),
                             "ci": interval(low, high), "low": low}
    return out


def wellbeing_at_followup(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Table: per measure, the referrals followed up, the share making progress (all, and those with a low
    baseline score) and the mean change; progress across measures; and the measures whose mean rose with a
    published interval wholly above zero (``rises``)."""
    changes = mean_changes(tables)
    rows = []
    for r in outcome_rows(tables):
        c = changes.get(r["measure"], {})
        rows.append({"label": r["label"], "measure": r["measure"], "followup_n": r["followup_n"],
                     "progress_pct": r["progress_pct"],
                     "progress_low_pct": r["progress_low_pct"], "change": c.get("change", ""),
                     "ci": c.get("ci", ""), "rise": is_number(c.get("low", "")) and float(c["low"]) > 0})
    progress = progress_across_measures(tables)
    return {"rows": rows, "progress": progress,
            "followup": progress[0]["n_followup"] if progress else "",
            "has_change": any(is_number(r["change"].lstrip("+")) for r in rows),
            "rises": [r["label"] for r in rows if r["rise"]]}


# --------------------------------------------------------------------------- hospital use and social value


def hospital_comparison(matched: Mapping[str, Any] | None) -> dict[str, Any]:
    """Where the matched comparison of hospital use is, and each cohort it could not be shown for and why:
    ``tried`` (matching tables given), ``shown`` (at least one cohort's estimates published), ``withheld``
    (cohorts with 1-7 matched, 'small', or nobody matched, 'none', longest follow-up first)."""
    if matched is None:
        return {"tried": False, "shown": False, "withheld": []}
    status = {c["key"]: c["status"] for c in matched["cohorts"]}
    withheld = [{"label": COHORT_LABELS.get(k, k), "status": status[k]}
                for k, _, _ in COHORTS if status.get(k) in ("small", "none")]
    return {"tried": True, "shown": bool(matched["has_comparison"]), "withheld": withheld,
            "any_estimates": bool(matched["cohorts"])}


def social_value(tables: Mapping[str, pl.DataFrame]) -> dict[str, str] | None:
    """The social return per £1 (low to high) from the SROI total; None when it is not there to show."""
    df = table(tables, "sroi")
    if df is None or df.height == 0:
        return None
    total = next((r for r in dc.publish_sroi(df).to_dicts() if r["component"] == "total"), None)
    if total is None or not (is_number(total["per_pound_low"]) and is_number(total["per_pound_high"])):
        return None
    return {"low": pounds(total["per_pound_low"]), "high": pounds(total["per_pound_high"])}


# --------------------------------------------------------------------------- the section


def mh_pathway(tables: Mapping[str, pl.DataFrame], programme: str,
               matched: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Everything the mental-health pathway section shows; None for other programmes (no such section)."""
    if programme not in MH_ONLY_PROGRAMMES:
        return None
    steps = pathway_steps(tables)
    funnel_svg, funnel_missing = funnel_figure(steps)
    by_code = {s["code"]: s for s in steps}
    return {
        "steps": steps,
        "step": by_code,
        "engagement": [by_code[c] for c in FUNNEL_STEPS if c in by_code],
        "discharge": [s for s in steps if s["discharge"]],
        "funnel_svg": funnel_svg,
        "funnel_missing": funnel_missing,
        "wellbeing": wellbeing_at_followup(tables),
        "hospital": hospital_comparison(matched),
        "social": social_value(tables),
    }
