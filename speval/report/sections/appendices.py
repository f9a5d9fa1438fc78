"""Appendices: data and validation, HES data quality, and provenance.

They let a reader check what went in. Appendix A's rows of each file (read, accepted, quarantined, duplicates,
and quarantined rows per reason) are printed exactly: rows of a delivered file are not people, and a reader must
be able to check that rows read = accepted + quarantined + duplicates (ADR 0003, "What is and is not a count of
people"). The HES data-quality appendix's counts are disclosure-controlled like the results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from speval.report import disclosure as dc
from speval.report.format import humanise, param_value, quarter_words, short_date, verbatim
from speval.report.sections.common import table

# --------------------------------------------------------------------------- data and validation


def _provider_sheets_grouped(file: pl.Expr) -> pl.Expr:
    """`provider_returns/2013Q1/VCS01.xlsx#Activity` → `provider_returns/2013Q1/*.xlsx#Activity`: the report
    summarises one quarter's workbooks per sheet (the key rows are grouped by; the per-file detail is in
    reconciliation.csv). The report never prints this key: see :func:`_workbook_labels`."""
    return file.str.replace(r"^(provider_returns/[^/]+/)[^/]+\.xlsx#", "${1}*.xlsx#")


#: Up to this many workbooks of one quarter's sheet are named one by one; more are counted.
WORKBOOKS_NAMED = 4


def _and_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _workbook_labels(*files: pl.Series) -> dict[str, str]:
    """Each grouped key of provider workbooks (`provider_returns/2013Q3/*.xlsx#Activity`) as the report names it,
    from the workbooks actually read: one workbook by its name (`provider_returns/2013Q3/P001.xlsx, sheet
    Activity`), a few by their names, more by their number (each named in tables/reconciliation.csv)."""
    names: dict[str, list[str]] = {}
    for series in files:
        for f in series.cast(pl.String).drop_nulls().unique(maintain_order=True).to_list():
            m = re.fullmatch(r"(provider_returns/[^/]+/)([^/]+\.xlsx)#(.*)", f)
            if m:
                key = f"{m.group(1)}*.xlsx#{m.group(3)}"
                if m.group(2) not in names.setdefault(key, []):
                    names[key].append(m.group(2))
    labels = {}
    for key, books in names.items():
        folder, sheet = key.split("*.xlsx#", 1)
        books = sorted(books)
        if len(books) == 1:
            labels[key] = f"{folder}{books[0]}, sheet {sheet}"
        elif len(books) <= WORKBOOKS_NAMED:
            labels[key] = f"{folder}: {_and_list(books)}, sheet {sheet}"
        else:
            labels[key] = (f"{folder}: {len(books)} provider workbooks, sheet {sheet} "
                           "(each named in tables/reconciliation.csv)")
    return labels


#: Appendix A's rows of a file (reconciliation.csv), printed exactly.
FILE_ROWS = ["rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate"]


def _as_text(*columns: str) -> list[pl.Expr]:
    """Whole numbers as the plain strings the template prints (it adds the separators); a missing one blank."""
    return [pl.col(c).cast(pl.Int64).cast(pl.String).fill_null("") for c in columns]


def file_rows(rec: pl.DataFrame | None) -> pl.DataFrame:
    """reconciliation (docs/contract/outputs.md) -> source, file and its rows read, accepted, quarantined and
    duplicated, exactly: rows of a file are not people (ADR 0003), and exact figures let a reader check that
    each file reconciles."""
    if rec is None or rec.height == 0:
        return pl.DataFrame(schema={c: pl.String for c in ["source", "file", *FILE_ROWS]})
    return rec.select(pl.col("source", "file").cast(pl.String), *_as_text(*FILE_ROWS))


def quarantined_by_reason(q: pl.DataFrame | None) -> pl.DataFrame:
    """quarantine (docs/contract/outputs.md) -> rows per (source, file, reason), exactly (they add up to the
    file's quarantined rows). Row numbers are never published: only the number of rows per reason."""
    columns = ["source", "file", "reason"]
    if q is None or q.height == 0:
        return pl.DataFrame(schema={c: pl.String for c in [*columns, "rows"]})
    return (q.select(pl.col(columns).cast(pl.String)).group_by(columns).agg(pl.len().alias("rows"))
            .sort(columns).with_columns(_as_text("rows")))


def data_and_validation(tables: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Rows read, accepted, quarantined and duplicated per file, and quarantined rows by reason, exactly. A
    quarter's provider workbooks are summed per sheet, and named by the workbooks read (:func:`_workbook_labels`)."""
    rec = table(tables, "reconciliation")
    q = table(tables, "quarantine")
    labels = _workbook_labels(*(t["file"] for t in (rec, q) if t is not None and t.height))
    if rec is not None and rec.height:
        rec = (rec.with_columns(_provider_sheets_grouped(pl.col("file")).alias("file"))
               .group_by("source", "file", maintain_order=True).agg(pl.col(c).sum() for c in FILE_ROWS))
    if q is not None and q.height:
        q = q.with_columns(_provider_sheets_grouped(pl.col("file")).alias("file"))
    rec_rows = file_rows(rec).to_dicts()
    q_rows = quarantined_by_reason(q).to_dicts()
    for r in (*rec_rows, *q_rows):
        r["file"] = labels.get(r["file"], r["file"])
    return {"reconciliation": rec_rows, "quarantine": q_rows}


# --------------------------------------------------------------------------- HES data quality

HES_FILE_LABELS = {
    "persons": "People (linked population)",
    "apc": "Admitted patient care episodes",
    "ae": "A&E attendances",
    "op": "Outpatient appointments",
}
HES_RECORD_KEYS = {"persons": "TOKEN_PERSON_ID", "apc": "EPIKEY", "ae": "AEKEY", "op": "ATTENDKEY"}
#: Columns where a blank is expected by the contract (docs/contract/inputs.md).
EXPECTED_BLANK = {
    "REGISTERED_TO": "blank = still registered",
    "DATE_OF_DEATH": "blank = alive",
}


def _file_kind(file: str) -> str:
    """``hes/2013Q4/apc.csv`` -> ``apc``."""
    return file.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()


def _file_order(file: str) -> tuple[int, str]:
    kinds = list(HES_FILE_LABELS)
    k = _file_kind(file)
    return (kinds.index(k) if k in kinds else len(kinds), file)


def hes_data_quality(tables: Mapping[str, pl.DataFrame], hes: Mapping[str, Any],
                     previous_hes: Any) -> dict[str, Any]:
    """The HES delivery in use: rows per file, dates covered, changes since the previous
    delivery and columns with missing values."""
    fq = table(tables, "hes_file_quality")
    miss = table(tables, "hes_missingness")
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


# --------------------------------------------------------------------------- provenance


def _input_files(files: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Input files with the start of their sha256; provider workbooks one line per quarter's
    folder (their sha256s are in run_manifest.json)."""
    rows: list[dict[str, Any]] = []
    provider_folders: dict[str, int] = {}
    for f in files:
        name = str(f.get("file", ""))
        if name.startswith("provider_returns/"):
            folder = name.rsplit("/", 1)[0]
            provider_folders[folder] = provider_folders.get(folder, 0) + 1
        else:
            rows.append({"file": name, "sha": verbatim(str(f.get("sha256", ""))[:12]), "workbooks": None})
    rows += [{"file": folder, "sha": None, "workbooks": n} for folder, n in provider_folders.items()]
    return rows


#: The run parameters (run_manifest.json's ``parameters``, assets/report.py) in words, as Appendix C lists them;
#: a parameter not named here is shown by its code name in words (fmt.humanise).
PARAMETER_LABELS = {
    "quarter": "Reporting quarter",
    "programme": "Programme",
    "followup_min_days": "Well-being follow-up: earliest review (days after baseline)",
    "followup_max_days": "Well-being follow-up: latest review (days after baseline)",
    "cohort_months": "Cohorts (months before and after referral)",
    "low_score_max": "Low baseline score (at most)",
    "matching_caliper_sd": "Matching caliper (SD of the propensity-score logit)",
    "matching_ratio": "Matched controls per referred person",
    "matching_with_replacement": "Matching with replacement",
    "bootstrap_replicates": "Bootstrap replicates",
    "seed": "Random seed",
    "wellbeing_valuation": "Well-being valuation basis of the SROI",
}
#: Parameters whose value is a code, printed exactly as recorded (never given thousands separators).
VERBATIM_PARAMETERS = {"seed", "programme"}


def parameter_label(key: str) -> str:
    """A run parameter's name in words: ``matching_with_replacement`` -> ``Matching with replacement``."""
    return PARAMETER_LABELS.get(key) or humanise(key)


def parameter_value(key: str, value: Any) -> str:
    """A run parameter's value in words: true/false as Yes/No, the quarter with its months, a seed as recorded;
    numbers stay published strings (the template gives them separators)."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if key == "quarter" and quarter_words(str(value)) != str(value):
        return f"{value} ({quarter_words(str(value))})"
    if key in VERBATIM_PARAMETERS:
        return verbatim(param_value(value))
    return param_value(value)


def departures(deviations: list[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """The run parameters that differ from the analysis plan: name in words (as speval/run/plan.py words it),
    planned value, value used. True/false read Yes/No; other values are printed exactly as the plan and the
    manifest record them (tests/test_analysis_plan.py compares them with the plan's own values)."""
    def shown(value: Any) -> str:
        return ("Yes" if value else "No") if isinstance(value, bool) else verbatim(param_value(value))

    return [{"parameter": str(d.get("parameter", "")), "planned": shown(d.get("planned")),
             "used": shown(d.get("used"))} for d in deviations or []]


def analysis_plan(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """The analysis plan the run was checked against (file, version, sha256 in full and its first 12
    characters) and the run's departures from it; None when the run recorded no plan."""
    plan = meta.get("analysis_plan")
    if not plan:
        return None
    sha = str(plan.get("sha256") or "")
    return {"file": str(plan.get("file") or "analysis_plan.yaml"), "version": str(plan.get("plan_version", "")),
            "sha256": verbatim(sha), "sha_short": verbatim(sha[:12]),
            "departures": departures(list(meta.get("deviations_from_plan") or []))}


def provenance(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Deliveries, the analysis plan and any departures from it, run parameters, input files (with
    checksums) and files found but not read."""
    parameters = dict(meta.get("parameters") or {})
    deliveries = dict(meta.get("deliveries") or {})
    return {
        "provider_returns": list(deliveries.get("provider_returns") or []),
        "plan": analysis_plan(meta),
        "parameters": [{"key": str(k), "label": parameter_label(str(k)), "value": parameter_value(str(k), v)}
                       for k, v in parameters.items()],
        "input_files": _input_files(list(meta.get("input_files") or [])),
        "files_not_read": [{"file": str(f["file"]), "reason": str(f["reason"])}
                           for f in meta.get("files_not_read") or []],
    }
