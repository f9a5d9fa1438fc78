"""Render the publishable evaluation report (HTML + PDF) from the contract tables.

Every figure shown is produced by :mod:`speval.disclosure`: the unsuppressed tables are
turned into display strings first, and the summary sentences and the chart are built
from those published strings, never from the raw values. So are the cohort flow diagram
(:mod:`speval.report.flow`, inline SVG drawn in Python) and the HES data-quality appendix.

Output is reproducible: no clock is read (the PDF dates come from the reporting
quarter's end), chart ids are made deterministic, and WeasyPrint's PDF is byte-identical
for identical inputs.
"""

from __future__ import annotations

import datetime as dt
import json
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
COVARIATE_LABELS = {
    "age": "Age",
    "sex": "Sex",
    "imd_decile": "IMD decile",
    "ltc_count": "Number of long-term conditions",
    "risk_score": "Risk score",
}


def _humanise(name: str) -> str:
    words = [_ACRONYMS.get(w.lower(), w) for w in str(name).replace("_", " ").split()]
    s = " ".join(words)
    return s[:1].upper() + s[1:]


def covariate_label(name: str) -> str:
    """Balance covariate names -> readable labels (unknown names are humanised)."""
    key = str(name).lower()
    if key in COVARIATE_LABELS:
        return COVARIATE_LABELS[key]
    for m, label in MEASURES:
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


def _matched_section(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any] | None:
    me = _table(tables, "matched_effects")
    bal = _table(tables, "balance")
    if me is None and bal is None:
        return None
    labels = dict((m, lab) for m, lab in MEASURES)
    clabels = {k: lab for k, lab, _ in COHORTS}
    effects = []
    if me is not None:
        for r in dc.publish_matched_effects(me).to_dicts():
            ci = ""
            if _is_number(r["did_ci_low"]) and _is_number(r["did_ci_high"]):
                ci = f"{r['did_ci_low']} to {r['did_ci_high']}"
            elif dc.SUPPRESSED in (r["did_ci_low"], r["did_ci_high"]):
                ci = dc.SUPPRESSED
            effects.append({**r, "cohort_label": clabels.get(r["cohort"], r["cohort"]),
                            "label": labels.get(r["measure"], _humanise(r["measure"])),
                            "did": _signed(r["did"]), "ci": ci})
        corder = {k: i for i, (k, _, _) in enumerate(COHORTS)}
        morder = {m: i for i, (m, _) in enumerate(MEASURES)}
        effects.sort(key=lambda e: (corder.get(e["cohort"], 9), morder.get(e["measure"], 9)))
    balance = []
    if bal is not None:
        for r in dc.publish_balance(bal, me).to_dicts():
            balance.append({**r, "cohort_label": clabels.get(r["cohort"], r["cohort"]),
                            "label": covariate_label(r["covariate"])})
    return {"effects": effects, "balance": balance}


def _summary(hosp: dict[str, Any], wb: dict[str, Any], att: dict[str, Any],
             meta: Mapping[str, Any]) -> dict[str, Any]:
    """Key figures in plain words, built only from published strings."""
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
        parts = []
        for key, label, months in COHORTS:
            r = cells.get((key, "all", m))
            if r is None:
                continue
            words = _change_words(r["pct_change"])
            if words and _is_number(r["mean_before"]) and _is_number(r["mean_after"]):
                parts.append(f"{words} in the {label} (from {r['mean_before']} to "
                             f"{r['mean_after']} per patient)")
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
    matched = _matched_section(tables)
    flow_svg = _flow_figure(att, hes, long_date(quarter_end))
    figures = {"chart": 1 if hosp["chart_svg"] else None}
    figures["flow"] = (2 if figures["chart"] else 1) if flow_svg is not None else None

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
        "sections": numbered,
        "num": num,
        "hosp": hosp,
        "wb": wb,
        "att": att,
        "matched": matched,
        "summary": _summary(hosp, wb, att, meta),
        "appendix_a": _appendix_a(tables),
        "hes_quality": _hes_quality(tables, hes, deliveries.get("previous_hes")),
        "flow_svg": flow_svg,
        "figures": figures,
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
