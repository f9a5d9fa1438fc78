"""Section: the bottom line on the title page (issue 14, item 1).

Three to five plain sentences a commissioner reads in a minute: who was referred; the analysis plan's primary
outcome against the matched comparison group, per 100 patients, with its 95% interval; what the naive
before-and-after change would have claimed for the same measure and cohort; well-being progress; and the
matched return on investment beside the naive one.

Nothing is computed afresh: every figure is a published string another section already made (the summary's
people referred, the hospital-use cells, the matched estimates, the value-for-money headline, the well-being
progress), read here and only rescaled. A difference per patient is published to 2 decimals, so "per 100
patients" is that string times 100, a whole number, exactly. A sentence whose figures are missing is left out;
one whose figures are suppressed says so (fewer than 8 people), except the return on investment, which is left
out too: the sentence on the primary outcome has already said the matched group is too small. Without a matched
estimate, its sentence and the naive one become one sentence saying why. The wording is in
``reports/templates/sections/bottom_line.html.j2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from speval.report import disclosure as dc
from speval.report.format import grouped, humanise, in_sentence, in_words, is_number, pounds
from speval.report.sections.common import COHORT_LABELS, COHORTS, MEASURES
from speval.report.sections.matched import evidence, matched_vs_naive, plan_primary
from speval.run.vocabulary import PROGRESS_THRESHOLDS

#: The well-being share the bottom line quotes: progress on at least one measure.
AT_LEAST_ONE = PROGRESS_THRESHOLDS[0].code
#: Readings of :func:`speval.report.sections.matched.matched_vs_naive` in which the naive fall is larger than
#: the matched one: the before-and-after change overstates the benefit.
OVERSTATED = {"smaller_fall": "part", "all_of_fall": "all"}


def per_100(published: str) -> int:
    """A published difference per patient (``-0.08``) as a whole number per 100 patients (``-8``).

    The string is already disclosure-controlled (2 decimals), so the product is exact; half-up rounding only
    guards a string with more decimals."""
    return int(dc.round_half_up(Decimal(published) * 100))


def amount(n: int) -> dict[str, Any]:
    """A signed number per 100 patients as the text says it: ``{"n": 8, "way": "fewer"}``."""
    return {"n": abs(n), "way": "fewer" if n < 0 else "more" if n > 0 else "same"}


def period_words(months: int | None) -> dict[str, str]:
    """How a cohort's follow-up is said: per 100 patients ``a year`` (12 months) or ``over six months``, and
    patients ``followed for a year`` / ``for six months``."""
    if months == 12:
        return {"rate": "a year", "followed": "a year"}
    if months is None:
        return {"rate": "", "followed": ""}
    return {"rate": f"over {in_words(months)} months", "followed": f"{in_words(months)} months"}


# --------------------------------------------------------------------------- the sentences' data


def referred(summary: Mapping[str, Any]) -> dict[str, str] | None:
    """The summary's people referred by the quarter's end (a published count): ``kind`` 'about' (rounded),
    'few' (1-7, suppressed) or 'none' (0); None when the summary has no such count."""
    point = next((p for p in summary.get("points", []) if p.get("kind") == "referred"), None)
    if point is None or point["n"] == dc.BLANK:
        return None
    n = point["n"]
    return {"kind": "few" if n == dc.SUPPRESSED else "none" if n == "0" else "about", "n": grouped(n)}


def primary_estimate(matched: Mapping[str, Any], primary: Mapping[str, str]) -> dict[str, str]:
    """The published estimate the plan names as primary (its cohort and measure): the doubly robust one when
    the plan says ``did_adjusted``, else the difference in differences (a ratio of rate ratios cannot be said
    per 100 patients, so for ``rate_ratio`` the difference in differences is quoted)."""
    key = (primary["cohort"], primary["measure"])
    if primary.get("estimator") == "did_adjusted":
        a = (matched.get("adjusted") or {}).get(key) or {}
        return {"did": a.get("did", ""), "lo": a.get("lo", ""), "hi": a.get("hi", "")}
    e = matched["effects"].get(key) or {}
    return {"did": e.get("did", ""), "lo": e.get("did_ci_low", ""), "hi": e.get("did_ci_high", "")}


def naive_change(cells: Mapping[tuple[str, str, str], Mapping[str, str]], primary: Mapping[str, str]
                 ) -> str:
    """The published before-and-after change per patient of the primary measure and cohort (all patients);
    blank when there is none."""
    r = cells.get((primary["cohort"], "all", primary["measure"]))
    return r["change"] if r is not None else dc.BLANK


def hospital(cells: Mapping[tuple[str, str, str], Mapping[str, str]], matched: Mapping[str, Any] | None,
             primary: Mapping[str, str]) -> dict[str, Any] | None:
    """The primary outcome: ``kind`` 'estimate' (the matched estimate per 100 patients with its interval and
    the naive change beside it) or 'no_comparison' (why there is no matched estimate, with the naive fall
    when there is one); None when there is nothing at all to say."""
    months = next((m for k, _, m in COHORTS if k == primary["cohort"]), None)
    base = {"measure": in_sentence(dict(MEASURES).get(primary["measure"], humanise(primary["measure"]))),
            "cohort": COHORT_LABELS.get(primary["cohort"], primary["cohort"]), **period_words(months)}
    naive = naive_change(cells, primary)
    naive_n = amount(per_100(naive)) if is_number(naive) else None
    if matched is None:
        reason = "not_tried"
    else:
        status = next((c["status"] for c in matched["cohorts"] if c["key"] == primary["cohort"]), None)
        est = primary_estimate(matched, primary)
        if status == "ok" and all(is_number(est[k]) for k in ("did", "lo", "hi")):
            reading = matched_vs_naive(naive, est["did"])
            return {**base, "kind": "estimate", "did": amount(per_100(est["did"])),
                    "lo": amount(per_100(est["lo"])), "hi": amount(per_100(est["hi"])),
                    "evidence": evidence(est["lo"], est["hi"]),
                    "naive": naive_n, "overstated": OVERSTATED.get(reading)}
        reason = status if status in ("small", "none") else "small" if est["did"] == dc.SUPPRESSED \
            else "unavailable"
    if matched is None and not cells:
        return None  # no hospital figures and no comparison: the report says so in its own sections
    # Without a matched estimate the naive change is quoted only when it is a fall (it then likely overstates
    # any benefit); a rise or no change is left to the report.
    fall = naive_n if naive_n and naive_n["way"] == "fewer" else None
    return {**base, "kind": "no_comparison", "reason": reason, "naive": fall}


def _progress_row(value: Mapping[str, Any] | None, mh: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The published share making progress on at least one measure, from the value-for-money section's social
    return or the mental-health section's well-being (the latter with its 95% interval)."""
    rows = []
    if mh:
        rows += [{"code": r["code"], "n_followup": r["n_followup"], "pct": r["pct"], "low": r["low"],
                  "high": r["high"]} for r in mh["wellbeing"]["progress"]]
    if value:
        rows += [{"code": r["measures_progressed"], "n_followup": r["n_followup"], "pct": r["pct"], "low": "",
                  "high": ""} for r in value["social"]["progress"]]
    return next((r for r in rows if r["code"] == AT_LEAST_ONE), None)


def wellbeing(summary: Mapping[str, Any], value: Mapping[str, Any] | None, mh: Mapping[str, Any] | None
              ) -> dict[str, Any] | None:
    """Well-being in one sentence: the share making progress on at least one measure (``kind`` 'progress',
    or 'withheld' when fewer than 8 had a review); without that table, the summary's range of the share
    making progress per measure ('range' / 'same'); None when there is nothing published."""
    row = _progress_row(value, mh)
    if row is not None:
        n, pct = row["n_followup"].replace(",", ""), row["pct"]
        if n == dc.SUPPRESSED:
            return {"kind": "withheld"}
        if is_number(n) and n != "0" and (is_number(pct) or pct == dc.SUPPRESSED):
            ci = is_number(row["low"]) and is_number(row["high"])
            return {"kind": "progress", "n": grouped(n), "pct": pct, "few": pct == dc.SUPPRESSED,
                    "low": row["low"] if ci else "", "high": row["high"] if ci else ""}
    for p in summary.get("wb_points", []):
        if p["kind"] == "reviews_suppressed":
            return {"kind": "withheld"}
        if p["kind"] == "progress_range":
            return {"kind": "range", "low": p["low"]["pct"], "high": p["high"]["pct"],
                    "low_measure": p["low"].get("measure", ""), "high_measure": p["high"].get("measure", "")}
        if p["kind"] == "progress_same":
            return {"kind": "same", "pct": p["pct"], "measure": p.get("measure", "")}
    return None


def value_for_money(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The matched five-year return per £1 (benefits sustained) with its interval, beside the naive one; None
    unless the value-for-money section has a published matched return."""
    if not value or value["status"].get("matched") != "ok":
        return None
    m, n = value["roi"]["headline"]["matched"], value["roi"]["headline"]["naive"]
    roi, lo, hi = m.get("roi", ""), m.get("roi_ci_low", ""), m.get("roi_ci_high", "")
    if not is_number(roi):
        return None
    ci = is_number(lo) and is_number(hi)
    naive = n.get("roi", "")
    return {"roi": pounds(roi), "lo": pounds(lo) if ci else "", "hi": pounds(hi) if ci else "",
            "below_one": ci and float(lo) < 1,
            "naive": pounds(naive) if is_number(naive) and value["status"].get("naive") == "ok" else "",
            "years": value["years"]}


# --------------------------------------------------------------------------- the section


def bottom_line(summary: Mapping[str, Any], cells: Mapping[tuple[str, str, str], Mapping[str, str]],
                matched: Mapping[str, Any] | None, value: Mapping[str, Any] | None,
                mh: Mapping[str, Any] | None, programme_name: str, quarter_end: str,
                primary: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Everything the bottom line says, from the other sections' published results: the summary
    (:func:`speval.report.sections.summary.key_figures`), the hospital-use cells, the matched comparison,
    value for money and the mental-health pathway (None when the report has no such section). ``primary`` is
    the analysis plan's primary outcome (the matched comparison's, or the plan's when there is none)."""
    if primary is None:
        primary = matched["primary"] if matched else plan_primary()
    out = {"programme": programme_name, "quarter_end": quarter_end, "referred": referred(summary),
           "hospital": hospital(cells, matched, primary), "wellbeing": wellbeing(summary, value, mh),
           "value": value_for_money(value)}
    out["shown"] = any(out[k] for k in ("referred", "hospital", "wellbeing", "value"))
    return out
