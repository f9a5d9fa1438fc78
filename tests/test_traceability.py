"""Every figure of the matched comparison in the report can be traced to a CSV of `tables/` (docs/contract/outputs.md,
"Tables beyond the contract"): sensitivity.csv (every matching setting's estimates), balance_all_settings.csv (SMDs
and variance ratios of every setting) and unmatched.csv (the treated left unmatched, counted by reason).

The fast tests run each query on an in-memory DuckDB with a few hand-written rows; the demo tests (marked
`pipeline`) read the shared demo run and trace figures the report prints back to the CSVs through the same
disclosure control the report applies."""
from __future__ import annotations

import json
import hashlib
from html.parser import HTMLParser

import duckdb
import polars as pl
import pytest

from speval.analysis.comparison import BALANCE_SCHEMA, COVARIATES, EFFECT_SCHEMA, UNMATCHED_SCHEMA
from speval.report import disclosure as dc
from speval.report import format as fmt
from speval.report.outputs import (BALANCE_ALL_SETTINGS_COLUMNS, EXTRA_TABLES, REPORT_ONLY_TABLES,
                                   SENSITIVITY_COLUMNS, UNMATCHED_COLUMNS, read_extra_table)
from speval.report.sections.common import COHORT_LABELS
from speval.report.sections.matched import HEADLINE_MEASURE, PRIMARY_SETTING, covariate_label, setting_parts
from speval.run.vocabulary import UNMATCHED_REASONS

REASONS = [r.code for r in UNMATCHED_REASONS]
GRID = "caliper 0.1 SD, 3:1, with replacement"
NEW_TABLES = ("sensitivity", "balance_all_settings", "unmatched")

# --------------------------------------------------------------------------- the queries, on hand-written rows

SETTINGS = pl.DataFrame(  # stored grid first: the order comes from setting_order, not from the rows
    {"setting": [GRID, PRIMARY_SETTING], "setting_order": [2, 1], "caliper": [0.1, 0.2], "ratio": [3, 1],
     "with_replacement": [True, False], "is_primary": [False, True]},
    schema={"setting": pl.String, "setting_order": pl.Int64, "caliper": pl.Float64, "ratio": pl.Int64,
            "with_replacement": pl.Boolean, "is_primary": pl.Boolean})


def _effect(setting: str, cohort: str, measure: str, did: float, **more) -> dict:
    row = {c: None for c in EFFECT_SCHEMA}
    row.update({"setting": setting, "cohort": cohort, "measure": measure, "n_treated": 40, "n_controls": 38,
                "treated_before": 1.5, "treated_after": 1.0, "control_before": 1.4, "control_after": 1.2, "did": did,
                "did_ci_low": did - 0.2, "did_ci_high": did + 0.2, "rate_ratio": 0.8, "rr_ci_low": 0.6,
                "rr_ci_high": 1.1, **more})
    return row


EFFECTS = pl.DataFrame([  # rows out of order on purpose
    _effect(GRID, "12m", "emergency_admissions", -0.11),
    _effect(PRIMARY_SETTING, "12m", "emergency_admissions", -0.3, did_adjusted=-0.25, did_adjusted_ci_low=-0.5,
            did_adjusted_ci_high=0.0, rate_ratio_adjusted=0.82, rr_adjusted_ci_low=0.7, rr_adjusted_ci_high=0.97,
            e_value=1.74, e_value_ci=1.0),
    _effect(PRIMARY_SETTING, "6m", "emergency_admissions", -0.2),
    _effect(PRIMARY_SETTING, "12m", "inpatient_admissions", -0.1, rate_ratio=float("nan")),  # undefined: blank
    _effect(GRID, "6m", "emergency_admissions", -0.21),
], schema=EFFECT_SCHEMA)

BALANCE = pl.DataFrame([
    {"setting": s, "cohort": c, "covariate": v, "smd_before": 0.5, "smd_after": after, "variance_ratio_after": vr}
    for s, c, v, after, vr in [
        (GRID, "12m", "risk_score", 0.02, 1.1), (PRIMARY_SETTING, "12m", "risk_score", -0.31, 0.91),
        (PRIMARY_SETTING, "12m", "age", 0.05, 1.25), (PRIMARY_SETTING, "6m", "age", 0.01, None),
        (GRID, "6m", "age", 0.0, 0.97), (PRIMARY_SETTING, "12m", "emergency_admissions_1m", 0.12, 0.8),
        (PRIMARY_SETTING, "6m", "female", float("inf"), 1.0)]
], schema=BALANCE_SCHEMA)

PERSONS = ["Tp0000000001", "Tp0000000002", "Tp0000000003", "Tp0000000004", "Tp0000000005", "Tp0000000006"]
UNMATCHED = pl.DataFrame([
    {"setting": s, "cohort": c, "person_id": p, "stratum_start": None, "reason": r}
    for s, c, p, r in [
        (PRIMARY_SETTING, "12m", PERSONS[0], "candidates used up"),
        (PRIMARY_SETTING, "12m", PERSONS[1], "no candidate within caliper"),
        (PRIMARY_SETTING, "12m", PERSONS[2], "candidates used up"),
        (PRIMARY_SETTING, "6m", PERSONS[3], "a reason of the future"),
        (GRID, "6m", PERSONS[4], "no candidates in stratum"),
        (GRID, "6m", PERSONS[5], "no candidates in stratum")]
], schema=UNMATCHED_SCHEMA)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA analysis")
    for name, frame in (("matching_settings", SETTINGS), ("matched_effects", EFFECTS), ("balance", BALANCE),
                        ("unmatched_treated", UNMATCHED)):
        con.register(f"_{name}", frame)
        con.execute(f"CREATE TABLE analysis.{name} AS SELECT * FROM _{name}")
    yield con
    con.close()


def test_sensitivity_has_every_setting_with_its_method_as_typed_columns(con, tmp_path):
    df = read_extra_table(con, "sensitivity")
    assert tuple(df.columns) == SENSITIVITY_COLUMNS
    assert df.schema["caliper"] == pl.Float64 and df.schema["ratio"] == pl.Int64
    assert df.schema["with_replacement"] == pl.Boolean and df.schema["is_primary"] == pl.Boolean
    assert df.select("setting", "cohort", "measure").rows() == [  # primary first; 6m before 12m; measures in order
        (PRIMARY_SETTING, "6m", "emergency_admissions"), (PRIMARY_SETTING, "12m", "inpatient_admissions"),
        (PRIMARY_SETTING, "12m", "emergency_admissions"), (GRID, "6m", "emergency_admissions"),
        (GRID, "12m", "emergency_admissions")]
    rows = {(r["setting"], r["cohort"], r["measure"]): r for r in df.to_dicts()}
    primary = rows[(PRIMARY_SETTING, "12m", "emergency_admissions")]
    assert (primary["setting_order"], primary["caliper"], primary["ratio"], primary["with_replacement"],
            primary["is_primary"]) == (1, 0.2, 1, False, True)
    assert (primary["did"], primary["did_adjusted"], primary["rate_ratio"], primary["rr_ci_low"],
            primary["rr_ci_high"], primary["rate_ratio_adjusted"], primary["e_value"]) == (
        -0.3, -0.25, 0.8, 0.6, 1.1, 0.82, 1.74)
    grid = rows[(GRID, "12m", "emergency_admissions")]
    assert (grid["caliper"], grid["ratio"], grid["with_replacement"], grid["is_primary"]) == (0.1, 3, True, False)
    assert grid["did_adjusted"] is None  # the doubly robust estimate is the primary setting's only
    # The sensitivity table's max |SMD|: the largest |smd_after| of the setting and cohort.
    assert primary["max_abs_smd_after"] == 0.31 and grid["max_abs_smd_after"] == 0.02
    assert rows[(PRIMARY_SETTING, "6m", "emergency_admissions")]["max_abs_smd_after"] == float("inf")
    assert rows[(PRIMARY_SETTING, "12m", "inpatient_admissions")]["rate_ratio"] is None  # NaN written blank
    df.write_csv(tmp_path / "sensitivity.csv")
    assert "nan" not in (tmp_path / "sensitivity.csv").read_text().lower()


def test_the_report_gets_every_setting_from_the_same_query_as_before(con):
    """The report's frame of every setting is read from sensitivity.csv's query, with exactly the columns and rows
    of analysis.matched_effects (what the sections were written for)."""
    report = con.sql(REPORT_ONLY_TABLES["matched_effects_all_settings"]).pl()
    assert report.columns == list(EFFECT_SCHEMA) and report.schema == EFFECTS.schema
    before = con.sql("SELECT * FROM analysis.matched_effects").pl()
    key = ["setting", "cohort", "measure"]
    assert report.sort(key).equals(before.sort(key), null_equal=True)
    assert report.select(key).rows() == read_extra_table(con, "sensitivity").select(key).rows()  # in the CSV's order


def test_balance_of_every_setting_with_variance_ratios(con):
    df = read_extra_table(con, "balance_all_settings")
    assert tuple(df.columns) == BALANCE_ALL_SETTINGS_COLUMNS == tuple(BALANCE_SCHEMA)
    assert df.select("setting", "cohort", "covariate").rows() == [
        (PRIMARY_SETTING, "6m", "age"), (PRIMARY_SETTING, "6m", "female"), (PRIMARY_SETTING, "12m", "age"),
        (PRIMARY_SETTING, "12m", "risk_score"), (PRIMARY_SETTING, "12m", "emergency_admissions_1m"),
        (GRID, "6m", "age"), (GRID, "12m", "risk_score")]
    assert COVARIATES.index("risk_score") < COVARIATES.index("emergency_admissions_1m")
    rows = {(r["setting"], r["cohort"], r["covariate"]): r for r in df.to_dicts()}
    assert rows[(PRIMARY_SETTING, "12m", "age")]["variance_ratio_after"] == 1.25
    assert rows[(PRIMARY_SETTING, "6m", "age")]["variance_ratio_after"] is None
    # The report reads the same query: the same columns as analysis.balance, every row.
    report = con.sql(REPORT_ONLY_TABLES["balance_all_settings"]).pl()
    assert report.columns == list(BALANCE_SCHEMA) and report.height == BALANCE.height


def test_unmatched_counts_every_setting_cohort_and_reason_without_person_ids(con, tmp_path):
    df = read_extra_table(con, "unmatched")
    assert tuple(df.columns) == UNMATCHED_COLUMNS and "person_id" not in df.columns
    # Every setting × cohort × reason of the vocabulary, in its order; a reason outside it after them.
    assert df.select("setting", "cohort", "reason").rows() == [
        *((PRIMARY_SETTING, "6m", r) for r in REASONS), (PRIMARY_SETTING, "6m", "a reason of the future"),
        *((PRIMARY_SETTING, "12m", r) for r in REASONS),
        *((GRID, "6m", r) for r in REASONS), *((GRID, "12m", r) for r in REASONS)]
    n = {(s, c, r): k for s, c, r, k in df.rows()}
    assert n[(PRIMARY_SETTING, "12m", "candidates used up")] == 2
    assert n[(PRIMARY_SETTING, "12m", "no candidate within caliper")] == 1
    assert n[(PRIMARY_SETTING, "12m", "no candidates in stratum")] == 0
    assert n[(GRID, "6m", "no candidates in stratum")] == 2 and n[(GRID, "12m", "candidates used up")] == 0
    assert df["n"].sum() == UNMATCHED.height
    path = tmp_path / "unmatched.csv"
    df.write_csv(path)
    assert not any(p in path.read_text() for p in PERSONS)
    # The report gets the reasons someone was left for, as it always did (the grid's zeros it prints as 0 itself).
    report = con.sql(REPORT_ONLY_TABLES["unmatched_treated"]).pl()
    before = con.sql("SELECT setting, cohort, reason, count(*) AS n FROM analysis.unmatched_treated "
                     "GROUP BY ALL ORDER BY ALL").pl()
    assert report.columns == before.columns and sorted(report.rows()) == sorted(before.rows())


def test_the_new_tables_are_written_with_the_others():
    assert set(NEW_TABLES) <= set(EXTRA_TABLES)
    from assets.report import EXTRA_SOURCES, TABLE_SOURCES

    # analysis_tables waits for what they read (the unmatched treated are not among the contract's sources).
    assert "analysis.unmatched_treated" in EXTRA_SOURCES
    assert {"analysis.matched_effects", "analysis.balance", "analysis.matching_settings"} <= set(TABLE_SOURCES)


# --------------------------------------------------------------------------- the demo report (real pipeline run)


class _Tables(HTMLParser):
    """The report's tables: caption, and each row's class and cells (tag, class, text with spaces normalised)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self._row: dict | None = None
        self._cell: dict | None = None
        self._caption: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"class": a.get("class") or "", "caption": "", "rows": []})
        elif not self.tables:
            return
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._row = {"class": a.get("class") or "", "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"tag": tag, "class": a.get("class") or "", "text": []}
        elif tag == "br" and self._cell is not None:
            self._cell["text"].append(" ")

    def handle_endtag(self, tag):
        if tag == "caption" and self._caption is not None:
            self.tables[-1]["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append((self._cell["tag"], self._cell["class"],
                                       " ".join("".join(self._cell["text"]).split())))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"].append(data)
        elif self._caption is not None:
            self._caption.append(data)


def _report_table(run_folder, caption: str) -> dict:
    parser = _Tables()
    parser.feed((run_folder / "evaluation_report.html").read_text(encoding="utf-8"))
    found = [t for t in parser.tables if caption in t["caption"]]
    assert len(found) == 1, [t["caption"] for t in parser.tables]
    return found[0]


def _cohorts_in_header(t: dict) -> list[str]:
    """The cohorts of a table's column groups, in the order printed (their labels, e.g. "12 month cohort")."""
    by_label = {label.lower(): code for code, label in COHORT_LABELS.items()}
    return [by_label[text.lower()] for tag, _, text in t["rows"][0]["cells"] if text.lower() in by_label]


def _body(t: dict) -> list[dict]:
    return [r for r in t["rows"][2:] if any(tag == "td" for tag, _, _ in r["cells"])]


def _printed(value: str) -> str:
    """A published cell as the report prints it (an en dash when blank; a proper minus sign, separators)."""
    return fmt.display(fmt.cell(value))


@pytest.fixture(scope="module")
def demo(demo_run):
    folder = demo_run / "out" / "LTC" / "2013Q4"
    tables = {name: pl.read_csv(folder / "tables" / f"{name}.csv", infer_schema_length=None)
              for name in (*NEW_TABLES, "matched_effects", "balance", "effect_estimates")}
    return folder, tables


@pytest.mark.pipeline
def test_demo_run_writes_the_new_tables_listed_in_the_manifest(demo_run, demo):
    folder, t = demo
    manifest = json.loads((folder / "run_manifest.json").read_text())
    outputs = {o["file"]: o["sha256"] for o in manifest["outputs"]}
    for name in NEW_TABLES:
        path = folder / "tables" / f"{name}.csv"
        assert outputs[f"tables/{name}.csv"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"tables/{name}.csv" in manifest["release_check"]["files_checked"]  # scanned for identifiers
    assert manifest["release_check"]["passed"]
    assert tuple(t["sensitivity"].columns) == SENSITIVITY_COLUMNS
    assert tuple(t["balance_all_settings"].columns) == BALANCE_ALL_SETTINGS_COLUMNS
    assert tuple(t["unmatched"].columns) == UNMATCHED_COLUMNS
    with duckdb.connect(str(demo_run / "w.duckdb"), read_only=True) as con:
        settings = con.execute("SELECT count(*) FROM analysis.matching_settings").fetchone()[0]
        people = {p for (p,) in con.execute("SELECT person_id FROM analysis.unmatched_treated").fetchall()}
        unmatched = con.execute("SELECT count(*) FROM analysis.unmatched_treated").fetchone()[0]
    assert t["sensitivity"]["setting"].n_unique() == settings > 1
    assert t["unmatched"].height == settings * len(COHORT_LABELS) * len(REASONS)
    assert t["unmatched"]["n"].sum() == unmatched
    text = (folder / "tables" / "unmatched.csv").read_text()
    assert people and not any(p in text for p in people)  # counts only: no person's id
    # The primary rows repeat the contract's tables: one figure, one value, whichever file it is read from.
    primary = t["sensitivity"].filter(pl.col("is_primary"))
    assert primary.select(t["matched_effects"].columns).equals(t["matched_effects"])
    did = t["effect_estimates"].filter(estimator="did")
    assert primary.select("rate_ratio", "rr_ci_low", "rr_ci_high").equals(
        did.select("rate_ratio", "rr_ci_low", "rr_ci_high"))
    bal = t["balance_all_settings"].filter(setting=PRIMARY_SETTING)
    key = ["cohort", "covariate"]
    assert bal.select(t["balance"].columns).sort(key).equals(t["balance"].sort(key))


@pytest.mark.pipeline
def test_demo_variance_ratios_trace_to_balance_all_settings(demo):
    folder, t = demo
    published = {(r["cohort"], r["covariate"]): r for r in dc.publish_balance_all_settings(
        t["balance_all_settings"], t["sensitivity"]).to_dicts() if r["setting"] == PRIMARY_SETTING}
    table = _report_table(folder, "Standardised mean differences before and after matching")
    cohorts = _cohorts_in_header(table)
    assert sorted(cohorts) == sorted(COHORT_LABELS)
    labels = {covariate_label(cov): cov for cov in COVARIATES}
    rows = _body(table)
    assert len(rows) == len(COVARIATES)
    for row in rows:
        label, *cells = [text for _, _, text in row["cells"]]
        cov = labels[label]
        for i, cohort in enumerate(cohorts):
            vr = published[(cohort, cov)]["variance_ratio_after"]
            assert cells[3 * i + 2] == _printed(vr), (cohort, cov)
    # One by hand: the CSV's value to 2 decimals, half up (the demo's matched groups are large).
    raw = t["balance_all_settings"].filter(setting=PRIMARY_SETTING, cohort="12m", covariate="age")
    assert published[("12m", "age")]["variance_ratio_after"] == dc.format_decimal(raw["variance_ratio_after"][0], 2)


@pytest.mark.pipeline
def test_demo_sensitivity_table_traces_to_sensitivity_csv(demo):
    folder, t = demo
    sens = t["sensitivity"]
    published = {(r["setting"], r["cohort"]): r for r in dc.publish_matched_effects_all_settings(sens).to_dicts()
                 if r["measure"] == HEADLINE_MEASURE}
    smd = dc.publish_balance_all_settings(t["balance_all_settings"], sens)
    methods = {r["setting"]: r for r in sens.unique("setting").to_dicts()}
    table = _report_table(folder, "difference in differences under each matching setting")
    cohorts = _cohorts_in_header(table)
    assert sorted(cohorts) == sorted(COHORT_LABELS)
    rows = _body(table)
    assert len(rows) == len(methods)
    by_method = {}
    for row in rows:
        stub, ratio, replacement, *cells = [text for _, _, text in row["cells"]]
        by_method[(stub.removesuffix(" primary"), ratio, replacement, stub.endswith(" primary"))] = cells
    for setting in sens["setting"].unique(maintain_order=True):
        parts = setting_parts(setting, methods)
        cells = by_method[(parts["caliper"], f"{parts['ratio']}:1", parts["replacement"], parts["primary"])]
        raw_rows = sens.filter(setting=setting, measure=HEADLINE_MEASURE)
        for i, cohort in enumerate(cohorts):
            p = published[(setting, cohort)]
            n, max_smd, did, ci = cells[4 * i: 4 * i + 4]
            assert n == _printed(p["n_treated"]), (setting, cohort)
            assert did == _printed(fmt.signed(p["did"])) and ci == _printed(fmt.interval(p["did_ci_low"],
                                                                                       p["did_ci_high"]))
            # Max |SMD|: the published SMDs' maximum is the CSV's max_abs_smd_after, published.
            of_setting = smd.filter(setting=setting, cohort=cohort)["smd_after"].to_list()
            raw = raw_rows.filter(cohort=cohort)["max_abs_smd_after"][0]
            assert max_smd == _printed(dc.publish_max_abs(of_setting)) == _printed(dc.format_decimal(raw, 2))
    assert sens.filter(pl.col("is_primary"))["setting"].unique().to_list() == [PRIMARY_SETTING]


@pytest.mark.pipeline
def test_demo_unmatched_counts_trace_to_unmatched_csv(demo):
    folder, t = demo
    primary = t["unmatched"].filter(setting=PRIMARY_SETTING)
    table = _report_table(folder, "Referred patients matched and not matched, by reason")
    header = [text for _, _, text in table["rows"][0]["cells"]][1:]
    by_label = {label.lower(): code for code, label in COHORT_LABELS.items()}
    cohorts = [by_label[h.lower()] for h in header]
    assert sorted(cohorts) == sorted(COHORT_LABELS)
    rows = {r["cells"][0][2]: [text for _, _, text in r["cells"][1:]] for r in table["rows"][1:]}
    matched = t["matched_effects"].filter(measure=HEADLINE_MEASURE)
    for i, cohort in enumerate(cohorts):
        of_cohort = primary.filter(cohort=cohort)
        for reason in UNMATCHED_REASONS:
            n = of_cohort.filter(reason=reason.code)["n"][0]
            assert rows[reason.label][i] == _printed(dc.publish_count(n)), (cohort, reason.code)
        assert rows["Not matched, all reasons"][i] == _printed(dc.publish_count(of_cohort["n"].sum()))
        assert rows["Matched"][i] == _printed(dc.publish_count(matched.filter(cohort=cohort)["n_treated"][0]))


@pytest.mark.pipeline
def test_demo_ratio_of_rate_ratios_traces_to_the_csvs(demo):
    """The rate-ratio table prints effect_estimates.csv's `rate_ratio` of the `did` rows (= sensitivity.csv's primary
    rows): the ratio of rate ratios is in the tables already, not in a table of its own."""
    folder, t = demo
    primary = t["sensitivity"].filter(pl.col("is_primary"))
    published = {(r["cohort"], r["measure"]): r for r in dc.publish_matched_effects_all_settings(primary).to_dicts()}
    table = _report_table(folder, "Proportional change compared with the matched group")
    from speval.report.sections.common import MEASURES

    labels = dict(MEASURES)
    cohort = None
    checked = 0
    by_label = {label.lower(): code for code, label in COHORT_LABELS.items()}
    for row in table["rows"]:
        texts = [text for _, _, text in row["cells"]]
        if "cohort" in row["class"].split():
            cohort = by_label[texts[0].lower()]
            continue
        if cohort is None or texts[0] not in labels.values():
            continue
        measure = next(m for m, label in labels.items() if label == texts[0])
        p = published[(cohort, measure)]
        assert texts[1] == _printed(p["rate_ratio"]), (cohort, measure)
        assert texts[2] == _printed(fmt.interval(p["rr_ci_low"], p["rr_ci_high"]))
        checked += 1
    assert checked == primary.height
