"""Render the publishable evaluation report (HTML + PDF) from the contract tables.

Every figure shown is produced by :mod:`speval.disclosure`: the unsuppressed tables are
turned into display strings first, and the summary sentences and the chart are built
from those published strings, never from the raw values. So are the cohort flow diagram
(:mod:`speval.report.flow`, inline SVG drawn in Python), the HES data-quality appendix and
the matched comparison: its love plot draws the published SMDs, the sensitivity table's
largest |SMD| comes from them (``publish_max_abs``), and its sentences compare the published
naive change with the published difference in differences and interval.

Output is reproducible: no clock is read (the PDF dates come from the reporting
quarter's end), chart ids are made deterministic, and WeasyPrint's PDF is byte-identical
for identical inputs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from speval import disclosure as dc
from speval.report import charts, flow

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "reports" / "templates"
TEMPLATE_NAME = "report.html.j2"
CSS_NAME = "report.css"

HTML_NAME = "evaluation_report.html"
PDF_NAME = "evaluation_report.pdf"

MEASURES = [
    ("inpatient_admissions", "In-patient admissions"),
    ("emergency_admissions", "Emergency admissions"),
    ("ae_attendances", "A&E attendances"),
    ("outpatient_appointments", "Outpatient appointments"),
]
COHORTS = [("12m", "12 month cohort", 12), ("6m", "6 month cohort", 6)]
WELLBEING_MEASURES = [
    ("feeling_positive", "Feeling positive"),
    ("lifestyle", "Lifestyle"),
    ("looking_after_yourself", "Looking after yourself"),
    ("managing_symptoms", "Managing symptoms"),
    ("work_volunteering_social", "Work, volunteering and social groups"),
    ("money", "Money"),
    ("where_you_live", "Where you live"),
    ("family_friends", "Family and friends"),
]
ATTRITION_LABELS = {
    "referred": "Referred to the programme by the end of the quarter",
    "linked": "Linked to hospital records (HES)",
    "pre_window_covered": "HES covers the whole period before referral",
    "post_window_covered": "HES covers the whole period after referral",
    "alive": "Alive throughout the period after referral",
    "registered": "Registered with a practice throughout both periods",
}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


# --------------------------------------------------------------------------- helpers


def _is_number(s: str) -> bool:
    return bool(_NUMBER.match(s))


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def long_date(value: Any) -> str:
    """``2013-12-31`` -> ``31 December 2013`` (locale-independent)."""
    d = _date(value)
    return "" if d is None else f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def quarter_words(quarter: str) -> str:
    """``2013Q4`` -> ``October to December 2013``."""
    m = re.fullmatch(r"(\d{4})Q([1-4])", quarter or "")
    if not m:
        return quarter or ""
    year, q = int(m.group(1)), int(m.group(2))
    return f"{MONTHS[3 * q - 3]} to {MONTHS[3 * q - 1]} {year}"


def _table(tables: Mapping[str, pl.DataFrame], name: str) -> pl.DataFrame | None:
    df = tables.get(name)
    return df if isinstance(df, pl.DataFrame) else None


def _signed(s: str) -> str:
    """Prefix a positive published number with '+' (changes read more clearly)."""
    if _is_number(s) and float(s) > 0:
        return "+" + s
    return s


def _change_words(pct: str) -> str:
    """A published % change as words: 'fell by 21%', 'rose by 4%', 'did not change'."""
    if not _is_number(pct):
        return ""
    v = float(pct)
    if v < 0:
        return f"fell by {pct.lstrip('-')}%"
    if v > 0:
        return f"rose by {pct}%"
    return "did not change"


_ACRONYMS = {"imd": "IMD", "ltc": "LTC", "ae": "A&E", "hes": "HES", "gp": "GP", "op": "OP",
             "mh": "MH", "lsoa": "LSOA"}
#: Matching covariates (CONTRACT §2, balance.csv) in report order, with readable labels.
MATCH_COVARIATES = [
    ("age", "Age"),
    ("female", "Sex (female)"),
    ("imd_decile", "Deprivation (IMD decile)"),
    ("ltc_count", "Long-term conditions"),
    ("risk_score", "Risk score"),
    *[(f"{m}_{w}m", f"{label}, last {w} months")
      for w in (12, 6)
      for m, label in (("emergency_admissions", "Emergency admissions"),
                       ("inpatient_admissions", "In-patient admissions"),
                       ("ae_attendances", "A&E attendances"),
                       ("outpatient_appointments", "Outpatient appointments"))],
]
COVARIATE_LABELS = {"sex": "Sex", **dict(MATCH_COVARIATES)}


def _humanise(name: str) -> str:
    words = [_ACRONYMS.get(w.lower(), w) for w in str(name).replace("_", " ").split()]
    s = " ".join(words)
    return s[:1].upper() + s[1:]


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
            return f"{label} ({_humanise(prefix).lower()})"
    return _humanise(name)


def _param_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_param_value(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _followup_window(parameters: Mapping[str, Any]) -> str | None:
    """Find the well-being follow-up window (days) among the run parameters, if named."""
    lo = hi = None
    for key, value in parameters.items():
        k = key.lower()
        if "follow" not in k:
            continue
        if isinstance(value, (list, tuple)) and len(value) == 2:
            lo, hi = value
        elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*[-–]\s*\d+\s*", value):
            lo, hi = re.split(r"[-–]", value)
        elif "min" in k or "from" in k or "start" in k or "low" in k:
            lo = value
        elif "max" in k or "to" in k.split("_") or "end" in k or "high" in k:
            hi = value
    if lo is None or hi is None:
        return None
    return f"{str(lo).strip()}–{str(hi).strip()} days"


# --------------------------------------------------------------------------- sections


def _hospital_section(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    df = _table(tables, "hospital_use")
    pub = dc.publish_hospital_use(df) if df is not None else None
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    if pub is not None:
        for r in pub.to_dicts():
            cells[(r["cohort"], r["group"], r["measure"])] = r

    def n_of(cohort: str, group: str) -> str | None:
        for m, _ in MEASURES:
            r = cells.get((cohort, group, m))
            if r is not None:
                return r["n_patients"]
        return None

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
                    "change": _signed(r["change"]) if r else "",
                    "pct": _signed(r["pct_change"]) if r else "",
                }
            rows.append(row)
        cohorts.append({
            "key": key, "label": label, "months": months, "mark": "ab"[i],
            "n_all": n_of(key, "all"), "n_funded": n_of(key, "funded"), "rows": rows,
        })

    # Chart: 12 month cohort, all patients, from the published numbers only.
    chart_svg, chart_note = None, None
    c12 = [cells.get(("12m", "all", m)) for m, _ in MEASURES]
    n12 = n_of("12m", "all")
    if n12 is None or not any(c12):
        chart_note = "No 12 month cohort figures are available, so there is no chart."
    elif n12 == "0":
        chart_note = "No patients were in the 12 month cohort, so there is no chart."
    elif n12 == dc.SUPPRESSED:
        chart_note = ("The 12 month cohort has fewer than 8 patients; its figures are "
                      "suppressed, so there is no chart.")
    else:
        labels, before, after, bt, at = [], [], [], [], []
        for (m, mlabel), r in zip(MEASURES, c12):
            if r is None or not (_is_number(r["mean_before"]) and _is_number(r["mean_after"])):
                continue
            labels.append(mlabel)
            before.append(float(r["mean_before"]))
            after.append(float(r["mean_after"]))
            bt.append(r["mean_before"])
            at.append(r["mean_after"])
        if labels:
            chart_svg = Markup(charts.before_after_bar(labels, before, after, bt, at,
                                                       prefix="chart1"))
        else:
            chart_note = "No 12 month cohort figures can be published, so there is no chart."
    return {"cohorts": cohorts, "chart_svg": chart_svg, "chart_note": chart_note,
            "cells": cells, "n_of": n_of}


def _wellbeing_section(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    df = _table(tables, "wellbeing")
    pub = dc.publish_wellbeing(df) if df is not None else None
    by_measure = {r["measure"]: r for r in pub.to_dicts()} if pub is not None else {}
    rows = []
    for m, label in WELLBEING_MEASURES:
        r = by_measure.pop(m, None)
        if r is None:
            continue
        rows.append({"label": label, **r})
    for m, r in by_measure.items():  # measures outside the contract list, if any
        rows.append({"label": _humanise(m), **r})
    return {"rows": rows}


def _attrition_section(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    df = _table(tables, "attrition")
    pub = dc.publish_attrition(df) if df is not None else None
    data: dict[tuple[str, str], dict[str, str]] = {}
    steps: list[str] = []
    if pub is not None:
        for r in pub.to_dicts():
            data[(r["cohort"], r["step"])] = r
            if r["step"] not in steps:
                steps.append(r["step"])
    order = {s: i for i, s in enumerate(dc.ATTRITION_STEPS)}
    steps.sort(key=lambda s: order.get(s, len(order)))
    cohort_keys = [k for k, _, _ in COHORTS if any(c == k for c, _ in data)]
    rows = []
    for s in steps:
        row = {"label": ATTRITION_LABELS.get(s, _humanise(s)), "cells": []}
        for k in cohort_keys:
            r = data.get((k, s))
            row["cells"].append({"n": r["n"] if r else "", "excluded": r["excluded"] if r else ""})
        rows.append(row)
    labels = {k: lab for k, lab, _ in COHORTS}
    return {"cohorts": [labels[k] for k in cohort_keys], "rows": rows, "data": data}


def _flow_texts(step: str, months: int, hes: Mapping[str, Any], quarter_end: str
                ) -> tuple[str, str]:
    """(box label, exclusion reason) of one attrition step in the cohort flow diagram."""
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
    return texts.get(step, (_humanise(step), "excluded at this step"))


def _flow_figure(att: dict[str, Any], hes: Mapping[str, Any], quarter_end: str) -> Markup | None:
    """Figure: the cohort flow diagram, from the published attrition strings only."""
    cohorts = []
    for key, label, months in COHORTS:
        steps = [s for s in dc.ATTRITION_STEPS if (key, s) in att["data"]]
        steps += sorted(s for c, s in att["data"] if c == key and s not in dc.ATTRITION_STEPS)
        if not steps:
            continue
        fsteps = []
        for i, s in enumerate(steps):
            r = att["data"][(key, s)]
            box, reason = _flow_texts(s, months, hes, quarter_end)
            fsteps.append(flow.FlowStep(label=box, n=r["n"],
                                        excluded=r["excluded"] if i else "",
                                        reason=reason if i else ""))
        cohorts.append(flow.FlowCohort(title=label.capitalize(), steps=fsteps,
                                       final_label=label.capitalize()))
    if not cohorts:
        return None
    return Markup(flow.cohort_flow_svg(cohorts, title="Cohort flow: people included and "
                                                      "excluded at each step, by cohort"))


HES_FILE_LABELS = {
    "persons": "People (linked population)",
    "apc": "Admitted patient care episodes",
    "ae": "A&E attendances",
    "op": "Outpatient appointments",
}
HES_RECORD_KEYS = {"persons": "TOKEN_PERSON_ID", "apc": "EPIKEY", "ae": "AEKEY", "op": "ATTENDKEY"}
#: Columns where a blank is expected by the contract (CONTRACT.md §1.1).
EXPECTED_BLANK = {
    "REGISTERED_TO": "blank = still registered",
    "DATE_OF_DEATH": "blank = alive",
}
_SHORT_MONTHS = [m[:3] for m in MONTHS]


def short_date(value: Any) -> str:
    """``2013-09-30`` -> ``30 Sep 2013`` (for narrow table columns)."""
    d = _date(value)
    return "" if d is None else f"{d.day} {_SHORT_MONTHS[d.month - 1]} {d.year}"


def _file_kind(file: str) -> str:
    """``hes/2013Q4/apc.csv`` -> ``apc``."""
    return file.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()


def _file_order(file: str) -> tuple[int, str]:
    kinds = list(HES_FILE_LABELS)
    k = _file_kind(file)
    return (kinds.index(k) if k in kinds else len(kinds), file)


def _hes_quality(tables: Mapping[str, pl.DataFrame], hes: Mapping[str, Any],
                 previous_hes: Any) -> dict[str, Any]:
    """Appendix: HES data quality of the delivery in use, all counts disclosure-controlled."""
    fq = _table(tables, "hes_file_quality")
    miss = _table(tables, "hes_missingness")
    files: list[dict[str, Any]] = []
    delivery = str(hes.get("key") or "")
    previous = str(previous_hes) if previous_hes else ""
    if fq is not None and fq.height:
        pub = sorted(dc.publish_hes_file_quality(fq).to_dicts(), key=lambda r: _file_order(r["file"]))
        for r in pub:
            kind = _file_kind(r["file"])
            files.append({**r, "name": r["file"].rsplit("/", 1)[-1],
                          "label": HES_FILE_LABELS.get(kind, ""),
                          "key": HES_RECORD_KEYS.get(kind, ""),
                          "first": short_date(r["first_date"]), "last": short_date(r["last_date"])})
        delivery = delivery or next((r["delivery"] for r in pub if r["delivery"]), "")
        if not previous:
            previous = next((r["previous_delivery"] for r in pub if r["previous_delivery"]), "")
    missing: list[dict[str, Any]] = []
    columns_checked = 0
    if miss is not None and miss.height:
        columns_checked = miss.height
        has_missing = miss.filter(
            (pl.col("rows_missing").fill_null(0) > 0) | (pl.col("pct_missing").fill_null(0) > 0))
        rows = sorted(dc.publish_hes_missingness(has_missing).to_dicts(),
                      key=lambda r: _file_order(r["file"]))  # stable: column order kept
        for i, r in enumerate(rows):
            missing.append({**r, "name": r["file"].rsplit("/", 1)[-1],
                            "group_start": i > 0 and rows[i - 1]["file"] != r["file"],
                            "note": EXPECTED_BLANK.get(r["column_name"].upper(), "")})
    folders = {str(f["file"]).rsplit("/", 1)[0] for f in files if "/" in str(f["file"])}
    folders |= {str(r["file"]).rsplit("/", 1)[0] for r in missing if "/" in str(r["file"])}
    return {"available": bool(files), "files": files, "delivery": delivery,
            "folder": f"{folders.pop()}/" if len(folders) == 1 else "",
            "previous": previous, "missingness_available": columns_checked > 0,
            "missing": missing}


def _provider_sheets_grouped(file: pl.Expr) -> pl.Expr:
    """`provider_returns/2013Q1/VCS01.xlsx#Activity` → `provider_returns/2013Q1/*.xlsx#Activity`: the report
    summarises one quarter's workbooks per sheet; the per-file detail is in reconciliation.csv."""
    return file.str.replace(r"^(provider_returns/[^/]+/)[^/]+\.xlsx#", "${1}*.xlsx#")


def _appendix_a(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    rec = _table(tables, "reconciliation")
    q = _table(tables, "quarantine")
    if rec is not None and rec.height:
        counts = ["rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate"]
        rec = (rec.with_columns(_provider_sheets_grouped(pl.col("file")).alias("file"))
               .group_by("source", "file", maintain_order=True).agg(pl.col(c).sum() for c in counts))
    if q is not None and q.height:
        q = q.with_columns(_provider_sheets_grouped(pl.col("file")).alias("file"))
    rec_rows = dc.publish_reconciliation(rec).to_dicts() if rec is not None else []
    q_rows = dc.publish_quarantine(q).to_dicts() if q is not None else []
    return {"reconciliation": rec_rows, "quarantine": q_rows}


# --------------------------------------------------------------------------- matched comparison


#: Tables of the matched comparison (CONTRACT §3 and the report-only tables of every setting).
MATCHING_TABLES = ("matched_effects", "balance", "matched_effects_all_settings",
                   "balance_all_settings", "unmatched_treated")
PRIMARY_SETTING = "primary"
#: The measure the per-cohort interpretation and the sensitivity table are about.
HEADLINE_MEASURE = "emergency_admissions"
UNMATCHED_LABELS = {
    "no candidates in stratum": "No candidate in the same referral month",
    "no candidate within caliper": "No candidate close enough (outside the caliper)",
    "candidates used up": "Close candidates already matched to others",
}
_SETTING_NAME = re.compile(
    r"caliper\s+(?P<cal>[0-9.]+|inf)\s*SD,\s*(?P<k>\d+)\s*:\s*1,\s*(?P<rep>with|without)\s+replacement",
    re.I)


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
    """The primary matching settings from the run parameters, as words (None when absent)."""
    caliper = _number_text(parameters.get("matching_caliper_sd"))
    ratio = _number_text(parameters.get("matching_ratio"))
    replace = _flag(parameters.get("matching_with_replacement"))
    boot = _number_text(parameters.get("bootstrap_replicates"))
    seed = _number_text(parameters.get("seed"))
    return {"caliper": caliper, "ratio": ratio, "replace": replace,
            "replicates": f"{int(boot):,}" if boot and boot.isdigit() else boot,
            "seed": seed}


def _setting_parts(name: str, method: Mapping[str, Any]) -> dict[str, Any]:
    """Caliper / ratio / replacement of a setting name such as
    ``caliper 0.2 SD, 3:1, without replacement``; the primary one from the run parameters."""
    if name == PRIMARY_SETTING:
        cal, k, rep = method.get("caliper"), method.get("ratio"), method.get("replace")
        known = cal is not None and k is not None and rep is not None
        return {"primary": True, "known": known, "caliper": cal or "", "ratio": k or "",
                "replacement": "" if rep is None else ("with" if rep else "without"),
                "key": (0, 0.0, 0, 0, name)}
    m = _SETTING_NAME.search(name)
    if not m:
        return {"primary": False, "known": False, "caliper": "", "ratio": "", "replacement": "",
                "key": (2, 0.0, 0, 0, name)}
    cal = m.group("cal")
    rep = m.group("rep").lower()
    return {"primary": False, "known": True, "caliper": f"{float(cal):g}", "ratio": m.group("k"),
            "replacement": rep,
            "key": (1, float(cal), int(m.group("k")), rep == "with", name)}


def _interval(lo: str, hi: str) -> str:
    """A published interval as ``lo to hi``; ``*`` when suppressed; blank otherwise."""
    if _is_number(lo) and _is_number(hi):
        return f"{lo} to {hi}"
    if dc.SUPPRESSED in (lo, hi):
        return dc.SUPPRESSED
    return ""


def _evidence(lo: str, hi: str) -> str | None:
    """'lower' / 'higher' when a published 95% interval lies wholly below / above zero,
    'none' when it includes zero (a bound published as 0.00 counts as including it)."""
    if not (_is_number(lo) and _is_number(hi)):
        return None
    if float(hi) < 0:
        return "lower"
    if float(lo) > 0:
        return "higher"
    return "none"


def _abs_stat(s: str) -> float | None:
    """|value| of a published statistic: a number, ``inf`` for ``∞``, None otherwise."""
    if _is_number(s):
        return abs(float(s))
    if s.lstrip("-") == dc.INFINITE:
        return math.inf
    return None


def _cohort_status(n_treated: str, n_controls: str) -> str:
    """'ok', 'small' (1-7 in a matched group: estimates suppressed) or 'none' (no one matched)."""
    if dc.SUPPRESSED in (n_treated, n_controls):
        return "small"
    if not (_is_number(n_treated) and _is_number(n_controls)) or "0" in (n_treated, n_controls):
        return "none"
    return "ok"


def _in_sentence(label: str) -> str:
    """A label for use mid-sentence: first letter lower-cased unless it starts an acronym
    ('Emergency admissions' -> 'emergency admissions', 'A&E attendances' unchanged)."""
    first = label.split(" ", 1)[0]
    if sum(ch.isupper() for ch in first) > 1 or "&" in first:
        return label
    return label[:1].lower() + label[1:]


def interpret_matched(cohort_label: str, measure_label: str, naive: str, did: str, lo: str,
                      hi: str) -> str:
    """One plain sentence comparing the naive before/after change with the matched
    difference in differences, from the published strings only."""
    m = _in_sentence(measure_label)
    head = f"{cohort_label.capitalize()}, {m}: "
    if did == dc.SUPPRESSED:
        return head + ("fewer than 8 patients were matched, so the matched estimate is "
                       "suppressed.")
    if not _is_number(did):
        return head + "there is no matched estimate."
    d = float(did)
    if _is_number(naive):
        c = float(naive)
        if c < 0:
            if d < 0 and abs(d) < abs(c):
                comp = (f"the matched estimate ({_signed(did)} per patient) is smaller than the "
                        f"naive fall ({naive}): part of the fall would have happened anyway")
            elif d >= 0:
                comp = (f"the matched group fell at least as much, so the naive fall ({naive}) "
                        f"would have happened anyway (matched estimate {_signed(did)})")
            else:
                comp = (f"the matched estimate ({did} per patient) is at least as large as the "
                        f"naive fall ({naive})")
        elif c > 0:
            if 0 < d < c:
                comp = (f"the matched estimate ({_signed(did)} per patient) is smaller than the "
                        f"naive rise ({_signed(naive)}): part of the rise would have happened anyway")
            elif d <= 0:
                comp = (f"the matched group rose at least as much, so the naive rise "
                        f"({_signed(naive)}) would have happened anyway (matched estimate "
                        f"{_signed(did)})")
            else:
                comp = (f"the matched estimate ({_signed(did)} per patient) is at least as large "
                        f"as the naive rise ({_signed(naive)})")
        else:
            comp = f"there was no naive change, and the matched estimate is {_signed(did)} per patient"
    else:
        comp = f"the matched estimate is {_signed(did)} per patient"
    ev = _evidence(lo, hi)
    if ev == "none":
        tail = (f"; its 95% interval ({lo} to {hi}) includes zero, so there is no clear "
                "evidence of a change due to referral.")
    elif ev == "lower":
        tail = (f"; its 95% interval ({lo} to {hi}) is below zero: evidence of fewer {m} "
                "than without referral.")
    elif ev == "higher":
        tail = (f"; its 95% interval ({lo} to {hi}) is above zero: evidence of more {m} "
                "than without referral.")
    else:
        tail = "."
    return head + comp + tail


def _other_measures_sentence(effects: Mapping[tuple[str, str], Mapping[str, str]], cohort: str
                             ) -> str:
    """Which other measures' 95% intervals exclude zero (published intervals only)."""
    clear, unclear = [], 0
    for m, label in MEASURES:
        r = effects.get((cohort, m))
        if m == HEADLINE_MEASURE or r is None:
            continue
        ev = _evidence(r["did_ci_low"], r["did_ci_high"])
        if ev in ("lower", "higher"):
            clear.append(f"{_in_sentence(label)} ({'fewer' if ev == 'lower' else 'more'})")
        elif ev == "none":
            unclear += 1
    if clear:
        return ("For the other measures, the 95% interval excludes zero only for "
                + " and ".join(clear) + ".")
    if unclear:
        return "For the other measures, every 95% interval includes zero."
    return ""


def _matched_section(tables: Mapping[str, pl.DataFrame], hosp: Mapping[str, Any],
                     parameters: Mapping[str, Any]) -> dict[str, Any] | None:
    """Comparison with a matched group: every figure from :mod:`speval.disclosure` strings.

    None when no matching table was given at all (the report then has no such section);
    present-but-empty tables give "not available" text.
    """
    if all(_table(tables, n) is None for n in MATCHING_TABLES):
        return None
    method = matching_method(parameters)
    me = _table(tables, "matched_effects")
    me_all = _table(tables, "matched_effects_all_settings")
    bal = _table(tables, "balance")
    bal_all = _table(tables, "balance_all_settings")
    un = _table(tables, "unmatched_treated")
    clabels = {k: lab for k, lab, _ in COHORTS}
    mlabels = dict(MEASURES)

    pub_all = (dc.publish_matched_effects_all_settings(me_all).to_dicts()
               if me_all is not None else [])
    all_primary = [r for r in pub_all if r["setting"] == PRIMARY_SETTING]
    if me is not None and me.height:
        primary = dc.publish_matched_effects(me).to_dicts()
        sizes_primary: pl.DataFrame = me
    else:
        primary = all_primary
        sizes_primary = (me_all.filter(pl.col("setting") == PRIMARY_SETTING)
                         if me_all is not None and me_all.height else pl.DataFrame())
    effects = {(r["cohort"], r["measure"]): r for r in primary}
    rr = {(r["cohort"], r["measure"]): r for r in all_primary}

    # Cohorts (12 then 6 months, then any others) with their published group sizes.
    corder = {k: i for i, (k, _, _) in enumerate(COHORTS)}
    morder = {m: i for i, (m, _) in enumerate(MEASURES)}
    cohort_keys = sorted({c for c, _ in effects}, key=lambda c: (corder.get(c, 9), c))
    cohorts = []
    for c in cohort_keys:
        rows = sorted((r for (cc, _), r in effects.items() if cc == c),
                      key=lambda r: (morder.get(r["measure"], 9), r["measure"]))
        first = next((r for r in rows if r["measure"] == HEADLINE_MEASURE), rows[0])
        status = _cohort_status(first["n_treated"], first["n_controls"])
        compare, means = [], []
        for r in rows:
            label = mlabels.get(r["measure"], _humanise(r["measure"]))
            naive = hosp["cells"].get((c, "all", r["measure"]))
            q = rr.get((c, r["measure"]))
            compare.append({
                "label": label,
                "naive": _signed(naive["change"]) if naive else "",
                "naive_pct": _signed(naive["pct_change"]) if naive else "",
                "did": _signed(r["did"]), "ci": _interval(r["did_ci_low"], r["did_ci_high"]),
                "rr": q["rate_ratio"] if q else "",
                "rr_ci": _interval(q["rr_ci_low"], q["rr_ci_high"]) if q else "",
                "n_treated": r["n_treated"], "n_controls": r["n_controls"],
            })
            means.append({"label": label, "treated_before": r["treated_before"],
                          "treated_after": r["treated_after"],
                          "control_before": r["control_before"],
                          "control_after": r["control_after"]})
        naive_h = hosp["cells"].get((c, "all", first["measure"]))
        sentence = interpret_matched(
            clabels.get(c, c), mlabels.get(first["measure"], _humanise(first["measure"])),
            naive_h["change"] if naive_h else "", first["did"], first["did_ci_low"],
            first["did_ci_high"])
        other = _other_measures_sentence(effects, c) if status == "ok" else ""
        cohorts.append({"key": c, "label": clabels.get(c, c), "status": status,
                        "n_treated": first["n_treated"], "n_controls": first["n_controls"],
                        "compare": compare, "means": means,
                        "sentence": sentence + (" " + other if other else "")})

    # Balance of the primary setting: whole cohort suppressed when a matched group is 1-7.
    if bal is not None and bal.height:
        pub_bal = dc.publish_balance(bal, sizes_primary).to_dicts()
    elif bal_all is not None and bal_all.height:
        pub_bal = [r for r in dc.publish_balance_all_settings(bal_all, me_all).to_dicts()
                   if r["setting"] == PRIMARY_SETTING]
    else:
        pub_bal = []
    covorder = {k: i for i, (k, _) in enumerate(MATCH_COVARIATES)}
    covariates = sorted({r["covariate"] for r in pub_bal},
                        key=lambda k: (covorder.get(k, len(covorder)), k))
    by_cohort: dict[str, dict[str, dict[str, str]]] = {}
    for r in pub_bal:
        by_cohort.setdefault(r["cohort"], {})[r["covariate"]] = r
    bal_cohorts = []
    for c in sorted(by_cohort, key=lambda c: (corder.get(c, 9), c)):
        vals = [v for r in by_cohort[c].values() for v in (r["smd_before"], r["smd_after"])]
        if any(v == dc.SUPPRESSED for v in vals):
            status = "small"
        elif all(_abs_stat(v) is None for v in vals):
            status = "none"
        else:
            status = "ok"
        bal_cohorts.append({"key": c, "label": clabels.get(c, c), "status": status})
    shown = [b for b in bal_cohorts if b["status"] == "ok"]
    variance_ratios = {}  # (cohort, covariate) -> published variance ratio after matching (primary setting)
    if bal_all is not None and bal_all.height:
        variance_ratios = {(r["cohort"], r["covariate"]): r["variance_ratio_after"]
                           for r in dc.publish_balance_all_settings(bal_all, me_all).to_dicts()
                           if r["setting"] == PRIMARY_SETTING}
    balance_rows = []
    for cov in covariates:
        cells = []
        for b in shown:
            r = by_cohort[b["key"]].get(cov)
            cells.append({"before": r["smd_before"] if r else "", "after": r["smd_after"] if r else "",
                          "vr": variance_ratios.get((b["key"], cov), "")})
        balance_rows.append({"label": covariate_label(cov), "cells": cells})
    balance_summary = []
    for b in shown:
        high, history = [], False
        for cov in covariates:
            r = by_cohort[b["key"]].get(cov)
            if r and (_abs_stat(r["smd_after"]) or 0.0) >= 0.1:
                history = history or bool(re.search(r"_\d+m$", cov))
                high.append(f"{_in_sentence(covariate_label(cov))} ({r['smd_after']})")
        if not high:
            balance_summary.append(f"{b['label'].capitalize()}: after matching, every characteristic "
                                   "has an absolute SMD below 0.1.")
        else:
            listed = high[0] if len(high) == 1 else ", ".join(high[:-1]) + " and " + high[-1]
            n = "one characteristic still has" if len(high) == 1 else \
                f"{len(high)} characteristics still have"
            balance_summary.append(
                f"{b['label'].capitalize()}: after matching, {n} an absolute SMD of 0.1 or more: "
                f"{listed}. "
                + ("Remaining differences in earlier hospital use can bias the difference in "
                   "differences through regression to the mean." if history else
                   "Remaining differences can bias the difference in differences."))
    balance_notes = [
        f"{b['label'].capitalize()}: not shown, because fewer than 8 patients were matched."
        if b["status"] == "small" else
        f"{b['label'].capitalize()}: not shown, because no patients were matched."
        for b in bal_cohorts if b["status"] != "ok"]

    love_svg = None
    if shown and covariates:
        panels = []
        for b in shown:
            before, after = [], []
            for cov in covariates:
                r = by_cohort[b["key"]].get(cov)
                before.append(float(r["smd_before"]) if r and _is_number(r["smd_before"]) else None)
                after.append(float(r["smd_after"]) if r and _is_number(r["smd_after"]) else None)
            panels.append((b["label"].capitalize(), before, after))
        love_svg = Markup(charts.love_plot([covariate_label(c) for c in covariates], panels,
                                           prefix="love", row_height=17))

    # Referred patients left unmatched (primary setting), by reason.
    unmatched = None
    if un is not None:
        pub_un = [r for r in dc.publish_unmatched_treated(un).to_dicts()
                  if r["setting"] == PRIMARY_SETTING]
        ucells = {(r["cohort"], r["reason"]): r["n"] for r in pub_un}
        ukeys = sorted({r["cohort"] for r in pub_un} | set(cohort_keys),
                       key=lambda c: (corder.get(c, 9), c))
        reasons = list(dc.UNMATCHED_REASONS) + sorted(
            {r["reason"] for r in pub_un} - set(dc.UNMATCHED_REASONS) - {dc.UNMATCHED_TOTAL})
        if pub_un or effects:
            matched_n = {c["key"]: c["n_treated"] for c in cohorts}
            rows = [{"label": "Matched", "cells": [matched_n.get(c, "") for c in ukeys],
                     "kind": "matched"}]
            for reason in reasons:
                rows.append({"label": UNMATCHED_LABELS.get(reason, reason.capitalize()),
                             "cells": [ucells.get((c, reason), "0") for c in ukeys],
                             "kind": "reason"})
            rows.append({"label": "Not matched, all reasons",
                         "cells": [ucells.get((c, dc.UNMATCHED_TOTAL), "0") for c in ukeys],
                         "kind": "total"})
            unmatched = {"cohorts": [clabels.get(c, c) for c in ukeys], "rows": rows}

    # Sensitivity of the headline estimate to the matching settings.
    sensitivity = None
    if pub_all:
        pub_bal_all = (dc.publish_balance_all_settings(bal_all, me_all).to_dicts()
                       if bal_all is not None else [])
        smd_after: dict[tuple[str, str], list[str]] = {}
        for r in pub_bal_all:
            smd_after.setdefault((r["setting"], r["cohort"]), []).append(r["smd_after"])
        if not pub_bal_all:  # primary balance only
            for r in pub_bal:
                smd_after.setdefault((PRIMARY_SETTING, r["cohort"]), []).append(r["smd_after"])
        settings = sorted({r["setting"] for r in pub_all},
                          key=lambda n: _setting_parts(n, method)["key"])
        s_cohorts = sorted({r["cohort"] for r in pub_all}, key=lambda c: (corder.get(c, 9), c))
        head = {(r["setting"], r["cohort"]): r for r in pub_all if r["measure"] == HEADLINE_MEASURE}
        anyrow = {}
        for r in pub_all:
            anyrow.setdefault((r["setting"], r["cohort"]), r)
        rows = []
        for name in settings:
            parts = _setting_parts(name, method)
            cells = []
            for c in s_cohorts:
                h = head.get((name, c))
                n = (h or anyrow.get((name, c)) or {}).get("n_treated", "")
                did, ci = "", ""
                if h:
                    did = _signed(h["did"])
                    ci = _interval(h["did_ci_low"], h["did_ci_high"])
                cells.append({"n": n, "smd": dc.publish_max_abs(smd_after.get((name, c), [])),
                              "did": did, "ci": ci})
            rows.append({**parts, "name": name, "cells": cells})
        sensitivity = {"cohorts": [clabels.get(c, c) for c in s_cohorts], "rows": rows}

    return {
        "method": method,
        "cohorts": cohorts,
        "has_effects": bool(cohorts),
        "has_comparison": any(c["status"] == "ok" for c in cohorts),
        "balance": {"cohorts": shown, "rows": balance_rows, "notes": balance_notes,
                    "summary": balance_summary, "available": bool(pub_bal),
                    "has_infinite": any(_abs_stat(c[k]) == math.inf for r in balance_rows
                                        for c in r["cells"] for k in ("before", "after"))},
        "love_svg": love_svg,
        "unmatched": unmatched,
        "sensitivity": sensitivity,
        "effects": effects,
        "headline": mlabels[HEADLINE_MEASURE],
    }


_EVIDENCE_WORDS = {"none": "no clear evidence of a change",
                   "lower": "fewer than expected without referral",
                   "higher": "more than expected without referral"}


def _matched_summary_parts(matched: Mapping[str, Any] | None, measure: str) -> tuple[list[str], bool]:
    """Summary clauses for one measure's matched estimates (published strings only), and
    whether any estimate could be published."""
    if not matched:
        return [], False
    parts, any_number = [], False
    for key, label, months in COHORTS:
        e = matched["effects"].get((key, measure))
        if e is None:
            continue
        lo, hi = e["did_ci_low"], e["did_ci_high"]
        if _is_number(e["did"]):
            ev = _evidence(lo, hi)
            ci = f" (95% interval {lo} to {hi}: {_EVIDENCE_WORDS[ev]})" if ev else ""
            unit = "" if any_number else " per patient"
            parts.append(f"{_signed(e['did'])}{unit} in the {label}{ci}")
            any_number = True
        elif e["did"] == dc.SUPPRESSED:
            parts.append(f"suppressed in the {label} (fewer than 8 patients matched)")
    return parts, any_number


def _summary(hosp: dict[str, Any], wb: dict[str, Any], att: dict[str, Any],
             meta: Mapping[str, Any], matched: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Key figures in plain words, built only from published strings.

    Hospital-use points lead with the matched difference in differences when it can be
    published, and give the naive before-and-after change after it."""
    points: list[str] = []
    referred = att["data"].get(("12m", "referred")) or att["data"].get(("6m", "referred"))
    qend = long_date(meta.get("quarter_end"))
    if referred is not None:
        n = referred["n"]
        if n == dc.SUPPRESSED:
            points.append(f"Fewer than 8 people had been referred to the programme by {qend}.")
        else:
            points.append(f"About {n} people had been referred to the programme by {qend}.")

    n_of = hosp["n_of"]
    cohort_bits = []
    for key, label, months in COHORTS:
        n = n_of(key, "all")
        if n is None:
            continue
        if n == dc.SUPPRESSED:
            cohort_bits.append(f"fewer than 8 patients over {months} months")
        else:
            cohort_bits.append(f"{'about ' if n != '0' else ''}{n} patients over {months} months")
    if cohort_bits:
        points.append("Hospital use before and after referral could be compared for "
                      + " and ".join(cohort_bits) + ".")

    cells = hosp["cells"]
    measure_points = []
    for m, mlabel in MEASURES:
        parts, short = [], []
        for key, label, months in COHORTS:
            r = cells.get((key, "all", m))
            if r is None:
                continue
            words = _change_words(r["pct_change"])
            if words and _is_number(r["mean_before"]) and _is_number(r["mean_after"]):
                parts.append(f"{words} in the {label} (from {r['mean_before']} to "
                             f"{r['mean_after']} per patient)")
                short.append(f"{words} in the {label}")
        mparts, any_matched = _matched_summary_parts(matched, m)
        if any_matched:
            sentence = (f"{mlabel}, compared with the matched group: " + " and ".join(mparts)
                        + ".")
            if short:
                sentence += (" Before and after referral alone, without a comparison, they "
                             + " and ".join(short) + ".")
            measure_points.append(sentence)
            continue
        if not parts:
            continue
        sentence = f"{mlabel} " + "; and ".join(parts) + "."
        funded_parts = []
        for key, label, months in COHORTS:
            funded = cells.get((key, "funded", m))
            fw = _change_words(funded["pct_change"]) if funded is not None else ""
            if fw:
                funded_parts.append(f"{fw} in the {label}")
        if funded_parts:
            sentence += (" Among patients referred to a funded provider they "
                         + " and ".join(funded_parts) + ".")
        measure_points.append(sentence)
    if not measure_points and cohort_bits:
        measure_points.append("Per-patient figures cannot be published because the groups "
                              "are too small or empty.")

    wb_points = []
    rows = wb["rows"]
    if rows:
        fns = [r["followup_n"] for r in rows]
        nums = sorted({int(x) for x in fns if _is_number(x)})
        if nums:
            span = f"about {nums[0]}" if len(nums) == 1 else f"between about {nums[0]} and {nums[-1]}"
            wb_points.append(f"{span[0].upper()}{span[1:]} patients had a well-being review "
                             "at follow-up (depending on the outcome area).")
        elif all(x == dc.SUPPRESSED for x in fns):
            wb_points.append("Fewer than 8 patients had a well-being review at follow-up, "
                             "so those results are suppressed.")
        prog = [(float(r["progress_pct"]), r["progress_pct"], r["label"])
                for r in rows if _is_number(r["progress_pct"])]
        if prog:
            lo = min(prog, key=lambda t: t[0])
            hi = max(prog, key=lambda t: t[0])
            if lo is hi or lo[0] == hi[0]:
                wb_points.append(f"{hi[1]}% of them made progress in each outcome area.")
            else:
                wb_points.append(f"The share making progress ranged from {lo[1]}% "
                                 f"({lo[2].lower()}) to {hi[1]}% ({hi[2].lower()}).")
    if not (points or measure_points or wb_points):
        points.append("No results are available for this quarter: the analysis tables "
                      "behind this report are empty.")
    return {"points": points, "measure_points": measure_points, "wb_points": wb_points}


# --------------------------------------------------------------------------- main


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = lambda s: "–" if s in (None, "") else s
    return env


def build_context(tables: Mapping[str, pl.DataFrame], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, all figures already disclosure-controlled."""
    programme = str(meta.get("programme", ""))
    programme_name = str(meta.get("programme_name") or programme)
    quarter = str(meta.get("quarter", ""))
    quarter_end = _date(meta.get("quarter_end"))
    deliveries = dict(meta.get("deliveries") or {})
    hes = dict(deliveries.get("hes") or {})
    outcome_tool = dict(deliveries.get("outcome_tool") or {})
    provider_returns = list(deliveries.get("provider_returns") or [])
    parameters = dict(meta.get("parameters") or {})

    stamp_date = quarter_end or _date(hes.get("cutoff"))
    stamp = f"{stamp_date.isoformat()}T00:00:00Z" if stamp_date else None

    hosp = _hospital_section(tables)
    wb = _wellbeing_section(tables)
    att = _attrition_section(tables)
    matched = _matched_section(tables, hosp, parameters)
    flow_svg = _flow_figure(att, hes, long_date(quarter_end))
    # Figures and tables are numbered in order of appearance, counting only those shown.
    shown_figures = [("chart", hosp["chart_svg"] is not None),
                     ("love", bool(matched and matched["love_svg"])),
                     ("flow", flow_svg is not None)]
    figures: dict[str, int | None] = {}
    for key, shown in shown_figures:
        figures[key] = len([v for v in figures.values() if v]) + 1 if shown else None
    shown_tables = [
        ("hospital", bool(hosp["cohorts"])),
        ("compare", bool(matched and matched["cohorts"])),
        ("means", bool(matched and matched["cohorts"])),
        ("balance", bool(matched and matched["balance"]["cohorts"])),
        ("unmatched", bool(matched and matched["unmatched"])),
        ("sensitivity", bool(matched and matched["sensitivity"])),
        ("wellbeing", bool(wb["rows"])),
        ("attrition", bool(att["rows"])),
    ]
    table_no: dict[str, int | None] = {}
    for key, shown in shown_tables:
        table_no[key] = len([v for v in table_no.values() if v]) + 1 if shown else None

    sections = [("summary", "Summary"),
                ("hospital", "Hospital use before and after referral")]
    if matched is not None:
        sections.append(("matched", "Comparison with a matched group"))
    sections += [("wellbeing", "Well-being"), ("included", "Who was included"),
                 ("caveats", "Caveats")]
    numbered = [{"id": sid, "title": title, "number": str(i + 1), "appendix": False}
                for i, (sid, title) in enumerate(sections)]
    appendices = [("appendix-a", "Data and validation"), ("appendix-hes", "HES data quality"),
                  ("appendix-b", "Provenance")]
    numbered += [{"id": sid, "title": title, "number": f"Appendix {'ABCDEFGH'[i]}",
                  "appendix": True} for i, (sid, title) in enumerate(appendices)]
    num = {s["id"]: s["number"] for s in numbered}

    input_files, provider_folders = [], {}
    for f in meta.get("input_files") or []:
        name = str(f.get("file", ""))
        if name.startswith("provider_returns/"):  # one line per quarter's folder; sha256s in run_manifest.json
            folder = name.rsplit("/", 1)[0]
            provider_folders[folder] = provider_folders.get(folder, 0) + 1
        else:
            input_files.append({"file": name, "sha": str(f.get("sha256", ""))[:12]})
    input_files += [{"file": f"{folder}/ ({n} workbooks)", "sha": "see run_manifest.json"}
                    for folder, n in provider_folders.items()]

    return {
        "title": "Evaluation of social prescribing",
        "programme": programme,
        "programme_name": programme_name,
        "quarter": quarter,
        "quarter_words": quarter_words(quarter),
        "quarter_end": long_date(quarter_end),
        "stamp": stamp,
        "runhead": f"{programme_name} ({programme}) · {quarter}",
        "marking": f"Official – disclosure-controlled: {dc.RULE_TEXT}",
        "hes": {"key": hes.get("key", ""), "coverage_start": long_date(hes.get("coverage_start")),
                "cutoff": long_date(hes.get("cutoff")),
                "extracted_on": long_date(hes.get("extracted_on"))},
        "outcome_tool": {"key": outcome_tool.get("key", "")},
        "provider_returns": provider_returns,
        "parameters": [{"key": str(k), "value": _param_value(v)} for k, v in parameters.items()],
        "followup_window": _followup_window(parameters),
        "code_version": str(meta.get("code_version", "")),
        "input_files": input_files,
        "files_not_read": [{"file": str(f["file"]), "reason": str(f["reason"])} for f in meta.get("files_not_read") or []],
        "sections": numbered,
        "num": num,
        "hosp": hosp,
        "wb": wb,
        "att": att,
        "matched": matched,
        "summary": _summary(hosp, wb, att, meta, matched),
        "appendix_a": _appendix_a(tables),
        "hes_quality": _hes_quality(tables, hes, deliveries.get("previous_hes")),
        "flow_svg": flow_svg,
        "figures": figures,
        "tabno": table_no,
        "suppressed": dc.SUPPRESSED,
    }


def render_html(context: Mapping[str, Any]) -> str:
    env = _environment()
    css = (TEMPLATE_DIR / CSS_NAME).read_text(encoding="utf-8")
    return env.get_template(TEMPLATE_NAME).render(**context, css=Markup(css))


def write_pdf(html: str, pdf_path: Path) -> None:
    from weasyprint import HTML  # heavy import, only when rendering

    HTML(string=html, base_url=str(TEMPLATE_DIR)).write_pdf(str(pdf_path))


def render_report(tables: dict[str, pl.DataFrame], meta: dict,
                  out_dir: Path) -> dict[str, Path]:
    """Write ``evaluation_report.html`` and ``evaluation_report.pdf`` into ``out_dir``.

    ``tables`` holds the unsuppressed contract tables (CONTRACT.md §3); only their
    disclosure-controlled form is rendered. Returns ``{"html": path, "pdf": path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(build_context(tables, meta))
    html_path = out_dir / HTML_NAME
    pdf_path = out_dir / PDF_NAME
    html_path.write_bytes(html.encode("utf-8"))
    write_pdf(html, pdf_path)
    return {"html": html_path, "pdf": pdf_path}
