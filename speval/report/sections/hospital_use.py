"""Section: hospital use before and after referral (the naive before-and-after change).

Table and chart show only the published strings of :func:`speval.report.disclosure.publish_hospital_use`;
the chart draws those strings' values, never the raw means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from markupsafe import Markup

from speval.report import disclosure as dc
from speval.report import charts
from speval.report.format import grouped, is_number, signed
from speval.report.sections.common import COHORTS, MEASURES, table

Cells = dict[tuple[str, str, str], dict[str, str]]


def published_cells(tables: Mapping[str, pl.DataFrame]) -> Cells:
    """Published hospital use by (cohort, group, measure); the summary and the matched
    comparison read their naive changes from here."""
    df = table(tables, "hospital_use")
    if df is None:
        return {}
    return {(r["cohort"], r["group"], r["measure"]): r for r in dc.publish_hospital_use(df).to_dicts()}


def group_size(cells: Cells, cohort: str, group: str) -> str | None:
    """Published number of patients in a cohort's group (None when the group is absent)."""
    for m, _ in MEASURES:
        r = cells.get((cohort, group, m))
        if r is not None:
            return r["n_patients"]
    return None


def _change_table(cells: Cells) -> list[dict[str, Any]]:
    """Table: per cohort, each measure before, after, change and % change, all and funded."""
    cohorts = []
    for i, (key, label, months) in enumerate(COHORTS):
        if not any(k[0] == key for k in cells):
            continue
        rows = []
        for m, mlabel in MEASURES:
            row: dict[str, Any] = {"label": mlabel}
            for group in ("all", "funded"):
                r = cells.get((key, group, m))
                row[group] = {
                    "before": r["mean_before"] if r else "",
                    "after": r["mean_after"] if r else "",
                    "change": signed(r["change"]) if r else "",
                    "pct": signed(r["pct_change"]) if r else "",
                }
            rows.append(row)
        cohorts.append({
            "key": key, "label": label, "months": months, "mark": "ab"[i],
            "n_all": group_size(cells, key, "all"), "n_funded": group_size(cells, key, "funded"),
            "rows": rows,
        })
    return cohorts


def _before_after_chart(cells: Cells) -> tuple[Markup | None, str | None]:
    """Figure: the 12 month cohort, all patients, from the published numbers only; or why
    there is no chart ('no_figures', 'no_patients', 'suppressed', 'unpublishable')."""
    c12 = [cells.get(("12m", "all", m)) for m, _ in MEASURES]
    n12 = group_size(cells, "12m", "all")
    if n12 is None or not any(c12):
        return None, "no_figures"
    if n12 == "0":
        return None, "no_patients"
    if n12 == dc.SUPPRESSED:
        return None, "suppressed"
    labels, before, after, bt, at = [], [], [], [], []
    for (m, mlabel), r in zip(MEASURES, c12):
        if r is None or not (is_number(r["mean_before"]) and is_number(r["mean_after"])):
            continue
        labels.append(mlabel)
        before.append(float(r["mean_before"]))
        after.append(float(r["mean_after"]))
        bt.append(grouped(r["mean_before"]))
        at.append(grouped(r["mean_after"]))
    if not labels:
        return None, "unpublishable"
    return Markup(charts.before_after_bar(labels, before, after, bt, at, prefix="chart1")), None


def hospital_use(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Everything the hospital use section shows."""
    cells = published_cells(tables)
    chart_svg, chart_missing = _before_after_chart(cells)
    return {"cohorts": _change_table(cells), "chart_svg": chart_svg,
            "chart_missing": chart_missing, "cells": cells}
