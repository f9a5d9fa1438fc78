"""Section: the summary's key figures, built only from published strings.

Hospital-use points lead with the matched difference in differences when it can be
published (for the analysis plan's primary outcome, with the doubly robust check beside it),
and give the naive before-and-after change after it. Each point is a ``kind``
with its figures; ``reports/templates/sections/summary.html.j2`` words it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from speval.report import disclosure as dc
from speval.report.format import direction, is_number
from speval.report.sections.common import COHORT_LABELS, COHORTS, MEASURES
from speval.report.sections.hospital_use import group_size
from speval.report.sections.matched import evidence


def _change(r: Mapping[str, str], cohort: str) -> dict[str, Any] | None:
    """A published % change: which way it went and by how much (None if not published)."""
    way = direction(r["pct_change"])
    if not way:
        return None
    return {"cohort": cohort, "direction": way, "size": r["pct_change"].lstrip("-"),
            "before": r["mean_before"], "after": r["mean_after"]}


def people_referred(att_data: Mapping[tuple[str, str], Mapping[str, str]]) -> dict[str, Any] | None:
    """How many people had been referred by the end of the quarter (either cohort's first step)."""
    referred = att_data.get(("12m", "referred")) or att_data.get(("6m", "referred"))
    return None if referred is None else {"kind": "referred", "n": referred["n"]}


def cohorts_compared(cells: Mapping) -> dict[str, Any] | None:
    """How many patients each cohort compares before and after referral."""
    cohorts = [{"n": n, "months": months} for key, _, months in COHORTS
               if (n := group_size(cells, key, "all")) is not None]
    return {"kind": "compared", "cohorts": cohorts} if cohorts else None


def matched_estimates(matched: Mapping[str, Any] | None, measure: str
                      ) -> tuple[list[dict[str, Any]], bool]:
    """One measure's matched estimates per cohort (published strings only), and whether any
    could be published; the first published one carries the unit ('per patient')."""
    if not matched:
        return [], False
    parts: list[dict[str, Any]] = []
    any_number = False
    for key, label, _ in COHORTS:
        e = matched["effects"].get((key, measure))
        if e is None:
            continue
        if is_number(e["did"]):
            lo, hi = e["did_ci_low"], e["did_ci_high"]
            parts.append({"cohort": label, "suppressed": False, "did": e["did"], "lo": lo, "hi": hi,
                          "evidence": evidence(lo, hi), "per_patient": not any_number})
            any_number = True
        elif e["did"] == dc.SUPPRESSED:
            parts.append({"cohort": label, "suppressed": True})
    return parts, any_number


def doubly_robust_check(matched: Mapping[str, Any] | None, measure: str) -> dict[str, Any] | None:
    """For the analysis plan's primary outcome: its doubly robust estimate in the plan's primary
    cohort and how it stands against the difference in differences (``agreement``, see
    :func:`speval.report.sections.matched.adjusted_agreement`); None for other measures, or when
    there is no published doubly robust estimate to compare."""
    if not matched or matched["primary"]["measure"] != measure:
        return None
    cohort = matched["primary"]["cohort"]
    a = matched["adjusted"].get((cohort, measure))
    if a is None or a["agreement"] in (None, "suppressed"):
        return None
    return {**a, "cohort": COHORT_LABELS.get(cohort, cohort)}


def hospital_use_points(cells: Mapping, matched: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One point per measure: the matched estimates with the naive change after them, or the
    naive change alone (all patients, then those referred to a funded provider)."""
    points = []
    for m, mlabel in MEASURES:
        naive = []
        for key, label, _ in COHORTS:
            r = cells.get((key, "all", m))
            change = _change(r, label) if r is not None else None
            if change and is_number(r["mean_before"]) and is_number(r["mean_after"]):
                naive.append(change)
        estimates, any_matched = matched_estimates(matched, m)
        if any_matched:
            points.append({"kind": "matched", "label": mlabel, "matched": estimates, "naive": naive,
                           "check": doubly_robust_check(matched, m)})
            continue
        if not naive:
            continue
        funded = [change for key, label, _ in COHORTS
                  if (r := cells.get((key, "funded", m))) is not None
                  and (change := _change(r, label))]
        points.append({"kind": "naive", "label": mlabel, "naive": naive, "funded": funded})
    return points


def wellbeing_points(rows: list[Mapping[str, str]]) -> list[dict[str, Any]]:
    """How many had a review at follow-up, and the range of the share making progress."""
    points: list[dict[str, Any]] = []
    if not rows:
        return points
    fns = [r["followup_n"] for r in rows]
    nums = sorted({int(x) for x in fns if is_number(x)})
    if nums:
        points.append({"kind": "reviewed", "low": str(nums[0]), "high": str(nums[-1])})  # printed as counts: 1,250
    elif all(x == dc.SUPPRESSED for x in fns):
        points.append({"kind": "reviews_suppressed"})
    prog = [(float(r["progress_pct"]), r["progress_pct"], r["label"], r["measure"])
            for r in rows if is_number(r["progress_pct"])]
    if prog:  # each share names its outcome area (``measure``), whose people with a review are its denominator
        lo = min(prog, key=lambda t: t[0])
        hi = max(prog, key=lambda t: t[0])
        if lo is hi or lo[0] == hi[0]:
            points.append({"kind": "progress_same", "pct": hi[1], "measure": hi[3]})
        else:
            points.append({"kind": "progress_range", "low": {"pct": lo[1], "label": lo[2], "measure": lo[3]},
                           "high": {"pct": hi[1], "label": hi[2], "measure": hi[3]}})
    return points


def plan_departures(deviations: list[Mapping[str, Any]] | None) -> dict[str, Any] | None:
    """How many run parameters differ from the analysis plan (None when the run followed it); the list
    itself is in the provenance appendix."""
    n = len(deviations or [])
    return {"n": n} if n else None


def key_figures(hosp: Mapping[str, Any], wb: Mapping[str, Any], att: Mapping[str, Any],
                matched: Mapping[str, Any] | None = None,
                deviations: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The summary's points: people and cohorts, hospital use by measure, well-being; and the run's
    departures from the analysis plan, if any."""
    points = [p for p in (people_referred(att["data"]), cohorts_compared(hosp["cells"])) if p]
    measure_points = hospital_use_points(hosp["cells"], matched)
    if not measure_points and cohorts_compared(hosp["cells"]):
        measure_points.append({"kind": "unpublishable"})
    wb_points = wellbeing_points(wb["rows"])
    if not (points or measure_points or wb_points):
        points.append({"kind": "no_results"})
    return {"points": points, "measure_points": measure_points, "wb_points": wb_points,
            "departures": plan_departures(deviations)}
