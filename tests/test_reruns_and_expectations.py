"""A delivered file that changed after ingestion stops the run; a failed run leaves no report behind; the Great
Expectations suites catch rows that break the contract. (Re-running a quarter adds nothing: test_end_to_end.)"""
from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from builders import DataSet
from speval.validate.expectations import Coverage, validate

pytestmark = pytest.mark.pipeline  # real `speval run` / Dagster job or PDF rendering: not in `make test-fast`

COVERAGE = Coverage(dt.date(2011, 4, 1), dt.date(2013, 12, 31))


def small(root):
    ds = DataSet(root)
    ds.person("P1")
    ds.apc("P1", "2013-01-10")
    ds.ae("P1", "2013-02-01")
    ds.op("P1", "2013-02-02")
    ds.referral("P1", "2013-03-15")
    return ds


def test_a_failed_run_leaves_no_report_behind(tmp_path, run_speval):
    """A published report goes as soon as a later run of its quarter fails: when a delivered file changed after
    the warehouse ingested it, and when a file is refused on a new warehouse. (A rerun that adds nothing:
    test_end_to_end, whose fixture runs the quarter twice on one warehouse.)"""
    data = small(tmp_path / "data").write()
    published = run_speval(data)
    assert published.exit_code == 0
    shutil.copytree(tmp_path / "out", tmp_path / "out_copy")  # the same report, published in a second folder

    apc = data / "hes" / "2013Q4" / "apc.csv"
    apc.write_text(apc.read_text().replace("2013-01-10", "2013-01-11"))
    run = run_speval(data)
    assert run.exit_code == 1
    assert "hes/2013Q4/apc.csv: refused — the delivered file changed since this warehouse ingested it" in run.stderr
    assert not (run.run_dir / "evaluation_report.pdf").exists()  # the earlier run's report is gone too
    assert not (run.run_dir / "tables").exists()

    (data / "outcome_tool" / "2013Q4" / "referrals.csv").write_text("REFERRAL_ID,TOKEN_PERSON_ID\nR1,P1\n")
    copy = tmp_path / "out_copy" / "LTC" / "2013Q4"
    assert (copy / "evaluation_report.pdf").is_file()
    run = run_speval(data, out=tmp_path / "out_copy", warehouse=tmp_path / "other.duckdb")
    assert run.exit_code == 1
    assert "outcome_tool/2013Q4/referrals.csv: refused — required column(s) missing: PROGRAMME" in run.stderr
    assert run.run_dir == copy and not any(copy.glob("evaluation_report.*"))


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_expectations_pass_on_valid_rows():
    persons = frame(TOKEN_PERSON_ID=["A", "B"], YEAR_OF_BIRTH=[1950, 1960], SEX=["1", "2"], LSOA11=["E1", None],
                    IMD_DECILE=[1, 10], GPPRAC=["C1", "C2"], LTC_COUNT=[0, 3], RISK_SCORE=[0.0, 100.0],
                    REGISTERED_FROM=pd.to_datetime(["2000-01-01", "2001-01-01"]),
                    REGISTERED_TO=pd.to_datetime([None, "2013-01-01"]), DATE_OF_DEATH=pd.to_datetime([None, None]))
    assert validate("persons", persons, COVERAGE) == []


@pytest.mark.parametrize("column,values,expectation", [
    ("SEX", ["1", "7"], "expect_column_values_to_be_in_set"),
    ("TOKEN_PERSON_ID", ["A", "A"], "expect_column_values_to_be_unique"),
    ("IMD_DECILE", [1, 11], "expect_column_values_to_be_between"),
    ("GPPRAC", ["C1", None], "expect_column_values_to_not_be_null"),
])
def test_expectations_catch_rows_that_break_the_contract(column, values, expectation):
    persons = dict(TOKEN_PERSON_ID=["A", "B"], YEAR_OF_BIRTH=[1950, 1960], SEX=["1", "2"], LSOA11=["E1", "E2"],
                   IMD_DECILE=[1, 10], GPPRAC=["C1", "C2"], LTC_COUNT=[0, 3], RISK_SCORE=[0.0, 1.0],
                   REGISTERED_FROM=pd.to_datetime(["2000-01-01", "2001-01-01"]),
                   REGISTERED_TO=pd.to_datetime([None, None]), DATE_OF_DEATH=pd.to_datetime([None, None]))
    persons[column] = values
    failed = validate("persons", frame(**persons), COVERAGE)
    assert [(f["expectation"], f["column"]) for f in failed] == [(expectation, column)]


def test_expectations_catch_dates_outside_coverage_and_wrong_order():
    apc = frame(TOKEN_PERSON_ID=["A", "B"], EPIKEY=["E1", "E2"], PROCODE3=["RFR", "RFR"],
                ADMIDATE=pd.to_datetime(["2013-01-01", "2014-01-02"]),
                EPISTART=pd.to_datetime(["2013-01-01", "2014-01-02"]),
                EPIEND=pd.to_datetime(["2012-12-31", "2014-01-03"]), DISDATE=pd.to_datetime([None, None]),
                EPIORDER=[1, 1], EPISTAT=["3", "3"], ADMIMETH=["21", "2A"], CLASSPAT=["1", "2"],
                DISMETH=["1", "1"], DIAG_4_01=["J449", "I10X"])
    failed = {(f["expectation"], f["column"]) for f in validate("apc", apc, COVERAGE)}
    assert failed == {("expect_column_pair_values_a_to_be_greater_than_b", "EPIEND vs EPISTART"),
                      ("expect_column_values_to_be_between", "ADMIDATE"),
                      ("expect_column_values_to_be_between", "EPISTART")}
