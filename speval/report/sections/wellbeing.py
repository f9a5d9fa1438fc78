"""Section: well-being at baseline and distance travelled (outcome tool)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from speval.run import vocabulary

from speval.report import disclosure as dc
from speval.report.format import humanise
from speval.report.sections.common import table

#: Outcome areas (docs/contract/outputs.md, wellbeing.csv) in report order, with their row labels.
WELLBEING_MEASURES = [(m.code, m.label) for m in vocabulary.WELLBEING_MEASURES]


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


def wellbeing(tables: Mapping[str, pl.DataFrame], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the well-being section shows."""
    return {"rows": outcome_rows(tables), "followup_window": followup_window(parameters)}
