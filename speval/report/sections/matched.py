"""Section: comparison with a matched group (difference in differences, ADR 0012).

Every figure comes from :mod:`speval.report.disclosure` strings: the love plot draws the published
SMDs, the sensitivity table's largest |SMD| comes from them (``publish_max_abs``), and the
readings compare the published naive change with the published difference in differences
and interval, and the doubly robust estimate with it for the analysis plan's primary outcome
and cohort (ADR 0017); the E-values are read from their published strings too. The readings
are worded in ``reports/templates/sections/matched_sentences.j2``.
"""

from __future__ import annotations

import math
import re
from itertools import combinations
from collections.abc import Mapping
from typing import Any

import polars as pl
from markupsafe import Markup

from speval.report import disclosure as dc
from speval.run import vocabulary
from speval.report import charts
from speval.report.format import humanise, interval, is_number, signed
from speval.report.sections.common import COHORT_LABELS, MEASURES, cohort_order, table
from speval.report.templating import sentence
from speval.run.plan import PlanError, load_plan

SENTENCES = "sections/matched_sentences.j2"
#: Tables of the matched comparison (docs/contract/outputs.md and the report-only tables of every setting).
MATCHING_TABLES = ("matched_effects", "balance", "matched_effects_all_settings",
                   "balance_all_settings", "unmatched_treated")
PRIMARY_SETTING = "primary"
#: The measure the per-cohort reading and the sensitivity table are about.
HEADLINE_MEASURE = "emergency_admissions"
UNMATCHED_LABELS = {r.code: r.label for r in vocabulary.UNMATCHED_REASONS}
#: Matching covariates (docs/contract/rules.md, balance.csv) in report order, with readable labels.
MATCH_COVARIATES = [
    ("age", "Age"),
    ("female", "Sex (female)"),
    ("imd_decile", "Deprivation (IMD decile)"),
    ("ltc_count", "Long-term conditions"),
    ("risk_score", "Risk score"),
    ("any_covariate_imputed", "Any characteristic imputed"),
    *[(f"{m}_{w}m", f"{label}, last {w} months")
      for w in (12, 6, 3, 1)
      for m, label in (("emergency_admissions", "Emergency admissions"),
                       ("inpatient_admissions", "In-patient admissions"),
                       ("ae_attendances", "A&E attendances"),
                       ("outpatient_appointments", "Outpatient appointments"))],
]
COVARIATE_LABELS = {"sex": "Sex", **dict(MATCH_COVARIATES)}

Estimates = dict[tuple[str, str], dict[str, str]]


def plan_primary() -> dict[str, str]:
    """The primary estimate the analysis plan fixes: outcome (measure), cohort and estimator
    (``did``, ``did_adjusted`` or ``rate_ratio``); the plan's own values when it cannot be read."""
    try:
        plan = load_plan()
    except PlanError:
        return {"measure": HEADLINE_MEASURE, "cohort": "12m", "estimator": "did"}
    return {"measure": plan.primary_outcome, "cohort": plan.primary_cohort,
            "estimator": plan.primary_estimator}


def covariate_label(name: str) -> str:
    """Balance covariate names -> readable labels (unknown names are humanised)."""
    key = str(name).lower()
    if key in COVARIATE_LABELS:
        return COVARIATE_LABELS[key]
    window = re.fullmatch(r"(.+)_(\d+)m", key)
    for m, label in MEASURES:
        if window and window.group(1) == m:
            return f"{label}, last {window.group(2)} months"
        if key.endswith(m):
            prefix = key[: -len(m)].strip("_")
            if not prefix:
                return label
            if prefix.startswith("pre"):
                return f"{label} before the index date"
            return f"{label} ({humanise(prefix).lower()})"
    return humanise(name)


# --------------------------------------------------------------------------- matching settings


def _flag(value: Any) -> bool | None:
    """A yes/no run parameter (bool, 0/1 or text) as a bool; None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "yes", "y", "1", "with"):
            return True
        if v in ("false", "no", "n", "0", "without"):
            return False
        return None
    return bool(value)


def _number_text(value: Any) -> str | None:
    """A numeric run parameter as short text (0.2, 3, 1000); None when not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if math.isinf(v):
        return "no limit"
    return str(int(v)) if v.is_integer() else f"{v:g}"


def matching_method(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The primary matching settings from the run parameters, for the method paragraph
    (each None when absent: the text then points to the run parameters)."""
    caliper = _number_text(parameters.get("matching_caliper_sd"))
    ratio = _number_text(parameters.get("matching_ratio"))
    replace = _flag(parameters.get("matching_with_replacement"))
    boot = _number_text(parameters.get("bootstrap_replicates"))
    seed = _number_text(parameters.get("seed"))
    return {"caliper": caliper, "ratio": ratio, "replace": replace,
            "replicates": f"{int(boot):,}" if boot and boot.isdigit() else boot,
            "seed": seed}


def setting_parts(name: str, settings: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Caliper / ratio / replacement of a setting for the sensitivity table, from the run's typed matching
    settings (analysis.matching_settings), with its sort key (primary first, then by caliper, ratio,
    replacement); a setting the table does not describe is shown without them, last."""
    row = settings.get(name)
    if row is None:
        return {"primary": name == PRIMARY_SETTING, "known": False, "caliper": "", "ratio": "",
                "replacement": "", "key": (2, 0.0, 0, 0, name)}
    return {"primary": bool(row["is_primary"]), "known": True, "caliper": _number_text(row["caliper"]),
            "ratio": str(row["ratio"]), "replacement": "with" if row["with_replacement"] else "without",
            "key": (0 if row["is_primary"] else 1, float(row["caliper"]), int(row["ratio"]),
                    bool(row["with_replacement"]), name)}


# --------------------------------------------------------------------------- reading an estimate


def evidence(lo: str, hi: str) -> str | None:
    """'lower' / 'higher' when a published 95% interval lies wholly below / above zero,
    'none' when it includes zero (a bound published as 0.00 counts as including it)."""
    if not (is_number(lo) and is_number(hi)):
        return None
    if float(hi) < 0:
        return "lower"
    if float(lo) > 0:
        return "higher"
    return "none"


def matched_vs_naive(naive: str, did: str) -> str:
    """How the matched estimate stands against the naive change: 'suppressed', 'none' (no
    estimate), 'smaller_fall' / 'smaller_rise' (part of the change would have happened
    anyway), 'all_of_fall' / 'all_of_rise' (all of it would have), 'larger_fall' /
    'larger_rise', 'no_naive_change', or 'no_naive' (no published naive change)."""
    if did == dc.SUPPRESSED:
        return "suppressed"
    if not is_number(did):
        return "none"
    if not is_number(naive):
        return "no_naive"
    d, c = float(did), float(naive)
    if c < 0:
        if d < 0 and abs(d) < abs(c):
            return "smaller_fall"
        return "all_of_fall" if d >= 0 else "larger_fall"
    if c > 0:
        if 0 < d < c:
            return "smaller_rise"
        return "all_of_rise" if d <= 0 else "larger_rise"
    return "no_naive_change"


def interpret_matched(cohort_label: str, measure_label: str, naive: str, did: str, lo: str,
                      hi: str) -> str:
    """One plain sentence comparing the naive before/after change with the matched
    difference in differences, from the published strings only."""
    return sentence(SENTENCES, "interpret_matched", cohort=cohort_label, measure=measure_label,
                    naive=naive, did=did, lo=lo, hi=hi, reading=matched_vs_naive(naive, did),
                    evidence=evidence(lo, hi))


def other_measures_evidence(effects: Estimates, cohort: str) -> dict[str, Any]:
    """The non-headline measures whose 95% interval excludes zero (with its direction), and
    how many include it: a cohort's reading goes on to name them."""
    clear, unclear = [], 0
    for m, label in MEASURES:
        r = effects.get((cohort, m))
        if m == HEADLINE_MEASURE or r is None:
            continue
        ev = evidence(r["did_ci_low"], r["did_ci_high"])
        if ev in ("lower", "higher"):
            clear.append({"label": label, "evidence": ev})
        elif ev == "none":
            unclear += 1
    return {"clear": clear, "unclear": unclear}


def cohort_status(n_treated: str, n_controls: str) -> str:
    """'ok', 'small' (1-7 in a matched group: estimates suppressed) or 'none' (no one matched)."""
    if dc.SUPPRESSED in (n_treated, n_controls):
        return "small"
    if not (is_number(n_treated) and is_number(n_controls)) or "0" in (n_treated, n_controls):
        return "none"
    return "ok"


def abs_stat(s: str) -> float | None:
    """|value| of a published statistic: a number, ``inf`` for ``∞``, None otherwise."""
    if is_number(s):
        return abs(float(s))
    if s.lstrip("-") == dc.INFINITE:
        return math.inf
    return None


# --------------------------------------------------------------------------- steps of the section


def primary_estimates(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Published estimates: ``effects`` of the primary setting (from the contract table, or
    else from all settings), its rows of all settings (``rate_ratios``: the ratio of rate
    ratios, the doubly robust estimate and the E-values), every setting's rows, the raw group
    sizes that decide whether the primary balance can be shown, and whether the run computed
    the doubly robust estimate and the E-values at all (a warehouse built before them has
    neither: their columns are then left out)."""
    me = table(tables, "matched_effects")
    me_all = table(tables, "matched_effects_all_settings")
    pub_all = (dc.publish_matched_effects_all_settings(me_all).to_dicts()
               if me_all is not None else [])
    all_primary = [r for r in pub_all if r["setting"] == PRIMARY_SETTING]
    if me is not None and me.height:
        primary = dc.publish_matched_effects(me).to_dicts()
        sizes: pl.DataFrame = me
    else:
        primary = all_primary
        sizes = (me_all.filter(pl.col("setting") == PRIMARY_SETTING)
                 if me_all is not None and me_all.height else pl.DataFrame())
    return {"effects": {(r["cohort"], r["measure"]): r for r in primary},
            "rate_ratios": {(r["cohort"], r["measure"]): r for r in all_primary},
            "all_settings": pub_all, "sizes": sizes,
            "computed": {k: _computed(me_all, c) for k, c in (("adjusted", "did_adjusted"),
                                                              ("e_values", "e_value"))}}


def _computed(me_all: pl.DataFrame | None, column: str) -> bool:
    """Whether the primary setting has any value of ``column`` (computed by this run), whatever
    is published of it."""
    if me_all is None or column not in me_all.columns or "setting" not in me_all.columns:
        return False
    return me_all.filter((pl.col("setting") == PRIMARY_SETTING) & pl.col(column).is_not_null()
                         & ~pl.col(column).cast(pl.Float64).is_nan()).height > 0


def comparison_by_cohort(effects: Estimates, rate_ratios: Estimates,
                         naive_cells: Mapping[tuple[str, str, str], Mapping[str, str]]
                         ) -> list[dict[str, Any]]:
    """Per cohort (12 then 6 months): the naive change beside the difference in differences
    and the doubly robust one (``compare``), the ratio of rate ratios, the one the doubly robust
    estimate implies and the E-values (``rates``), the four group means, and the reading of the
    headline measure."""
    mlabels = dict(MEASURES)
    morder = {m: i for i, (m, _) in enumerate(MEASURES)}
    cohorts = []
    for c in sorted({c for c, _ in effects}, key=cohort_order):
        rows = sorted((r for (cc, _), r in effects.items() if cc == c),
                      key=lambda r: (morder.get(r["measure"], 9), r["measure"]))
        first = next((r for r in rows if r["measure"] == HEADLINE_MEASURE), rows[0])
        status = cohort_status(first["n_treated"], first["n_controls"])
        compare, rates, means = [], [], []
        for r in rows:
            label = mlabels.get(r["measure"], humanise(r["measure"]))
            naive = naive_cells.get((c, "all", r["measure"]))
            q = rate_ratios.get((c, r["measure"])) or {}
            compare.append({
                "label": label,
                "naive": signed(naive["change"]) if naive else "",
                "naive_pct": signed(naive["pct_change"]) if naive else "",
                "did": signed(r["did"]), "ci": interval(r["did_ci_low"], r["did_ci_high"]),
                "adj": signed(q.get("did_adjusted", "")),
                "adj_ci": interval(q.get("did_adjusted_ci_low", ""), q.get("did_adjusted_ci_high", "")),
                "rr": q.get("rate_ratio", ""),
                "rr_ci": interval(q.get("rr_ci_low", ""), q.get("rr_ci_high", "")),
                "n_treated": r["n_treated"], "n_controls": r["n_controls"],
            })
            rates.append({
                "label": label, "rr": q.get("rate_ratio", ""),
                "rr_ci": interval(q.get("rr_ci_low", ""), q.get("rr_ci_high", "")),
                "rr_adj": q.get("rate_ratio_adjusted", ""),
                "rr_adj_ci": interval(q.get("rr_adjusted_ci_low", ""), q.get("rr_adjusted_ci_high", "")),
                "e_value": q.get("e_value", ""), "e_value_ci": q.get("e_value_ci", ""),
            })
            means.append({"label": label, "treated_before": r["treated_before"],
                          "treated_after": r["treated_after"],
                          "control_before": r["control_before"],
                          "control_after": r["control_after"]})
        naive_h = naive_cells.get((c, "all", first["measure"]))
        reading = interpret_matched(
            COHORT_LABELS.get(c, c), mlabels.get(first["measure"], humanise(first["measure"])),
            naive_h["change"] if naive_h else "", first["did"], first["did_ci_low"],
            first["did_ci_high"])
        other = (sentence(SENTENCES, "other_measures", **other_measures_evidence(effects, c))
                 if status == "ok" else "")
        cohorts.append({"key": c, "label": COHORT_LABELS.get(c, c), "status": status,
                        "n_treated": first["n_treated"], "n_controls": first["n_controls"],
                        "compare": compare, "rates": rates, "means": means,
                        "sentence": reading + (" " + other if other else "")})
    return cohorts


def _sign(s: str) -> int:
    """-1, 0 or 1: the sign of a published number (checked by the caller)."""
    v = float(s)
    return (v > 0) - (v < 0)


def adjusted_agreement(did: str, lo: str, hi: str, adjusted: str) -> str | None:
    """How the doubly robust estimate stands against the difference in differences and its 95%
    interval, from the published strings: 'suppressed'; 'agree' (same direction, within the
    interval); 'within' (within the interval, one of them 0.00); 'direction' (opposite
    directions, within the interval); 'outside' (same direction, outside it);
    'direction_outside' (both); None when either estimate is not available."""
    if dc.SUPPRESSED in (did, adjusted):
        return "suppressed"
    if not all(is_number(x) for x in (did, lo, hi, adjusted)):
        return None
    opposite = _sign(did) * _sign(adjusted) < 0
    outside = not float(lo) <= float(adjusted) <= float(hi)
    if opposite:
        return "direction_outside" if outside else "direction"
    if outside:
        return "outside"
    return "agree" if _sign(did) * _sign(adjusted) > 0 else "within"


def doubly_robust_check(rate_ratios: Estimates, primary: Mapping[str, str]) -> str:
    """The paragraph on the doubly robust estimate: what it is, that the analysis plan's primary
    estimate is another one, and how the two compare for the plan's primary outcome and cohort."""
    r = rate_ratios.get((primary["cohort"], primary["measure"])) or {}
    did, lo, hi = r.get("did", ""), r.get("did_ci_low", ""), r.get("did_ci_high", "")
    adj, adj_lo, adj_hi = (r.get(k, "") for k in ("did_adjusted", "did_adjusted_ci_low",
                                                  "did_adjusted_ci_high"))
    return sentence(SENTENCES, "doubly_robust", estimator=primary["estimator"],
                    cohort=COHORT_LABELS.get(primary["cohort"], primary["cohort"]),
                    measure=dict(MEASURES).get(primary["measure"], humanise(primary["measure"])),
                    did=did, lo=lo, hi=hi, adj=adj, adj_lo=adj_lo, adj_hi=adj_hi,
                    agreement=adjusted_agreement(did, lo, hi, adj))


def e_value_readings(rate_ratios: Estimates, measure: str) -> list[str]:
    """One sentence per cohort (12 then 6 months): the E-value of ``measure``'s ratio of rate
    ratios and of its 95% interval, from the published strings (none for a cohort without one)."""
    label = dict(MEASURES).get(measure, humanise(measure))
    out = []
    for c in sorted({c for c, m in rate_ratios if m == measure}, key=cohort_order):
        r = rate_ratios[(c, measure)]
        if not (is_number(r["e_value"]) or r["e_value"] == dc.SUPPRESSED):
            continue
        out.append(sentence(SENTENCES, "e_value", cohort=COHORT_LABELS.get(c, c), measure=label,
                            rr=r["rate_ratio"], lo=r["rr_ci_low"], hi=r["rr_ci_high"],
                            e=r["e_value"], e_ci=r["e_value_ci"]))
    return out


def primary_balance(tables: Mapping[str, pl.DataFrame], sizes: pl.DataFrame) -> list[dict[str, str]]:
    """Published balance of the primary setting: a whole cohort is suppressed when a matched
    group has 1-7 people, and balance without group sizes is withheld (fail closed)."""
    bal = table(tables, "balance")
    bal_all = table(tables, "balance_all_settings")
    if bal is not None and bal.height:
        return dc.publish_balance(bal, sizes).to_dicts()
    if bal_all is not None and bal_all.height:
        return [r for r in dc.publish_balance_all_settings(
                    bal_all, table(tables, "matched_effects_all_settings")).to_dicts()
                if r["setting"] == PRIMARY_SETTING]
    return []


def _balance_status(rows: Mapping[str, Mapping[str, str]]) -> str:
    """'small' (suppressed), 'none' (nothing to show) or 'ok', for one cohort's balance."""
    vals = [v for r in rows.values() for v in (r["smd_before"], r["smd_after"])]
    if any(v == dc.SUPPRESSED for v in vals):
        return "small"
    if all(abs_stat(v) is None for v in vals):
        return "none"
    return "ok"


def _variance_ratios(tables: Mapping[str, pl.DataFrame]) -> dict[tuple[str, str], str]:
    """(cohort, covariate) -> published variance ratio after matching, primary setting."""
    bal_all = table(tables, "balance_all_settings")
    if bal_all is None or not bal_all.height:
        return {}
    me_all = table(tables, "matched_effects_all_settings")
    return {(r["cohort"], r["covariate"]): r["variance_ratio_after"]
            for r in dc.publish_balance_all_settings(bal_all, me_all).to_dicts()
            if r["setting"] == PRIMARY_SETTING}


def _still_imbalanced(label: str, by_covariate: Mapping[str, Mapping[str, str]],
                      covariates: list[str]) -> str:
    """A cohort's balance summary: which characteristics still have |SMD| >= 0.1 after
    matching, and whether earlier hospital use is among them (regression to the mean)."""
    high, history = [], False
    for cov in covariates:
        r = by_covariate.get(cov)
        if r and (abs_stat(r["smd_after"]) or 0.0) >= 0.1:
            history = history or bool(re.search(r"_\d+m$", cov))
            high.append({"label": covariate_label(cov), "smd": r["smd_after"]})
    return sentence(SENTENCES, "balance_summary", cohort=label, high=high, history=history)


def _by_cohort(pub_bal: list[dict[str, str]]) -> tuple[list[str], dict[str, dict[str, dict[str, str]]]]:
    """Covariates in report order, and the published balance rows by cohort and covariate."""
    covorder = {k: i for i, (k, _) in enumerate(MATCH_COVARIATES)}
    covariates = sorted({r["covariate"] for r in pub_bal},
                        key=lambda k: (covorder.get(k, len(covorder)), k))
    by_cohort: dict[str, dict[str, dict[str, str]]] = {}
    for r in pub_bal:
        by_cohort.setdefault(r["cohort"], {})[r["covariate"]] = r
    return covariates, by_cohort


def balance_after_matching(tables: Mapping[str, pl.DataFrame], pub_bal: list[dict[str, str]]
                           ) -> dict[str, Any]:
    """Table: SMD before and after matching and variance ratio per characteristic, for the
    cohorts whose balance can be shown; the others are listed as ``not_shown``."""
    covariates, by_cohort = _by_cohort(pub_bal)
    cohorts = [{"key": c, "label": COHORT_LABELS.get(c, c), "status": _balance_status(by_cohort[c])}
               for c in sorted(by_cohort, key=cohort_order)]
    shown = [b for b in cohorts if b["status"] == "ok"]
    variance_ratios = _variance_ratios(tables)
    rows = []
    for cov in covariates:
        cells = []
        for b in shown:
            r = by_cohort[b["key"]].get(cov)
            cells.append({"before": r["smd_before"] if r else "", "after": r["smd_after"] if r else "",
                          "vr": variance_ratios.get((b["key"], cov), "")})
        rows.append({"label": covariate_label(cov), "cells": cells})
    return {
        "cohorts": shown, "rows": rows, "available": bool(pub_bal),
        "summary": [_still_imbalanced(b["label"], by_cohort[b["key"]], covariates) for b in shown],
        "not_shown": [b for b in cohorts if b["status"] != "ok"],
        "has_infinite": any(abs_stat(c[k]) == math.inf for r in rows
                            for c in r["cells"] for k in ("before", "after")),
    }


def love_plot(pub_bal: list[dict[str, str]], shown: list[dict[str, Any]]) -> Markup | None:
    """Figure: |SMD| before and after matching, one panel per cohort shown (published SMDs)."""
    covariates, by_cohort = _by_cohort(pub_bal)
    if not (shown and covariates):
        return None
    panels = []
    for b in shown:
        before, after = [], []
        for cov in covariates:
            r = by_cohort[b["key"]].get(cov)
            before.append(float(r["smd_before"]) if r and is_number(r["smd_before"]) else None)
            after.append(float(r["smd_after"]) if r and is_number(r["smd_after"]) else None)
        panels.append((b["label"].capitalize(), before, after))
    return Markup(charts.love_plot([covariate_label(c) for c in covariates], panels,
                                   prefix="love", row_height=15))


def unmatched_patients(tables: Mapping[str, pl.DataFrame], effects: Estimates,
                       cohorts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Table: referred patients matched and not matched (by reason), primary setting."""
    un = table(tables, "unmatched_treated")
    if un is None:
        return None
    pub_un = [r for r in dc.publish_unmatched_treated(un).to_dicts()
              if r["setting"] == PRIMARY_SETTING]
    if not (pub_un or effects):
        return None
    ucells = {(r["cohort"], r["reason"]): r["n"] for r in pub_un}
    ukeys = sorted({r["cohort"] for r in pub_un} | {c for c, _ in effects}, key=cohort_order)
    reasons = list(dc.UNMATCHED_REASONS) + sorted(
        {r["reason"] for r in pub_un} - set(dc.UNMATCHED_REASONS) - {dc.UNMATCHED_TOTAL})
    matched_n = {c["key"]: c["n_treated"] for c in cohorts}
    rows = [{"label": "Matched", "cells": [matched_n.get(c, "") for c in ukeys], "kind": "matched"}]
    for reason in reasons:
        rows.append({"label": UNMATCHED_LABELS.get(reason, reason.capitalize()),
                     "cells": [ucells.get((c, reason), "0") for c in ukeys], "kind": "reason"})
    rows.append({"label": "Not matched, all reasons",
                 "cells": [ucells.get((c, dc.UNMATCHED_TOTAL), "0") for c in ukeys], "kind": "total"})
    return {"cohorts": [COHORT_LABELS.get(c, c) for c in ukeys], "rows": rows}


def sensitivity_to_settings(tables: Mapping[str, pl.DataFrame], pub_all: list[dict[str, str]],
                            pub_bal: list[dict[str, str]]) -> dict[str, Any] | None:
    """Table: the headline estimate, matched numbers and largest |SMD| under every matching
    setting (does the answer depend on how patients were matched?)."""
    if not pub_all:
        return None
    bal_all = table(tables, "balance_all_settings")
    pub_bal_all = (dc.publish_balance_all_settings(
        bal_all, table(tables, "matched_effects_all_settings")).to_dicts()
        if bal_all is not None else [])
    smd_after: dict[tuple[str, str], list[str]] = {}
    for r in pub_bal_all:
        smd_after.setdefault((r["setting"], r["cohort"]), []).append(r["smd_after"])
    if not pub_bal_all:  # primary balance only
        for r in pub_bal:
            smd_after.setdefault((PRIMARY_SETTING, r["cohort"]), []).append(r["smd_after"])
    described = table(tables, "matching_settings")
    methods = {r["setting"]: r for r in described.to_dicts()} if described is not None else {}
    settings = sorted({r["setting"] for r in pub_all}, key=lambda n: setting_parts(n, methods)["key"])
    cohorts = sorted({r["cohort"] for r in pub_all}, key=cohort_order)
    head = {(r["setting"], r["cohort"]): r for r in pub_all if r["measure"] == HEADLINE_MEASURE}
    anyrow: dict[tuple[str, str], dict[str, str]] = {}
    for r in pub_all:
        anyrow.setdefault((r["setting"], r["cohort"]), r)
    rows = []
    for name in settings:
        cells = []
        for c in cohorts:
            h = head.get((name, c))
            n = (h or anyrow.get((name, c)) or {}).get("n_treated", "")
            did, ci = "", ""
            if h:
                did = signed(h["did"])
                ci = interval(h["did_ci_low"], h["did_ci_high"])
            cells.append({"n": n, "smd": dc.publish_max_abs(smd_after.get((name, c), [])),
                          "did": did, "ci": ci,
                          "published": (h["did"], h["did_ci_low"], h["did_ci_high"]) if h else None})
        rows.append({**setting_parts(name, methods), "name": name, "cells": cells})
    return {"cohorts": [COHORT_LABELS.get(c, c) for c in cohorts], "rows": rows,
            "readings": settings_readings(rows, cohorts)}


def _conclusion(published: tuple[str, str, str] | None) -> tuple[str, int] | None:
    """What a published estimate and its 95% interval conclude: the evidence ('lower', 'higher' or 'none', as
    :func:`evidence`) and the sign of the estimate; None when either is not published (suppressed or missing)."""
    if published is None:
        return None
    did, lo, hi = published
    ev = evidence(lo, hi)
    if ev is None or not is_number(did):
        return None
    return ev, _sign(did)


def differing_conclusion(primary: tuple[str, int], other: tuple[str, int]) -> str | None:
    """How another setting's conclusion differs from the primary analysis's: '<primary's evidence>_to_<its
    evidence>' when the 95% intervals say different things ('none_to_lower': the primary's includes 0, the
    setting's lies wholly below it), 'sign' when they agree but the estimates point opposite ways; None when the
    conclusion is the same."""
    if primary[0] != other[0]:
        return f"{primary[0]}_to_{other[0]}"
    if primary[1] * other[1] < 0:
        return "sign"
    return None


#: What a matching setting is made of (setting_parts), in the order the table and the readings name them.
SETTING_ATTRIBUTES = ("caliper", "ratio", "replacement")


def settings_pattern(group: list[dict[str, Any]], compared: list[dict[str, Any]]) -> dict[str, list[str]] | None:
    """What the settings of ``group`` have in common that no other setting of ``compared`` (the settings
    compared with the primary, ``group`` among them) has: ``{}`` when the group is all of them; else the values of
    one attribute, or of two (fewest first), that pick out exactly the group (``{"ratio": ["3", "5"]}``: every
    setting matching 3 or 5 patients per referred patient); None when nothing does, or for a single setting."""
    if len(group) < 2 or not all(r["known"] for r in group):
        return None
    if len(group) == len(compared):
        return {}
    for k in (1, 2):
        for attributes in combinations(SETTING_ATTRIBUTES, k):
            values = {a: list(dict.fromkeys(r[a] for r in group)) for a in attributes}
            picked = [r for r in compared if r["known"] and all(r[a] in values[a] for a in attributes)]
            if len(picked) == len(group):  # the group is among them, so they are the group
                return values
    return None


#: The order the readings of one cohort come in: the starkest difference first.
DIFFERENCE_ORDER = ("lower_to_higher", "higher_to_lower", "none_to_lower", "none_to_higher", "lower_to_none",
                    "higher_to_none", "sign")


def settings_readings(rows: list[dict[str, Any]], cohorts: list[str]) -> list[str]:
    """Under the sensitivity table, per cohort: each way in which other settings' conclusions on the headline
    measure differ from the primary analysis's (naming the settings and what it means), or that none does; from
    the published strings only. Nothing when there is no primary row."""
    primary = next((r for r in rows if r["primary"]), None)
    if primary is None:
        return []
    measure = dict(MEASURES)[HEADLINE_MEASURE]
    readings = []
    for i, c in enumerate(cohorts):
        label = COHORT_LABELS.get(c, c)
        shown = primary["cells"][i]["published"]
        mine = _conclusion(shown)
        if mine is None:
            others = [r for r in rows if r is not primary and _conclusion(r["cells"][i]["published"])]
            if others:
                readings.append(sentence(SENTENCES, "primary_withheld", cohort=label,
                                         suppressed=shown is not None and dc.SUPPRESSED in shown))
            continue
        groups: dict[str, list[dict[str, Any]]] = {}
        compared = []
        for r in rows:
            theirs = None if r is primary else _conclusion(r["cells"][i]["published"])
            if theirs is None:
                continue
            compared.append(r)
            kind = differing_conclusion(mine, theirs)
            if kind:
                did, lo, hi = r["cells"][i]["published"]
                groups.setdefault(kind, []).append({**r, "did": did, "lo": lo, "hi": hi})
        for kind in sorted(groups, key=DIFFERENCE_ORDER.index):
            group = groups[kind]
            pattern = settings_pattern(group, compared)
            estimates = sorted((g["did"] for g in group), key=float)
            readings.append(sentence(
                SENTENCES, "setting_differs", cohort=label, measure=measure, kind=kind,
                primary=dict(zip(("did", "lo", "hi"), shown)), settings=group, pattern=pattern,
                vary=[a for a in SETTING_ATTRIBUTES if pattern is not None and a not in pattern],
                estimates=(estimates[0], estimates[-1])))
        if compared and not groups:
            readings.append(sentence(SENTENCES, "settings_agree", cohort=label, measure=measure,
                                     evidence=mine[0]))
    return readings


def matched_comparison(tables: Mapping[str, pl.DataFrame],
                       naive_cells: Mapping[tuple[str, str, str], Mapping[str, str]],
                       parameters: Mapping[str, Any]) -> dict[str, Any] | None:
    """Everything the matched comparison section shows.

    None when no matching table was given at all (the report then has no such section);
    present-but-empty tables give "not available" text.
    """
    if all(table(tables, n) is None for n in MATCHING_TABLES):
        return None
    method = matching_method(parameters)
    est = primary_estimates(tables)
    cohorts = comparison_by_cohort(est["effects"], est["rate_ratios"], naive_cells)
    pub_bal = primary_balance(tables, est["sizes"])
    balance = balance_after_matching(tables, pub_bal)
    primary = plan_primary()
    computed = est["computed"]
    return {
        "method": method,
        "cohorts": cohorts,
        "primary": primary,
        "primary_label": dict(MEASURES).get(primary["measure"], humanise(primary["measure"])),
        # Which columns the effect tables have: the doubly robust estimate and the E-values only when
        # this run computed them; the rate-ratio table only when the rate ratios are there at all.
        "show": {"adjusted": computed["adjusted"], "e_values": computed["e_values"],
                 "rates": bool(cohorts and est["rate_ratios"])},
        "doubly_robust": (doubly_robust_check(est["rate_ratios"], primary)
                          if computed["adjusted"] else ""),
        "e_values": (e_value_readings(est["rate_ratios"], primary["measure"])
                     if computed["e_values"] else []),
        "adjusted": {k: {"did": r["did_adjusted"], "lo": r["did_adjusted_ci_low"],
                         "hi": r["did_adjusted_ci_high"],
                         "agreement": adjusted_agreement(r["did"], r["did_ci_low"], r["did_ci_high"],
                                                         r["did_adjusted"])}
                     for k, r in est["rate_ratios"].items()} if computed["adjusted"] else {},
        "has_effects": bool(cohorts),
        "has_comparison": any(c["status"] == "ok" for c in cohorts),
        "balance": balance,
        "love_svg": love_plot(pub_bal, balance["cohorts"]),
        "unmatched": unmatched_patients(tables, est["effects"], cohorts),
        "sensitivity": sensitivity_to_settings(tables, est["all_settings"], pub_bal),
        "effects": est["effects"],
        "headline": dict(MEASURES)[HEADLINE_MEASURE],
    }
