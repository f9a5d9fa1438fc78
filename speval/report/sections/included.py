"""Section: who was included, step by step (the attrition table and the cohort flow diagram).

Both show only the published strings of :func:`speval.report.disclosure.publish_attrition`; the
number excluded at each step is worked out there, before rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from markupsafe import Markup

from speval.report import disclosure as dc
from speval.run import vocabulary
from speval.report import flow
from speval.report.format import humanise, long_date
from speval.report.sections.common import COHORTS, COHORT_LABELS, table

#: Row labels of the attrition table, one per step of docs/contract/outputs.md (attrition.csv).
ATTRITION_LABELS = {s.code: s.label for s in vocabulary.ATTRITION_STEPS}
FLOW_TITLE = "Cohort flow: people included and excluded at each step, by cohort"

Published = dict[tuple[str, str], dict[str, str]]


def published_steps(tables: Mapping[str, pl.DataFrame]) -> tuple[Published, list[str]]:
    """Published counts by (cohort, step), and the steps in contract order (others last)."""
    df = table(tables, "attrition")
    pub = dc.publish_attrition(df) if df is not None else None
    data: Published = {}
    steps: list[str] = []
    if pub is not None:
        for r in pub.to_dicts():
            data[(r["cohort"], r["step"])] = r
            if r["step"] not in steps:
                steps.append(r["step"])
    order = {s: i for i, s in enumerate(dc.ATTRITION_STEPS)}
    steps.sort(key=lambda s: order.get(s, len(order)))
    return data, steps


def inclusion_table(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Table: people remaining and excluded at each step, one column pair per cohort.
    ``data`` (by cohort and step) also feeds the summary and the flow diagram."""
    data, steps = published_steps(tables)
    cohort_keys = [k for k, _, _ in COHORTS if any(c == k for c, _ in data)]
    rows = []
    for s in steps:
        row = {"label": ATTRITION_LABELS.get(s, humanise(s)), "cells": []}
        for k in cohort_keys:
            r = data.get((k, s))
            row["cells"].append({"n": r["n"] if r else "", "excluded": r["excluded"] if r else ""})
        rows.append(row)
    return {"cohorts": [COHORT_LABELS[k] for k in cohort_keys], "rows": rows, "data": data}


def flow_box_texts(step: str, months: int, hes: Mapping[str, Any], quarter_end: str
                   ) -> tuple[str, str]:
    """(box label, exclusion reason) of one step in the flow diagram, with the window
    length and the HES coverage dates that decide it."""
    nbsp = "\u00a0"  # dates are never broken across lines in the diagram
    start = long_date(hes.get("coverage_start")).replace(" ", nbsp)
    cutoff = long_date(hes.get("cutoff")).replace(" ", nbsp)
    window = f"{months} months"
    texts = {
        "referred": (f"Referred to the programme by {quarter_end}" if quarter_end
                     else "Referred to the programme by the end of the quarter", ""),
        "linked": ("Linked to hospital records (HES)", "not linked to hospital records"),
        "pre_window_covered": (
            f"Pre-referral window ({window}) within HES coverage",
            "pre-referral window starts before HES coverage"
            + (f" ({start})" if start else "")),
        "post_window_covered": (
            f"Post-referral window ({window}) within the data cut-off",
            "post-referral window ends after the HES cut-off"
            + (f" ({cutoff})" if cutoff else "")),
        "alive": ("Alive throughout the post-referral window",
                  "died before the end of the post-referral window"),
        "registered": ("Registered with a practice throughout both windows",
                       "not registered with a practice throughout both windows"),
    }
    return texts.get(step, (humanise(step), "excluded at this step"))


def cohort_flow_figure(data: Published, hes: Mapping[str, Any], quarter_end: str
                       ) -> Markup | None:
    """Figure: the cohort flow diagram, from the published attrition strings only."""
    cohorts = []
    for key, label, months in COHORTS:
        steps = [s for s in dc.ATTRITION_STEPS if (key, s) in data]
        steps += sorted(s for c, s in data if c == key and s not in dc.ATTRITION_STEPS)
        if not steps:
            continue
        fsteps = []
        for i, s in enumerate(steps):
            r = data[(key, s)]
            box, reason = flow_box_texts(s, months, hes, quarter_end)
            fsteps.append(flow.FlowStep(label=box, n=r["n"],
                                        excluded=r["excluded"] if i else "",
                                        reason=reason if i else ""))
        cohorts.append(flow.FlowCohort(title=label.capitalize(), steps=fsteps,
                                       final_label=label.capitalize()))
    if not cohorts:
        return None
    return Markup(flow.cohort_flow_svg(cohorts, title=FLOW_TITLE))
