"""Tests for the synthetic demo-data generator (speval.demo)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pathlib

import numpy as np
import polars as pl
import pytest

from speval import demo
from speval.demo import constants, simulation, timeline

SCALE = 0.1
QUARTERS = list(constants.DELIVERIES)

PERSONS_COLS = ["TOKEN_PERSON_ID", "YEAR_OF_BIRTH", "SEX", "LSOA11", "IMD_DECILE", "GPPRAC", "LTC_COUNT",
                "RISK_SCORE", "REGISTERED_FROM", "REGISTERED_TO", "DATE_OF_DEATH"]
APC_COLS = ["TOKEN_PERSON_ID", "EPIKEY", "PROCODE3", "ADMIDATE", "EPISTART", "EPIEND", "DISDATE", "EPIORDER",
            "EPISTAT", "ADMIMETH", "CLASSPAT", "DISMETH", "DIAG_4_01"]
AE_COLS = ["TOKEN_PERSON_ID", "AEKEY", "PROCODE3", "ARRIVALDATE", "ARRIVALTIME", "AEATTENDCAT", "AEARRIVALMODE",
           "AEATTENDDISP"]
OP_COLS = ["TOKEN_PERSON_ID", "ATTENDKEY", "PROCODE3", "APPTDATE", "ATTENDED", "FIRSTATT", "TRETSPEF"]
REF_COLS = ["REFERRAL_ID", "TOKEN_PERSON_ID", "PROGRAMME", "REFERRAL_DATE", "REFERRER_PRACTICE", "REFERRAL_SOURCE",
            "ADVISER_ID", "STATUS", "CLOSED_DATE", "MH_DISCHARGE_REVIEW_DATE", "MH_DISCHARGE_DATE", "MH_REACCESS_DATE"]
ONWARD_COLS = ["ONWARD_ID", "REFERRAL_ID", "ONWARD_DATE", "SERVICE_CODE", "SERVICE_NAME", "PROVIDER_CODE",
               "SERVICE_TYPE", "FUNDING"]
WB_MEASURES = ["FEELING_POSITIVE", "LIFESTYLE", "LOOKING_AFTER_YOURSELF", "MANAGING_SYMPTOMS",
               "WORK_VOLUNTEERING_SOCIAL", "MONEY", "WHERE_YOU_LIVE", "FAMILY_FRIENDS"]
ASSESS_COLS = ["ASSESSMENT_ID", "REFERRAL_ID", "ASSESSMENT_DATE", "ASSESSMENT_TYPE", *WB_MEASURES]
SHEETS = {
    "Cover": ["FIELD", "VALUE"],
    "Activity": ["REFERRAL_ID", "SERVICE_CODE", "START_DATE", "END_DATE", "SESSIONS_ATTENDED", "OUTCOME"],
    "Volunteering": ["MONTH", "VOLUNTEERS", "HOURS"],
    "Welfare": ["REFERRAL_ID", "BENEFIT_TYPE", "AWARD_DATE", "WEEKLY_AMOUNT_GBP"],
    "Funding": ["FUNDER", "AMOUNT_GBP", "DATE_AWARDED", "ATTRIBUTED_TO_PROGRAMME"],
}
EMERGENCY = {"21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D"}


# ---------------------------------------------------------------------------- helpers


def is_nhs_number(value: str) -> bool:
    """Modulus-11 check of a 10-digit NHS number (spaces and hyphens ignored)."""
    s = value.replace(" ", "").replace("-", "")
    if len(s) != 10 or not s.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(s[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(s[9])


def read(path: pathlib.Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def norm(name) -> str:
    return "_".join(str(name).strip().upper().replace("-", " ").split()) if name is not None else ""


def parse_iso(df: pl.DataFrame, col: str) -> pl.Series:
    return df[col].str.to_date("%Y-%m-%d", strict=True)


def sha(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hashes(root: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def sheet(path: pathlib.Path, name: str, keep_blank_rows: bool = True) -> pl.DataFrame:
    """A sheet as spreadsheet rows (row i of the frame = spreadsheet row i + 1 when blank rows are kept)."""
    if keep_blank_rows:
        return pl.read_excel(path, sheet_name=name, engine="calamine", has_header=False, drop_empty_rows=False)
    return pl.read_excel(path, sheet_name=name, engine="calamine", has_header=False)


def header_index(df: pl.DataFrame, columns: list[str]) -> int:
    for i, row in enumerate(df.iter_rows()):
        if [norm(v) for v in row[: len(columns)]] == columns:
            return i
    raise AssertionError(f"header {columns} not found")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("demo")
    summary = demo.generate(out, scale=SCALE, seed=42)
    (out / "_summary.json").write_text(json.dumps(summary))
    return out


@pytest.fixture(scope="module")
def truth(data) -> dict:
    return json.loads((data / "truth.json").read_text())


# ---------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_different_seed_different_files(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    demo.generate(a, scale=0.05, seed=7)
    demo.generate(b, scale=0.05, seed=7)
    demo.generate(c, scale=0.05, seed=8)
    ha, hb, hc = tree_hashes(a), tree_hashes(b), tree_hashes(c)
    assert ha == hb
    data_files = [k for k in ha if k.endswith((".csv", ".xlsx")) and k in hc]
    differing = [k for k in data_files if ha[k] != hc[k]]
    assert len(differing) >= 0.9 * len(data_files)
    assert all(ha[k] == hc[k] for k in ha if k.endswith("manifest.json"))


def test_add_months_clamps_to_month_end():
    days = np.array([timeline.to_day("2013-01-31"), timeline.to_day("2012-08-31"), timeline.to_day("2013-03-15")])
    got = timeline.add_months(days, 1)
    assert [str(timeline.to_date(d)) for d in got] == ["2013-02-28", "2012-09-30", "2013-04-15"]
    assert str(timeline.to_date(timeline.add_months(np.array([timeline.to_day("2012-02-29")]), 12)[0])) == "2013-02-28"


def test_nhs_checker_itself():
    assert is_nhs_number("943 476 5919")
    assert is_nhs_number("401-023-2137")
    assert not is_nhs_number("9434765918")
    assert not is_nhs_number("T0123456789")


# ---------------------------------------------------------------------------- layout and shape


def test_layout_and_manifests(data):
    summary = json.loads((data / "_summary.json").read_text())
    for q, cutoff in constants.DELIVERIES.items():
        manifest = json.loads((data / "hes" / q / "manifest.json").read_text())
        assert manifest == {
            "coverage_start": "2011-04-01",
            "cutoff": cutoff.isoformat(),
            "extracted_on": (cutoff + dt.timedelta(days=17)).isoformat(),
        }
        for f in ("persons.csv", "apc.csv", "ae.csv", "op.csv"):
            assert read(data / "hes" / q / f).height == summary[f"hes/{q}/{f}"]
        for f in ("referrals.csv", "onward_referrals.csv", "assessments.csv"):
            assert read(data / "outcome_tool" / q / f).height == summary[f"outcome_tool/{q}/{f}"]
    quarters = sorted(p.name for p in (data / "provider_returns").iterdir())
    assert quarters == sorted(constants.LTC_RETURN_QUARTERS + constants.MH_RETURN_QUARTERS)
    assert (data / "truth.json").exists() and (data / "truth_patients.csv").exists()


@pytest.mark.parametrize("q", QUARTERS)
def test_hes_columns_dates_and_codes(data, q):
    cutoff = constants.DELIVERIES[q]
    persons = read(data / "hes" / q / "persons.csv")
    assert persons.columns == PERSONS_COLS
    assert persons["TOKEN_PERSON_ID"].is_unique().all()
    assert set(persons["SEX"]) <= {"1", "2", "9"}
    assert persons["IMD_DECILE"].cast(pl.Int64).is_between(1, 10).all()
    assert persons["LTC_COUNT"].cast(pl.Int64).is_between(0, 8).all()
    assert persons["RISK_SCORE"].cast(pl.Float64).is_between(0, 100).all()
    assert persons["GPPRAC"].str.contains(r"^C87\d{3}$").all()
    assert persons["LSOA11"].str.contains(r"^E0100\d{4}$").all()
    for col in ("REGISTERED_FROM", "REGISTERED_TO", "DATE_OF_DEATH"):
        d = parse_iso(persons, col)
        assert (d.drop_nulls() <= cutoff).all() or col == "REGISTERED_FROM"
    assert parse_iso(persons, "DATE_OF_DEATH").null_count() < persons.height

    apc = read(data / "hes" / q / "apc.csv")
    assert apc.columns == APC_COLS
    for col in ("ADMIDATE", "EPISTART", "EPIEND", "DISDATE"):
        d = parse_iso(apc, col).drop_nulls()
        assert (d >= dt.date(2011, 4, 1)).all() and (d <= cutoff).all()
    assert set(apc["EPISTAT"]) == {"1", "3"}
    assert set(apc["CLASSPAT"]) <= {"1", "2", "3", "4", "5"} and {"1", "2", "3"} <= set(apc["CLASSPAT"])
    assert set(apc["ADMIMETH"]) <= EMERGENCY | {"11", "12", "13"}
    assert apc["ADMIMETH"].is_in(list(EMERGENCY)).mean() > 0.5
    assert set(apc["PROCODE3"]) <= set(constants.TRUSTS)
    open_ = apc.filter(pl.col("EPISTAT") == "1")
    assert open_["EPIEND"].null_count() == open_.height and open_["DISDATE"].null_count() == open_.height
    assert apc.filter(pl.col("EPISTAT") == "3")["EPIEND"].null_count() == 0
    multi = apc.filter(pl.col("EPIORDER") == "2")
    assert multi.height > 0  # multi-episode spells exist
    assert apc["DIAG_4_01"].str.contains(r"^[A-Z]\d{2}[0-9X]$").all()

    ae = read(data / "hes" / q / "ae.csv")
    assert ae.columns == AE_COLS
    d = parse_iso(ae, "ARRIVALDATE")
    assert (d <= cutoff).all() and (d >= dt.date(2011, 4, 1)).all()
    assert ae["ARRIVALTIME"].str.contains(r"^([01]\d|2[0-3]):[0-5]\d$").all()
    assert set(ae["AEATTENDCAT"]) == {"1", "2", "3"}
    assert (ae["AEATTENDCAT"] == "1").mean() > 0.8
    assert set(ae["AEATTENDDISP"]) <= set(constants.AE_DISP)
    same_day = ae.group_by("TOKEN_PERSON_ID", "ARRIVALDATE").agg(pl.col("ARRIVALTIME").n_unique().alias("n"))
    assert (same_day["n"] >= 2).any()

    op = read(data / "hes" / q / "op.csv")
    assert op.columns == OP_COLS
    assert (parse_iso(op, "APPTDATE") <= cutoff).all()
    assert set(op["ATTENDED"]) == {"2", "3", "4", "5", "6", "7"}
    assert 0.65 < op["ATTENDED"].is_in(["5", "6"]).mean() < 0.85
    assert set(op["FIRSTATT"]) <= {"1", "2", "3", "4"}
    assert op["TRETSPEF"].str.contains(r"^\d{3}$").all()

    # every HES row belongs to a person of the delivery
    tokens = set(persons["TOKEN_PERSON_ID"])
    for df in (apc, ae, op):
        assert set(df["TOKEN_PERSON_ID"]) <= tokens


def test_keys_unique_except_planted_duplicates(data, truth):
    dups = {d["file"]: d for d in truth["planted_defects"] if d["kind"] == "exact_duplicate_rows"}
    assert set(dups) == {"hes/2013Q4/apc.csv", "hes/2013Q4/ae.csv"}
    for q in QUARTERS:
        for f, key in (("apc.csv", "EPIKEY"), ("ae.csv", "AEKEY"), ("op.csv", "ATTENDKEY")):
            df = read(data / "hes" / q / f)
            n_exact = df.height - df.unique().height
            planted = dups.get(f"hes/{q}/{f}")
            assert n_exact == (planted["count"] if planted else 0)
            assert df.unique()[key].is_unique().all()  # no conflicting keys
            if planted:
                dup_keys = df.filter(df.is_duplicated())[key].unique().sort().to_list()
                assert dup_keys == planted["keys"]
            assert df[key].to_list() == sorted(df[key].to_list())


def test_later_delivery_revises_and_withdraws(data, truth):
    for f, key, fields in (("apc.csv", "EPIKEY", ("PROCODE3", "DIAG_4_01")), ("ae.csv", "AEKEY", ("AEATTENDDISP",)),
                           ("op.csv", "ATTENDKEY", ("TRETSPEF",))):
        for prev_q, q in zip(QUARTERS, QUARTERS[1:]):
            early = read(data / "hes" / prev_q / f).unique()
            late = read(data / "hes" / q / f).unique()
            withdrawn = early.join(late, on=key, how="anti").height
            assert withdrawn > 0
            assert withdrawn == truth["delivery_withdrawals"][f"hes/{q}/{f}"]["withdrawn_records"]
            both = early.join(late, on=key, suffix="_late")
            for field in fields:
                changed = both.filter(pl.col(field) != pl.col(f"{field}_late")).height
                assert changed == truth["delivery_revisions"][f"hes/{q}/{f}"][field]
            assert sum(truth["delivery_revisions"][f"hes/{q}/{f}"][fl] for fl in fields) > 0
    # an episode open at the 2013Q2 cut-off is finished in 2013Q4
    early = read(data / "hes" / "2013Q2" / "apc.csv").filter(pl.col("EPISTAT") == "1")
    late = read(data / "hes" / "2013Q4" / "apc.csv").unique()
    j = early.join(late, on="EPIKEY", suffix="_late")
    assert j.height > 0 and (j["EPISTAT_late"] == "3").all()
    assert (parse_iso(j, "EPIEND_late") > dt.date(2013, 6, 30)).all()


def test_no_value_could_be_an_nhs_number(data):
    ten_digits = r"^\d{10}$"
    for path in sorted(data.rglob("*.csv")):
        df = read(path)
        for col in df.columns:
            s = df[col].drop_nulls().str.replace_all(r"[\s-]", "")
            hits = s.filter(s.str.contains(ten_digits)).to_list()
            assert not [h for h in hits if is_nhs_number(h)], (path, col)
            assert not hits, (path, col)
    for path in sorted(data.rglob("*.xlsx")):
        for name in SHEETS:
            df = sheet(path, name)
            for col in df.columns:
                for v in df[col].drop_nulls().cast(pl.String).to_list():
                    v = v.replace(" ", "").replace("-", "")
                    assert not (len(v) == 10 and v.isdigit()), (path, name, v)


# ---------------------------------------------------------------------------- population and referrals


def test_pool_is_ten_times_referred_and_linkage(data, truth):
    persons = read(data / "hes" / "2016Q4" / "persons.csv")
    refs = read(data / "outcome_tool" / "2016Q4" / "referrals.csv")
    tokens = set(persons["TOKEN_PERSON_ID"])
    referred = set(refs["TOKEN_PERSON_ID"])
    linked_referred = referred & tokens
    pool = tokens - referred
    assert len(pool) >= 10 * len(linked_referred)
    not_linked = referred - tokens
    planted = next(d for d in truth["planted_defects"] if d["kind"] == "referrals_not_linked")
    assert sorted(not_linked) == planted["token_person_ids"]
    assert 0.01 <= len(not_linked) / len(referred) <= 0.04
    # re-referrals: some persons have a second, later referral of the same programme
    per = refs.group_by("TOKEN_PERSON_ID", "PROGRAMME").len()
    assert (per["len"] == 2).sum() == truth["population"]["re_referrals"] > 0
    # referrer practice = the person's practice
    j = refs.join(persons, on="TOKEN_PERSON_ID")
    assert (j["REFERRER_PRACTICE"] == j["GPPRAC"]).all()
    n_referring = refs.filter(pl.col("PROGRAMME") == "LTC")["REFERRER_PRACTICE"].n_unique()
    assert n_referring <= 29 and persons["GPPRAC"].n_unique() == 36


@pytest.mark.parametrize("q", QUARTERS)
def test_outcome_tool_shape(data, truth, q):
    cutoff = constants.DELIVERIES[q]
    refs = read(data / "outcome_tool" / q / "referrals.csv")
    assert refs.columns == REF_COLS
    assert refs["REFERRAL_ID"].is_unique().all()
    assert refs["REFERRAL_ID"].str.contains(r"^R\d{6}$").all()
    assert set(refs["STATUS"]) <= {"Referred", "Engaged", "Took up", "Declined", "Closed"}
    assert set(refs["PROGRAMME"]) <= {"LTC", "MH"}
    rdate = parse_iso(refs, "REFERRAL_DATE")
    late = refs.filter(rdate > cutoff)
    assert late.height == truth["late_referrals"][f"outcome_tool/{q}/referrals.csv"]["count"]
    assert (parse_iso(late, "REFERRAL_DATE") <= cutoff + dt.timedelta(days=14)).all()
    for col in ("CLOSED_DATE", "MH_DISCHARGE_REVIEW_DATE", "MH_DISCHARGE_DATE", "MH_REACCESS_DATE"):
        assert (parse_iso(refs, col).drop_nulls() <= cutoff).all()
    ltc = refs.filter(pl.col("PROGRAMME") == "LTC")
    for col in ("MH_DISCHARGE_REVIEW_DATE", "MH_DISCHARGE_DATE", "MH_REACCESS_DATE"):
        assert ltc[col].null_count() == ltc.height
    closed = refs.filter(pl.col("STATUS").is_in(["Closed", "Declined"]))
    assert closed["CLOSED_DATE"].null_count() == 0

    onward = read(data / "outcome_tool" / q / "onward_referrals.csv")
    assert onward.columns == ONWARD_COLS
    assert set(onward["FUNDING"]) == {"Funded", "Non-funded", "Statutory"}
    j = onward.join(refs, on="REFERRAL_ID", how="left")
    assert j["REFERRAL_DATE"].null_count() == 0
    assert (parse_iso(j, "ONWARD_DATE") >= parse_iso(j, "REFERRAL_DATE")).all()
    assert (parse_iso(j, "ONWARD_DATE") <= cutoff).all()

    ass = read(data / "outcome_tool" / q / "assessments.csv")
    assert ass.columns == ASSESS_COLS
    assert set(ass["ASSESSMENT_TYPE"]) == {"Baseline", "Review"}
    assert set(ass["REFERRAL_ID"]) <= set(refs["REFERRAL_ID"])
    for m in WB_MEASURES:
        assert ass[m].drop_nulls().cast(pl.Int64).is_between(1, 5).all()
    assert (parse_iso(ass, "ASSESSMENT_DATE") <= cutoff).all()


def test_outcome_tool_progresses_between_exports(data):
    a = read(data / "outcome_tool" / "2013Q2" / "referrals.csv")
    b = read(data / "outcome_tool" / "2013Q4" / "referrals.csv")
    j = a.join(b, on="REFERRAL_ID", suffix="_later")
    assert j.filter(pl.col("STATUS") != pl.col("STATUS_later")).height > 0
    assert j.filter(pl.col("CLOSED_DATE").is_null() & pl.col("CLOSED_DATE_later").is_not_null()).height > 0
    # exports are cumulative: nothing dated on or before the earlier cut-off disappears
    assert set(a.filter(parse_iso(a, "REFERRAL_DATE") <= dt.date(2013, 6, 30))["REFERRAL_ID"]) <= set(b["REFERRAL_ID"])


def test_assessment_mix(data):
    refs = read(data / "outcome_tool" / "2016Q4" / "referrals.csv")
    ass = read(data / "outcome_tool" / "2016Q4" / "assessments.csv").with_columns(
        d=pl.col("ASSESSMENT_DATE").str.to_date())
    base = ass.filter(pl.col("ASSESSMENT_TYPE") == "Baseline").sort("d", "ASSESSMENT_ID")
    first = base.group_by("REFERRAL_ID", maintain_order=True).first()
    assert 0.40 < first.height / refs.height < 0.62
    assert base.height > first.height  # a few second baselines
    rev = ass.filter(pl.col("ASSESSMENT_TYPE") == "Review").join(first.select("REFERRAL_ID", bd=pl.col("d")),
                                                                on="REFERRAL_ID")
    gap = (rev["d"] - rev["bd"]).dt.total_days()
    in_range = rev.filter(gap.is_between(84, 140))["REFERRAL_ID"].n_unique()
    assert 0.2 < in_range / first.height < 0.5
    assert (~gap.is_between(84, 140)).sum() > 0  # reviews outside the window
    assert ass.select(pl.col(WB_MEASURES).null_count()).sum_horizontal().item() > 0  # a few blank scores


# ---------------------------------------------------------------------------- provider workbooks


def test_workbooks_are_messy_but_readable(data, truth):
    books = sorted((data / "provider_returns").rglob("*.xlsx"))
    assert len(books) == 7 * 8 - 4 + 4 * 6  # LTC providers join 2012Q3-2013Q1; six MH providers
    date_kinds, total_labels, header_styles = set(), set(), set()
    n_blank_rows = 0
    all_refs = set(read(data / "outcome_tool" / "2016Q4" / "referrals.csv")["REFERRAL_ID"])
    activity_ids = set()
    for path in books:
        for name, cols in SHEETS.items():
            df = sheet(path, name)
            h = header_index(df, cols)
            assert 1 <= h <= 3  # 1-3 title rows above the header
            assert df.row(0)[0] and all(v is None for v in df.row(0)[1:])
            header_styles.add(tuple(df.row(h)))
            body = df.slice(h + 1)
            n_blank_rows += body.filter(pl.all_horizontal(pl.all().is_null())).height
            assert sheet(path, name, keep_blank_rows=False).height <= df.height
            if name in ("Activity", "Welfare", "Funding"):
                last = body.row(body.height - 1)
                assert str(last[0]).lower().startswith("total")
                total_labels.add(last[0])
            if name == "Cover":
                fields = dict(zip(body["column_0"].to_list(), body["column_1"].to_list()))
                assert fields["Provider code"] == path.stem and fields["Quarter"] == path.parent.name
                assert fields["Grant amount"].startswith("£") and fields["Grant amount"].endswith(".00")
            if name == "Activity":
                rows = body.slice(0, body.height - 1).filter(pl.col("column_0").is_not_null())
                assert rows["column_0"].str.contains(r"^R\d{6}$").all()
                activity_ids |= set(rows["column_0"].to_list())
                for v in rows["column_2"].to_list():
                    date_kinds.add("text" if "/" in v else "excel")
                    if "/" in v:
                        dt.datetime.strptime(v, "%d/%m/%Y")
    assert date_kinds == {"text", "excel"}
    assert len(total_labels) >= 2 and len(header_styles) >= 8 and n_blank_rows > 0
    planted = [d for d in truth["planted_defects"] if d["kind"] == "activity_referral_id_unknown_to_outcome_tool"]
    assert len(planted) == constants.N_UNKNOWN_ACTIVITY_REFS
    assert activity_ids - all_refs == {d["referral_id"] for d in planted}
    for d in planted:
        rel, sheet_name = d["file"].split("#")
        df = sheet(data / rel, sheet_name)
        # row_number is the spreadsheet row (titles fill A1, so frame row 0 = spreadsheet row 1)
        assert df.row(d["row_number"] - 1)[0] == d["referral_id"]


def test_workbook_text_dates_are_day_first(data):
    seen_day_le_12 = False
    for path in sorted((data / "provider_returns").rglob("*.xlsx")):
        df = sheet(path, "Activity")
        for v in df["column_2"].drop_nulls().to_list():
            if isinstance(v, str) and len(v) == 10 and v[2] == "/":
                d = dt.datetime.strptime(v, "%d/%m/%Y").date()
                q = path.parent.name
                assert (d.month - 1) // 3 + 1 == int(q[5]) and d.year == int(q[:4])
                seen_day_le_12 |= d.day <= 12
    assert seen_day_le_12


# ---------------------------------------------------------------------------- truth


def test_truth_files(data, truth):
    assert truth["seed"] == 42 and truth["scale"] == SCALE
    rr = truth["rate_ratios"]
    assert rr["emergency_admissions"] == 0.85 and rr["elective_admissions"] == 1.0
    assert rr["ae_attendances"] == 0.9 and rr["outpatient_appointments"] == 0.95
    assert 0.85 < rr["inpatient_admissions"] < 1.0
    tp = read(data / "truth_patients.csv")
    cols = ["TOKEN_PERSON_ID", "PROGRAMME", "INDEX_DATE"] + [
        f"{m}_after_{w}m_{kind}" for w in (6, 12) for m in constants.PIPELINE_MEASURES
        for kind in ("expected", "counterfactual")
    ]
    assert sorted(tp.columns) == sorted(cols)
    refs = read(data / "outcome_tool" / "2016Q4" / "referrals.csv")
    persons = set(read(data / "hes" / "2016Q4" / "persons.csv")["TOKEN_PERSON_ID"])
    first = refs.filter(pl.col("TOKEN_PERSON_ID").is_in(list(persons))).group_by("TOKEN_PERSON_ID", "PROGRAMME").agg(
        pl.col("REFERRAL_DATE").min().alias("INDEX_DATE"))
    j = tp.join(first, on=["TOKEN_PERSON_ID", "PROGRAMME"], how="full", coalesce=True, suffix="_ref")
    assert j.height == tp.height == first.height
    assert (j["INDEX_DATE"] == j["INDEX_DATE_ref"]).all()
    num = tp.select(pl.exclude("TOKEN_PERSON_ID", "PROGRAMME", "INDEX_DATE").cast(pl.Float64))
    for w in (6, 12):
        e = num[f"emergency_admissions_after_{w}m_expected"]
        c = num[f"emergency_admissions_after_{w}m_counterfactual"]
        assert np.allclose(e.to_numpy(), 0.85 * c.to_numpy(), atol=2e-6)
        assert np.allclose(num[f"inpatient_admissions_after_{w}m_counterfactual"].to_numpy()
                           >= c.to_numpy() - 1e-6, True)
    assert (num[f"ae_attendances_after_12m_counterfactual"] >= num["ae_attendances_after_6m_counterfactual"] - 1e-6).all()
    assert {"description", "alpha_recent"} <= set(truth["selection"])
    assert "calibration_targets" in truth


def test_naive_before_after_exceeds_planted_effect(data):
    """Selection on a spike: the naive fall is larger than the planted effect (regression to the mean)."""
    refs = read(data / "outcome_tool" / "2016Q4" / "referrals.csv").filter(pl.col("PROGRAMME") == "LTC")
    idx = refs.group_by("TOKEN_PERSON_ID").agg(pl.col("REFERRAL_DATE").str.to_date().min().alias("R"))
    ae = read(data / "hes" / "2016Q4" / "ae.csv").filter(pl.col("AEATTENDCAT").is_in(["1", "3"])).with_columns(
        d=pl.col("ARRIVALDATE").str.to_date())
    j = ae.join(idx, on="TOKEN_PERSON_ID").with_columns(
        lo=pl.col("R").dt.offset_by("-12mo"), hi=pl.col("R").dt.offset_by("12mo"))
    before = j.filter((pl.col("d") >= pl.col("lo")) & (pl.col("d") < pl.col("R"))).height
    after = j.filter((pl.col("d") >= pl.col("R")) & (pl.col("d") < pl.col("hi"))).height
    assert after / before < 0.9  # planted A&E rate ratio is 0.90; the naive fall is larger


def _acute_events(root: pathlib.Path) -> pl.DataFrame:
    """Emergency admissions and A&E attendances in the last HES delivery, counted as the pipeline counts them:
    emergency = distinct person + trust + ADMIDATE of a finished episode (EPISTAT 3, CLASSPAT 1/2, emergency
    ADMIMETH); A&E = AEATTENDCAT 1 or 3."""
    apc = read(root / "hes" / "2016Q4" / "apc.csv").filter(
        (pl.col("EPISTAT") == "3") & pl.col("CLASSPAT").is_in(["1", "2"]) & pl.col("ADMIMETH").is_in(list(EMERGENCY)))
    ae = read(root / "hes" / "2016Q4" / "ae.csv").filter(pl.col("AEATTENDCAT").is_in(["1", "3"]))
    em = apc.select("TOKEN_PERSON_ID", "PROCODE3", d=pl.col("ADMIDATE").str.to_date()).unique()
    return pl.concat([em, ae.select("TOKEN_PERSON_ID", "PROCODE3", d=pl.col("ARRIVALDATE").str.to_date())])


def _index_dates(root: pathlib.Path) -> pl.DataFrame:
    """Linked referred persons and their index date (REFERRAL_DATE of their first referral)."""
    linked = read(root / "hes" / "2016Q4" / "persons.csv").select("TOKEN_PERSON_ID")
    refs = read(root / "outcome_tool" / "2016Q4" / "referrals.csv")
    return refs.group_by("TOKEN_PERSON_ID").agg(R=pl.col("REFERRAL_DATE").str.to_date().min()).join(
        linked, on="TOKEN_PERSON_ID")


def _share_with_episode_before_index(root: pathlib.Path, days: int = 28) -> float:
    """Share of linked referred persons with an emergency admission or A&E attendance in the `days` days
    before their index date."""
    idx = _index_dates(root)
    ev = _acute_events(root).join(idx, on="TOKEN_PERSON_ID")
    hit = ev.filter((pl.col("d") < pl.col("R")) & (pl.col("d") >= pl.col("R") - pl.duration(days=days)))
    return hit["TOKEN_PERSON_ID"].n_unique() / idx.height


def test_optional_referral_after_episode(data, tmp_path):
    """spike_share fills that share of each month's referral slots with persons referred 1-28 days after one of
    their own emergency admissions or A&E attendances; monthly volumes stay the same and no events are added."""
    spiked = tmp_path / "spiked"
    demo.generate(spiked, scale=SCALE, seed=42, spike_share=0.8)
    base_share, spiked_share = _share_with_episode_before_index(data), _share_with_episode_before_index(spiked)
    # measured at seed 42, scale 0.1: 0.156 -> 0.838 (scale 1: 0.117 -> 0.808)
    assert base_share <= 0.2 and spiked_share >= 0.7
    # the same number of referred persons per referral month (index dates on weekdays)
    s0, s1 = simulation.simulate(42, SCALE), simulation.simulate(42, SCALE, spike_share=0.8)
    for r0, r1 in ((s0.ltc, s1.ltc), (s0.mh, s1.mh)):
        assert np.array_equal(np.bincount(timeline.months_of(r0[1])), np.bincount(timeline.months_of(r1[1])))
        assert ((r1[1] + 3) % 7 < 5).all()
    assert np.array_equal(s1.index_day[s1.ltc[0]], s1.ltc[1]) and np.array_equal(s1.index_day[s1.mh[0]], s1.mh[1])
    assert not np.isin(s1.mh[0], s1.ltc[0]).any()  # MH among persons never referred to LTC
    # truth_patients.csv, referrals.csv and HES agree on the index date
    i1 = _index_dates(spiked)
    tp = read(spiked / "truth_patients.csv").select("TOKEN_PERSON_ID", R_truth=pl.col("INDEX_DATE").str.to_date())
    jt = tp.join(i1, on="TOKEN_PERSON_ID", how="full", coalesce=True)
    assert jt.height == tp.height == i1.height and (jt["R_truth"] == jt["R"]).all()
    # no events added: a person never referred in either run has exactly the same simulated events
    for (p0, d0), (p1, d1) in zip(s0.events, s1.events):
        never0 = (s0.programme[p0] < 0) & (s1.programme[p0] < 0)
        never1 = (s0.programme[p1] < 0) & (s1.programme[p1] < 0)
        assert np.array_equal(p0[never0], p1[never1]) and np.array_equal(d0[never0], d1[never1])
    t0 = json.loads((data / "truth.json").read_text())
    t1 = json.loads((spiked / "truth.json").read_text())
    assert "pre_referral_spike" not in t0
    spike = t1["pre_referral_spike"]
    assert spike["share"] == 0.8 and spike["days"] == 28 and spike["referred_persons"] == len(s1.ltc[0]) + len(s1.mh[0])
    n_ref = spike["referred_persons"]
    assert 0.75 * n_ref <= spike["referred_persons_after_episode"] <= 0.85 * n_ref
    assert 0 < spike["linked_referred_persons_after_episode"] <= spike["referred_persons_after_episode"]
