"""Run outputs: the analysis tables as CSV (the contract's and those beyond it) and the run manifest
(docs/contract/outputs.md).

Tables are unsuppressed and unrounded (restricted to the evaluation team); the published report
applies disclosure control (`speval.report.disclosure`). Nothing here reads the clock.
"""
from __future__ import annotations

import errno
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import polars as pl

from speval.ingest.files import sha256_of
from speval.run.spec import REPORT_HTML, REPORT_PDF, RUN_MANIFEST
from speval.economics.reference import ADJUSTMENTS, WAGES
from speval.analysis.comparison import BALANCE_SCHEMA, COVARIATES
from speval.report.sections.common import change_interval
from speval.run.vocabulary import (COHORTS, COST_BASES, COST_ITEMS, MEASURE_CODES, SROI_COMPONENTS, UNMATCHED_REASONS,
                                   VALUE_SCENARIOS, WELLBEING_MEASURES)

COHORT_ORDER = f"list_position({[c.code for c in COHORTS]}, cohort)"
MEASURE_ORDER = f"list_position({list(MEASURE_CODES)}, measure)"
BASIS_ORDER = f"list_position({[b.code for b in COST_BASES]}, basis)"
ITEM_ORDER = f"list_position({[i.code for i in COST_ITEMS]}, item)"
SCENARIO_ORDER = f"list_position({[s.code for s in VALUE_SCENARIOS]}, scenario)"
COMPONENT_ORDER = f"list_position({[c.code for c in SROI_COMPONENTS]}, component)"
#: Matching settings in analysis.matching_settings' order (the primary one first), a setting it does not describe
#: last; covariates in the matching's order (speval.analysis.comparison.COVARIATES, the report's order too);
#: reasons for being left unmatched in the vocabulary's order.
SETTING_ORDER = "setting_order NULLS LAST, setting"
COVARIATE_ORDER = f"list_position({list(COVARIATES)}, covariate) NULLS LAST, covariate"
REASON_ORDER = f"list_position({[r.code for r in UNMATCHED_REASONS]}, reason) NULLS LAST, reason"

# Contract table → (warehouse table, columns in contract order, row order). Matching tables hold every
# setting of the sensitivity analysis; the contract's tables are the primary setting's rows.
PRIMARY = "setting IN (SELECT setting FROM analysis.matching_settings WHERE is_primary)"
CONTRACT_TABLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "attrition": ("analysis.attrition", ("cohort", "step", "n"), "cohort_order, step_order"),
    "hospital_use": (
        "analysis.hospital_use",
        ("cohort", "group", "measure", "n_patients", "mean_before", "mean_after", "change", "pct_change"),
        "cohort_order, group_order, measure_order",
    ),
    "wellbeing": (
        "analysis.wellbeing",
        ("measure", "baseline_n", "baseline_mean", "baseline_low_pct", "followup_n", "followup_mean",
         "progress_pct", "progress_low_pct"),
        "measure_order",
    ),
    "matched_effects": (
        "analysis.matched_effects",
        ("cohort", "measure", "n_treated", "n_controls", "treated_before", "treated_after", "control_before",
         "control_after", "did", "did_ci_low", "did_ci_high"),
        f"{COHORT_ORDER}, {MEASURE_ORDER}",
    ),
    "balance": (
        "analysis.balance", ("cohort", "covariate", "smd_before", "smd_after"),
        COHORT_ORDER,
    ),
    "reconciliation": (
        "audit.reconciliation",
        ("source", "file", "rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate"),
        "source, file",
    ),
    "quarantine": ("audit.quarantine", ("source", "file", "row_number", "reason"), "source, file, row_number"),
    "wellbeing_progress": ("analysis.wellbeing_progress", ("measures_progressed", "n_followup", "n", "pct"),
                           "measures_progressed_order"),
    "costs_avoided": (
        "analysis.costs_avoided",
        ("basis", "cohort", "item", "events_avoided_per_patient", "unit_cost_gbp", "saving_per_patient_gbp",
         "saving_ci_low_gbp", "saving_ci_high_gbp"),
        f"{BASIS_ORDER}, {ITEM_ORDER}",
    ),
    "value_for_money": (
        "analysis.value_for_money",
        ("basis", "scenario", "years", "discount_rate", "benefit_gbp", "cost_gbp", "roi", "roi_ci_low", "roi_ci_high",
         "prob_roi_at_least_1", "payback_months"),
        f"{BASIS_ORDER}, {SCENARIO_ORDER}",
    ),
    "sroi": (
        "analysis.sroi",
        ("component", "quantity", "unit", "value_low_gbp", "value_high_gbp", "per_pound_low", "per_pound_high",
         "source"),
        "component_order",
    ),
}

# Analysis tables beyond the contract, written to tables/ with the contract's tables (same conventions:
# unsuppressed, unrounded, blank never NaN): name → query. effect_estimates: every estimator of the matched
# comparison of the primary setting (ADR 0017), one row per cohort × measure × estimator; the doubly robust
# rows carry the rate ratio they imply and no E-value.
EFFECT_ESTIMATES_COLUMNS = ("cohort", "measure", "estimator", "estimate", "ci_low", "ci_high", "rate_ratio",
                            "rr_ci_low", "rr_ci_high", "e_value", "e_value_ci")
# wellbeing_paired_change: per well-being measure and group (`all`, and `low_baseline`: a baseline score of 2 or
# less), the referrals with both a baseline and a follow-up score (the population of wellbeing.csv's followup_n)
# and, over those same referrals, the mean baseline and follow-up scores and the mean and standard deviation of
# the paired change (follow-up minus baseline); every measure and group has a row (n 0, blank means when nobody).
# Aggregates only: no referral's row leaves the warehouse. The CSV adds the 95% t-interval the report shows
# (CHANGE_INTERVAL_TABLES).
WELLBEING_PAIRED_CHANGE_COLUMNS = ("measure", "group", "n", "baseline_mean", "followup_mean", "mean_change",
                                   "sd_change")
WELLBEING_PAIRED_CHANGE = """
    SELECT m.measure, g."group", count(p.measure) AS n,
           avg(p.baseline_score) AS baseline_mean, avg(p.followup_score) AS followup_mean,
           avg(p.followup_score - p.baseline_score) AS mean_change,
           stddev_samp(p.followup_score - p.baseline_score) AS sd_change
    FROM analysis.wellbeing_measures m
    CROSS JOIN (VALUES ('all', 1), ('low_baseline', 2)) AS g("group", group_order)
    LEFT JOIN analysis.wellbeing_pairs p
           ON p.measure = m.measure AND p.baseline_score IS NOT NULL AND p.followup_score IS NOT NULL
          AND (g."group" = 'all' OR p.baseline_score <= 2)
    GROUP BY m.measure, m.measure_order, g."group", g.group_order
    ORDER BY m.measure_order, g.group_order"""
# The matched comparison under every matching setting (the primary one and the sensitivity grid), one query per
# table: the report's frames of every setting (REPORT_ONLY_TABLES) are read from the same queries as the CSVs.
# sensitivity: one row per setting × cohort × measure, every column of analysis.matched_effects (the estimates
# and intervals of the report's matched comparison and sensitivity tables) with the setting's method as typed
# columns (analysis.matching_settings) and the largest |SMD| after matching of its setting and cohort (the
# sensitivity table's "Max |SMD|", the largest |smd_after| of balance_all_settings.csv).
SETTING_METHOD_COLUMNS = ("setting_order", "caliper", "ratio", "with_replacement", "is_primary")
SENSITIVITY_COLUMNS = ("setting", *SETTING_METHOD_COLUMNS, "cohort", "measure", "n_treated", "n_controls",
                       "treated_before", "treated_after", "control_before", "control_after",
                       "did", "did_ci_low", "did_ci_high",
                       "did_adjusted", "did_adjusted_ci_low", "did_adjusted_ci_high",
                       "rate_ratio", "rr_ci_low", "rr_ci_high", "rate_ratio_adjusted", "rr_adjusted_ci_low",
                       "rr_adjusted_ci_high", "e_value", "e_value_ci", "max_abs_smd_after")
MATCHED_EFFECTS_ALL_SETTINGS = f"""
    SELECT e.*, {", ".join(f"s.{c}" for c in SETTING_METHOD_COLUMNS)}, b.max_abs_smd_after
    FROM analysis.matched_effects e
    LEFT JOIN analysis.matching_settings s ON s.setting = e.setting
    LEFT JOIN (SELECT setting, cohort, max(abs(smd_after)) AS max_abs_smd_after
               FROM analysis.balance GROUP BY setting, cohort) b ON b.setting = e.setting AND b.cohort = e.cohort"""
SENSITIVITY_ORDER = f"{SETTING_ORDER}, {COHORT_ORDER} NULLS LAST, cohort, {MEASURE_ORDER} NULLS LAST, measure"
# balance_all_settings: one row per setting × cohort × covariate, the columns of analysis.balance (the report's
# balance table, love plot and sensitivity table read them).
BALANCE_ALL_SETTINGS_COLUMNS = tuple(BALANCE_SCHEMA)
BALANCE_ALL_SETTINGS = f"""
    SELECT {", ".join(f"b.{c}" for c in BALANCE_ALL_SETTINGS_COLUMNS)}
    FROM analysis.balance b LEFT JOIN analysis.matching_settings s ON s.setting = b.setting
    ORDER BY s.setting_order NULLS LAST, b.setting, {COHORT_ORDER} NULLS LAST, b.cohort, {COVARIATE_ORDER}"""
# unmatched: how many treated people each setting left unmatched per cohort and reason, every setting × cohort ×
# reason of the vocabulary (n 0 when nobody), a reason outside it after them. Counts only: no person's id leaves
# the warehouse (analysis.unmatched_treated has one row per person).
UNMATCHED_COLUMNS = ("setting", "cohort", "reason", "n")
UNMATCHED = f"""
    SELECT setting, cohort, reason, coalesce(counted.n, 0) AS n, setting_order
    FROM (SELECT s.setting, c.cohort, r.reason FROM analysis.matching_settings s
          CROSS JOIN (VALUES {", ".join(f"('{c.code}')" for c in COHORTS)}) AS c(cohort)
          CROSS JOIN (VALUES {", ".join(f"('{r.code}')" for r in UNMATCHED_REASONS)}) AS r(reason)) every_cell
    FULL JOIN (SELECT setting, cohort, reason, count(*) AS n FROM analysis.unmatched_treated
               GROUP BY setting, cohort, reason) counted USING (setting, cohort, reason)
    LEFT JOIN analysis.matching_settings USING (setting)"""
UNMATCHED_ORDER = f"{SETTING_ORDER}, {COHORT_ORDER} NULLS LAST, cohort, {REASON_ORDER}"
EXTRA_TABLES: dict[str, str] = {
    "value_inputs": f"SELECT * FROM analysis.value_inputs ORDER BY {BASIS_ORDER}",
    "effect_estimates": f"""
        SELECT {", ".join(EFFECT_ESTIMATES_COLUMNS)} FROM (
            SELECT cohort, measure, 'did' AS estimator, 1 AS estimator_order,
                   did AS estimate, did_ci_low AS ci_low, did_ci_high AS ci_high,
                   rate_ratio, rr_ci_low, rr_ci_high, e_value, e_value_ci
            FROM analysis.matched_effects WHERE {PRIMARY}
            UNION ALL
            SELECT cohort, measure, 'did_adjusted', 2,
                   did_adjusted, did_adjusted_ci_low, did_adjusted_ci_high,
                   rate_ratio_adjusted, rr_adjusted_ci_low, rr_adjusted_ci_high, NULL::DOUBLE, NULL::DOUBLE
            FROM analysis.matched_effects WHERE {PRIMARY}
        ) ORDER BY {COHORT_ORDER}, {MEASURE_ORDER}, estimator_order""",
    "wellbeing_paired_change": WELLBEING_PAIRED_CHANGE,
    "sensitivity": f"SELECT {', '.join(SENSITIVITY_COLUMNS)} FROM ({MATCHED_EFFECTS_ALL_SETTINGS}) "
                   f"ORDER BY {SENSITIVITY_ORDER}",
    "balance_all_settings": BALANCE_ALL_SETTINGS,
    "unmatched": f"SELECT {', '.join(UNMATCHED_COLUMNS)} FROM ({UNMATCHED}) ORDER BY {UNMATCHED_ORDER}",
}
#: Extra tables of paired changes (n, mean_change, sd_change), written with the change's 95% t-interval
#: (ci_low, ci_high: speval.report.sections.common.change_interval, as the report works it out).
CHANGE_INTERVAL_TABLES = ("wellbeing_paired_change",)

# The contract's table of mental-health runs only (docs/contract/outputs.md), written for a run of these programmes.
MH_ONLY_PROGRAMMES = ("MH",)
MH_TABLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "mh_pathway": ("analysis.mh_pathway", ("step", "n"), "step_order"),
}

# Data-quality tables for the report appendix, written beside tables/ in quality/.
QUALITY_TABLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "hes_file_quality": (
        "audit.hes_file_quality",
        ("delivery", "file", "rows_read", "rows_accepted", "rows_duplicate", "rows_conflicting_key",
         "rows_quarantined_other", "date_column", "first_date", "last_date", "previous_delivery",
         "records_revised", "records_withdrawn", "records_new"),
        "file",
    ),
    "hes_missingness": (
        "audit.hes_missingness", ("file", "column_name", "rows_read", "rows_missing", "pct_missing"),
        "file, column_name",
    ),
}

PACKAGES = ("dagster", "duckdb", "polars", "great-expectations", "plotly", "kaleido", "weasyprint", "jinja2",
            "fastexcel", "numpy", "scipy")


# What the report reads beyond the contract's tables. The matched comparison under every setting (rate ratios,
# the doubly robust estimate, E-values, variance ratios, unmatched reasons) comes from the queries of the tables
# beyond the contract it prints (tables/sensitivity.csv, balance_all_settings.csv, unmatched.csv), in the shapes the
# report's sections take: every column of analysis.matched_effects, and only the reasons someone was left for.
REPORT_ONLY_TABLES = {
    "matched_effects_all_settings": f"SELECT * EXCLUDE ({', '.join(SETTING_METHOD_COLUMNS)}, max_abs_smd_after) "
                                    f"FROM ({MATCHED_EFFECTS_ALL_SETTINGS}) ORDER BY {SENSITIVITY_ORDER}",
    "balance_all_settings": EXTRA_TABLES["balance_all_settings"],
    # the denominator of wellbeing.csv's progress_low_pct (not a contract column), for disclosure control (ADR 0003)
    "wellbeing_low_followup": "SELECT measure, count(*) FILTER (WHERE baseline_score <= 2 AND followup_score IS NOT "
                              "NULL) AS followup_low_n FROM analysis.wellbeing_pairs GROUP BY measure ORDER BY measure",
    "unmatched_treated": f"SELECT {', '.join(UNMATCHED_COLUMNS)} FROM ({UNMATCHED}) WHERE n > 0 "
                         f"ORDER BY {UNMATCHED_ORDER}",
    "matching_settings": "SELECT * FROM analysis.matching_settings ORDER BY setting_order",
    # Value for money and social value: what the scenarios start from, the providers' work behind the social
    # return, and the reference rows this run used (for the report's assumptions and sources).
    "value_inputs": EXTRA_TABLES["value_inputs"],
    "programme_cost": "SELECT * FROM analysis.programme_cost",
    "provider_shares": "SELECT provider_code, share FROM analysis.provider_shares ORDER BY provider_code",
    "volunteering_summary": "SELECT min(month) AS first_month, max(month) AS last_month, "
                            "sum(programme_hours) AS programme_hours FROM analysis.volunteering "
                            "WHERE programme_hours > 0",
    "welfare_summary": "SELECT count(*) AS awards, sum(annual_value_gbp) AS annual_value_gbp "
                       "FROM analysis.welfare_awards",
    "leverage_summary": "SELECT sum(share) AS awards, sum(programme_amount_gbp) AS amount_gbp "
                        "FROM analysis.leverage WHERE share > 0",
    "reference_unit_costs": f"SELECT item, price_year, cost_year, cost_as_published_gbp, unit_cost_gbp, status, "
                            f"source, licence FROM analysis.unit_costs ORDER BY {ITEM_ORDER}",
    "reference_price_index": "SELECT financial_year, index_value, index_name, status, source, licence "
                             "FROM reference.price_index WHERE financial_year IN "
                             "(SELECT cost_year FROM analysis.unit_costs UNION SELECT price_year FROM analysis.unit_costs) "
                             "ORDER BY financial_year",
    "reference_programme_costs": "SELECT c.programme, c.financial_year, c.cost_gbp, c.status, c.source, c.licence "
                                 "FROM reference.programme_costs c, analysis.parameters p "
                                 "WHERE c.programme = p.programme "
                                 "AND make_date(CAST(left(c.financial_year, 4) AS INTEGER), 4, 1) <= p.quarter_end "
                                 "ORDER BY c.financial_year",
    "reference_wages": "SELECT w.wage, w.valid_from, w.valid_to, w.hourly_gbp, w.status, w.source, w.licence "
                       "FROM reference.wages w WHERE EXISTS (SELECT 1 FROM analysis.volunteering v "
                       "WHERE v.programme_hours > 0 AND v.month >= w.valid_from "
                       "AND (w.valid_to IS NULL OR v.month <= w.valid_to)) "
                       f"ORDER BY list_position({list(WAGES)}, w.wage), w.valid_from",
    "reference_wellbeing_proxies": "SELECT px.measure, px.basis, px.value_low_gbp, px.value_high_gbp, px.status, "
                                   "px.source, px.licence FROM reference.wellbeing_proxies px "
                                   "JOIN analysis.parameters p ON px.basis = p.wellbeing_valuation "
                                   f"ORDER BY list_position({[m.code for m in WELLBEING_MEASURES]}, px.measure)",
    "reference_sroi_adjustments": "SELECT component, adjustment, value, status, source, licence "
                                  f"FROM reference.sroi_adjustments ORDER BY {COMPONENT_ORDER}, "
                                  f"list_position({list(ADJUSTMENTS)}, adjustment)",
    # The mental-health pathway section (MH runs): the pathway as in its contract table (built for every run), and
    # the paired change in each well-being measure (follow-up minus baseline, over referrals with both scores) as
    # its count, mean and standard deviation: the report works out the interval, and no referral's row leaves.
    "mh_pathway": "SELECT {} FROM {} ORDER BY {}".format(", ".join(MH_TABLES["mh_pathway"][1]),
                                                       MH_TABLES["mh_pathway"][0], MH_TABLES["mh_pathway"][2]),
    # The well-being section (every run): the paired change of all referrals with both scores and of those with a
    # low baseline score, with the mean scores it is the difference of (tables/wellbeing_paired_change.csv).
    "wellbeing_paired_change": EXTRA_TABLES["wellbeing_paired_change"],
    "wellbeing_change": "SELECT measure, count(*) AS n, avg(followup_score - baseline_score) AS mean_change, "
                        "stddev_samp(followup_score - baseline_score) AS sd_change "
                        "FROM analysis.wellbeing_pairs "
                        "WHERE baseline_score IS NOT NULL AND followup_score IS NOT NULL "
                        "GROUP BY measure, measure_order ORDER BY measure_order",
}


def read_contract_table(con, name: str) -> pl.DataFrame:
    table, columns, order = {**CONTRACT_TABLES, **QUALITY_TABLES, **MH_TABLES}[name]
    column_list = ", ".join(f'"{c}"' for c in columns)
    where = f"WHERE {PRIMARY}" if table in ("analysis.matched_effects", "analysis.balance") else ""
    return con.sql(f"SELECT {column_list} FROM {table} {where} ORDER BY {order}").pl()


def read_extra_table(con, name: str) -> pl.DataFrame:
    """An analysis table beyond the contract (EXTRA_TABLES); a NaN is written blank, like a missing value."""
    df = con.sql(EXTRA_TABLES[name]).pl()
    if name in CHANGE_INTERVAL_TABLES:
        df = with_change_interval(df)
    return df.with_columns(pl.col(c).fill_nan(None) for c, t in df.schema.items() if t.is_float())


def with_change_interval(df: pl.DataFrame) -> pl.DataFrame:
    """A table of paired changes with the 95% t-interval of each mean change (`ci_low`, `ci_high`; blank when it
    cannot be worked out: fewer than 2 people)."""
    ends = [change_interval(int(n or 0), mean, sd)
            for n, mean, sd in df.select("n", "mean_change", "sd_change").iter_rows()]
    return df.with_columns(pl.Series("ci_low", [e[0] for e in ends], dtype=pl.Float64),
                           pl.Series("ci_high", [e[1] for e in ends], dtype=pl.Float64))


def export_tables(con, run_dir: Path) -> dict[str, Path]:
    """Contract tables and the tables beyond the contract to `<run>/tables/`, data-quality tables to
    `<run>/quality/`."""
    written = {}
    for folder, names in (("tables", CONTRACT_TABLES), ("quality", QUALITY_TABLES)):
        (run_dir / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            path = run_dir / folder / f"{name}.csv"
            read_contract_table(con, name).write_csv(path)
            written[name] = path
    for name in EXTRA_TABLES:
        path = run_dir / "tables" / f"{name}.csv"
        read_extra_table(con, name).write_csv(path)
        written[name] = path
    programme = con.execute("SELECT programme FROM analysis.parameters").fetchall()[0][0]
    if programme in MH_ONLY_PROGRAMMES:
        for name in MH_TABLES:
            path = run_dir / "tables" / f"{name}.csv"
            read_contract_table(con, name).write_csv(path)
            written[name] = path
    return written


RUN_OUTPUTS = (REPORT_PDF, REPORT_HTML, RUN_MANIFEST, "tables", "quality")
#: Who each output of a run is for (run_manifest.json ``sensitivity``): only the report is published, and only
#: once it has passed the release check (speval/report/release.py, ADR 0022).
SENSITIVITY = {
    REPORT_HTML: "publishable: disclosure-controlled, passed the release check",
    REPORT_PDF: "publishable: disclosure-controlled, passed the release check",
    "tables/": "restricted: unsuppressed and unrounded analysis tables, for the evaluation team",
    "quality/": "restricted: exact data-quality counts of the HES delivery, for the evaluation team and the supplier",
    RUN_MANIFEST: "internal: provenance for auditors (files, checksums, parameters, versions), no figures about people",
}
STAGING_MARK = ".partial-"


class OutputFolderError(RuntimeError):
    """The output folder cannot be created or written."""


def check_output_folder(run_folder: Path) -> None:
    """Fail before any work unless the run's outputs can be written: `<out>/<PROGRAMME>/` (where the run
    folder and its staging folder live) must accept a new file, or, if it does not exist yet, its nearest
    existing ancestor must be a folder that does; so must the run folder if it exists. Creates nothing
    (a probe file is removed at once). One line naming the folder."""
    folders = [run_folder] if run_folder.exists() else []
    target = run_folder.parent
    while not target.exists() and target != target.parent:
        target = target.parent
    folders.append(target)
    for folder in folders:
        try:
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
            handle, probe = tempfile.mkstemp(prefix=".speval-write-check-", dir=folder)
            os.close(handle)
            os.unlink(probe)
        except OSError as error:
            reason = error.strerror or str(error)
            raise OutputFolderError(
                f"the output folder {folder} cannot be written ({reason}); fix its permissions or use --out"
            ) from None


def staging_folder(run_folder: Path, run_id: str) -> Path:
    """`<out>/<PROGRAMME>/.<QUARTER>.partial-<run id>`: a run's outputs until it has succeeded. Same
    file system as the run folder, so publishing it is one rename."""
    return run_folder.with_name(f".{run_folder.name}{STAGING_MARK}{run_id}")


def clear_run_folder(folder: Path) -> None:
    """Remove a previous run's outputs before a new run starts, so a failed run leaves no report behind
    that could be mistaken for its result; and the staging folders runs killed before publishing left."""
    for name in RUN_OUTPUTS:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    if folder.parent.is_dir():
        for leftover in folder.parent.glob(f".{folder.name}{STAGING_MARK}*"):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()


def missing_outputs(staging: Path) -> list[str]:
    """The run outputs (manifest aside) not yet written to `staging`."""
    return [name for name in RUN_OUTPUTS if name != RUN_MANIFEST and not (staging / name).exists()]


def publish_run_folder(staging: Path, run_folder: Path) -> None:
    """Move a succeeded run's outputs into place: `staging` becomes `run_folder` in one rename, so the run
    folder never holds part of a run's outputs. The run folder is normally empty here (its previous
    outputs were cleared when the run started); anything else in it that is not a run output is kept."""
    try:
        os.replace(staging, run_folder)  # rename(2): atomic; replaces a missing or empty folder
        return
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    aside = staging.with_name(staging.name + "-replaced")
    os.replace(run_folder, aside)
    os.replace(staging, run_folder)
    for entry in aside.iterdir():
        if entry.name not in RUN_OUTPUTS:
            os.replace(entry, run_folder / entry.name)
    shutil.rmtree(aside)


def code_version(repo: Path) -> dict:
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit or "unknown", "uncommitted_changes": bool(status) if status is not None else None}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_manifest(path: Path, *, parameters: dict, deliveries: dict, inputs: list[dict], code: dict,
                   outputs: list[Path], compared_inputs: list[dict] = (), not_read: list[dict] = (),
                   analysis_plan: dict | None = None, deviations_from_plan: list[dict] = (),
                   reference_data: list[dict] = (), release_check: dict | None = None) -> dict:
    """Every input with its sha256, the deliveries used, parameters, code and package versions, and the
    sha256 of every output (paths relative to the run folder). `compared_inputs`: files read only to show
    what the delivery in use revised (the previous HES delivery), not used by the analysis. `not_read`:
    files and folders found where deliveries are kept but not read, with the reason. `analysis_plan`: the
    plan's file, sha256 and version; `deviations_from_plan`: each run parameter that differs from it
    (speval/run/plan.py). `reference_data`: the economic reference files (data/reference/) with their sha256
    and rows by status. `release_check`: what the release check of the outputs found (ReleaseCheck.as_record);
    `sensitivity` says who each output is for (SENSITIVITY)."""
    manifest = {
        "manifest_version": 1,
        "parameters": parameters,
        "analysis_plan": analysis_plan,
        "deviations_from_plan": list(deviations_from_plan),
        "deliveries": deliveries,
        "inputs": inputs,
        "reference_data": list(reference_data),
        "compared_inputs": list(compared_inputs),
        "not_read": list(not_read),
        "code_version": code,
        "packages": package_versions(),
        "outputs": [
            {"file": p.relative_to(path.parent).as_posix(), "sha256": sha256_of(p)} for p in sorted(outputs)
        ],
        "sensitivity": dict(SENSITIVITY),
        "release_check": release_check,
    }
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return manifest

