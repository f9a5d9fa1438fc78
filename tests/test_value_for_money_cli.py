"""`speval value-for-money` through pipelines.cli.main in-process: numbers typed in reproduce the seeds' rows,
a run's value_inputs.csv is recomputed as the pipeline computes value_for_money.csv, and bad input is refused
with one line and exit code 2 (speval/economics/calculator.py; docs/contract/rules.md "Value for money")."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.cli import main
from speval.economics.value import Saving, value_for_money

CSV_COLUMNS = ["basis", "scenario", "years", "discount_rate", "drop_off", "annual_benefit_gbp", "benefit_gbp",
               "cost_gbp", "roi", "payback_months"]
# The seeds (2014 evaluation): published five-year benefit, published ROI, the formula's benefit to the pound,
# payback in months; tolerances as in tests/test_economics_scenarios.py (2 significant figures for £1.9m and
# £1.2m, 1% for £807k, which the formula's £812,213 is ~0.6% above; ROI within 0.01).
SEEDS = {"drop_off_0": (0.0, 1_900_000, 3.38, 1_939_328, 17), "drop_off_20": (0.2, 1_200_000, 2.08, 1_190_269, 18),
         "drop_off_33": (0.333, 807_000, 1.41, 812_213, 19)}
DISCOUNTS = [1 / 1.035 ** t for t in range(5)]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == CSV_COLUMNS
        return list(reader)


def test_numbers_reproduce_the_seeds_rows(tmp_path, capsys):
    out = tmp_path / "seeds.csv"
    code = main(["value-for-money", "--annual-benefit", "415000", "--cost", "573769", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert printed.err == ""
    rows = _csv(out)
    assert [r["scenario"] for r in rows] == list(SEEDS)
    for row in rows:
        drop_off, published_benefit, published_roi, formula_benefit, payback = SEEDS[row["scenario"]]
        benefit, roi = float(row["benefit_gbp"]), float(row["roi"])
        assert row["basis"] == "entered"
        assert (int(row["years"]), float(row["discount_rate"]), float(row["drop_off"])) == (5, 0.035, drop_off)
        assert (float(row["annual_benefit_gbp"]), float(row["cost_gbp"])) == (415_000.0, 573_769.0)
        assert round(benefit) == formula_benefit
        if published_benefit >= 1_000_000:
            assert float(f"{benefit:.2g}") == published_benefit
        else:
            assert abs(benefit - published_benefit) / published_benefit < 0.01
        assert abs(roi - published_roi) <= 0.01
        assert int(row["payback_months"]) == payback
    # The printed table: pounds with thousands separators, ROI to 2 dp, payback in months.
    lines = printed.out.splitlines()
    for label, benefit, roi, payback in (("benefit sustained", "£1,939,328", "3.38", "17 months"),
                                         ("falling 20% a year", "£1,190,269", "2.07", "18 months"),
                                         ("falling 33.3% a year", "£812,213", "1.42", "19 months")):
        (line,) = [x for x in lines if label in x]
        assert line.split()[-5:] == [benefit, "£573,769", roi, *payback.split()], line
    assert "annual benefit £415,000, annual cost £573,769" in printed.out
    assert f"Scenarios written to {out}" in printed.out


def test_default_csv_is_written_in_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["value-for-money", "--annual-benefit", "£415,000", "--cost", "573,769"]) == 0
    rows = _csv(tmp_path / "value_for_money_scenarios.csv")
    assert [round(float(r["benefit_gbp"])) for r in rows] == [1_939_328, 1_190_269, 812_213]


def test_options_change_the_projection(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--annual-benefit", "1200", "--cost", "1800", "--years", "3",
                 "--discount-rate", "0.1", "--drop-off", "0.5", "--drop-off", "0.125", "--out", str(out)]) == 0
    rows = {r["scenario"]: r for r in _csv(out)}
    assert list(rows) == ["drop_off_50", "drop_off_12.5"]
    half = rows["drop_off_50"]
    assert (int(half["years"]), float(half["discount_rate"]), float(half["drop_off"])) == (3, 0.1, 0.5)
    assert float(half["benefit_gbp"]) == pytest.approx(1200 + 600 / 1.1)  # + 0 in year 3
    assert float(half["roi"]) == pytest.approx((1200 + 600 / 1.1) / 1800)
    assert int(half["payback_months"]) == 24  # 1,200 + 12 × 50: all there will ever be
    eighth = rows["drop_off_12.5"]
    assert float(eighth["benefit_gbp"]) == pytest.approx(1200 + 1050 / 1.1 + 900 / 1.21)
    assert int(eighth["payback_months"]) == 19  # 1,200 + 7 × 87.5 = 1,812.5


def test_payback_not_reached_is_said_in_words_and_blank_in_the_csv(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--annual-benefit", "1000", "--cost", "100000", "--drop-off", "0",
                 "--out", str(out)]) == 0
    assert "not within 60 months" in capsys.readouterr().out
    (row,) = _csv(out)
    assert row["payback_months"] == ""
    assert float(row["roi"]) == pytest.approx(1000 * sum(DISCOUNTS) / 100_000)


# ------------------------------------------------------------------------------------------------ --run
HEADER = ("basis,saving_per_patient_gbp,referred_to_date,referred_last_year,annual_benefit_gbp,cost_to_date_gbp,"
          "annual_cost_gbp,price_year\n")
VALUE_INPUTS = HEADER + """naive,400,1200,1000,400000,1100000,573769,2013/14
matched,150.5,1200,1000,150500,1100000,573769,2013/14
"""


def _run_folder(root: Path, text: str = VALUE_INPUTS) -> Path:
    (root / "run" / "tables").mkdir(parents=True)
    (root / "run" / "tables" / "value_inputs.csv").write_text(text, encoding="utf-8")
    return root / "run"


def test_run_recomputes_each_basis_by_hand(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--run", str(_run_folder(tmp_path)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {(r["basis"], r["scenario"]): r for r in _csv(out)}
    assert list(rows) == [(b, s) for b in ("naive", "matched")
                          for s in ("to_date", "drop_off_0", "drop_off_20", "drop_off_33")]
    to_date = rows["naive", "to_date"]  # 400 × 1,200 against the cost to date, one year, undiscounted
    assert (to_date["years"], to_date["discount_rate"], to_date["drop_off"], to_date["payback_months"]) == \
        ("1", "0.0", "", "")
    assert float(to_date["benefit_gbp"]) == 480_000.0
    assert float(to_date["cost_gbp"]) == 1_100_000.0
    assert float(to_date["roi"]) == pytest.approx(480_000 / 1_100_000)
    sustained = rows["matched", "drop_off_0"]  # B = 150,500 (the file's annual benefit) over five years
    assert float(sustained["benefit_gbp"]) == pytest.approx(150_500 * sum(DISCOUNTS))
    assert float(sustained["cost_gbp"]) == 573_769.0
    assert int(sustained["payback_months"]) == 46  # 573,769 / 12,541.67 = 45.7
    assert rows["matched", "drop_off_33"]["payback_months"] == ""  # 150,500 × 2.002 < 573,769: never
    assert "naive: Before and after (no comparison group) (prices of 2013/14)" in printed
    assert "matched: Against the matched comparison group" in printed
    assert "not within 60 months" in printed


def test_run_with_default_settings_matches_the_pipelines_value_for_money(tmp_path, capsys):
    """The calculator and the run's value_for_money.csv are the same arithmetic on the same inputs."""
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--run", str(_run_folder(tmp_path)), "--out", str(out)]) == 0
    mine = pl.read_csv(out).select("basis", "scenario", "years", "discount_rate", "benefit_gbp", "cost_gbp", "roi",
                                   "payback_months")
    pipeline = value_for_money({"naive": Saving(400.0), "matched": Saving(150.5)}, 1200, 1000, 1_100_000.0,
                               573_769.0).select(mine.columns)
    assert mine["basis"].to_list() == pipeline["basis"].to_list()
    assert mine["scenario"].to_list() == pipeline["scenario"].to_list()
    for column in ("years", "payback_months"):
        assert mine[column].to_list() == pipeline[column].to_list(), column
    for column in ("discount_rate", "benefit_gbp", "cost_gbp", "roi"):
        assert np.allclose(mine[column].to_numpy(), pipeline[column].to_numpy(), rtol=1e-12), column


def test_run_overrides_replace_the_annual_cost_and_the_settings_not_the_cost_to_date(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--run", str(_run_folder(tmp_path) / "tables" / "value_inputs.csv"),
                 "--cost", "800000", "--years", "2", "--discount-rate", "0", "--drop-off", "0.5",
                 "--out", str(out)]) == 0
    rows = {(r["basis"], r["scenario"]): r for r in _csv(out)}
    assert list(rows) == [(b, s) for b in ("naive", "matched") for s in ("to_date", "drop_off_50")]
    assert float(rows["naive", "to_date"]["cost_gbp"]) == 1_100_000.0
    half = rows["naive", "drop_off_50"]
    assert (int(half["years"]), float(half["discount_rate"]), float(half["cost_gbp"])) == (2, 0.0, 800_000.0)
    assert float(half["benefit_gbp"]) == pytest.approx(400_000 + 200_000)
    assert float(half["roi"]) == pytest.approx(0.75)
    assert half["payback_months"] == ""  # 600,000 is all there will ever be


def test_run_with_a_basis_not_estimated_and_no_cost_gives_blank_rows(tmp_path, capsys):
    text = HEADER + "naive,10,5,4,40,,,2016/17\nmatched,,5,4,,,,2016/17\n"
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--run", str(_run_folder(tmp_path, text)), "--out", str(out)]) == 0
    rows = {(r["basis"], r["scenario"]): r for r in _csv(out)}
    assert float(rows["naive", "drop_off_0"]["benefit_gbp"]) == pytest.approx(40 * sum(DISCOUNTS))
    assert rows["naive", "drop_off_0"]["roi"] == rows["naive", "drop_off_0"]["payback_months"] == ""
    assert all(rows["matched", s]["benefit_gbp"] == "" for s in ("to_date", "drop_off_0"))
    assert "no estimate on this basis" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(("argv", "says"), [
    (["--annual-benefit", "415000", "--cost", "-573769"], "--cost must not be negative"),
    (["--annual-benefit", "415000", "--cost", "0"], "--cost must be more than £0"),
    (["--annual-benefit", "415000", "--cost", "lots"], "--cost must be an amount of pounds"),
    (["--annual-benefit", "415000", "--cost", "5,73,769"], "--cost must be an amount of pounds"),
    (["--annual-benefit", "inf", "--cost", "1"], "--annual-benefit must be an amount of pounds"),
    (["--annual-benefit", "415000", "--cost", "573769", "--drop-off", "1.2"], "--drop-off must be between 0 and 1"),
    (["--annual-benefit", "415000", "--cost", "573769", "--drop-off", "-0.1"], "--drop-off must be between 0 and 1"),
    (["--annual-benefit", "415000", "--cost", "573769", "--discount-rate", "3.5"],
     "--discount-rate must be between 0 and 1 (excluded)"),
    (["--annual-benefit", "415000", "--cost", "573769", "--years", "0"], "--years must be a whole number"),
    (["--annual-benefit", "415000", "--cost", "573769", "--years", "2.5"], "--years must be a whole number"),
    (["--annual-benefit", "415000"], "--cost is needed with --annual-benefit"),
    (["--cost", "573769"], "give --annual-benefit and --cost, or --run"),
    ([], "give --annual-benefit and --cost, or --run"),
    (["--annual-benefit", "415000", "--cost", "573769", "--run", "x"], "not both"),
])
def test_bad_numbers_are_refused_in_one_line(tmp_path, capsys, argv, says):
    out = tmp_path / "s.csv"
    assert main(["value-for-money", *argv, "--out", str(out)]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.count("\n") == 1 and printed.err.endswith("\n"), printed.err
    assert printed.err.startswith("speval value-for-money refused: ")
    assert says in printed.err
    assert "Traceback" not in printed.err
    assert not out.exists()


def test_missing_value_inputs_is_refused_naming_the_file(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--run", str(tmp_path / "LTC" / "2013Q4"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{tmp_path / 'LTC' / '2013Q4' / 'tables' / 'value_inputs.csv'} is missing" in err
    assert not out.exists()


@pytest.mark.parametrize(("text", "says"), [
    (VALUE_INPUTS.replace("1100000,573769,2013/14\nmatched", "1100000,a lot,2013/14\nmatched"),
     "value_inputs.csv row 1: annual_cost_gbp is not a number of pounds"),
    (VALUE_INPUTS.replace(",1200,1000,150500", ",1200.5,1000,150500"),
     "value_inputs.csv row 2: referred_to_date is not a whole number of people"),
    (VALUE_INPUTS.replace("1100000,573769,2013/14\nmatched", "1100000,-573769,2013/14\nmatched"),
     "value_inputs.csv row 1: annual_cost_gbp is negative"),
    (VALUE_INPUTS.replace("matched,", "naive,"), "value_inputs.csv row 2: more than one row for basis naive"),
    (VALUE_INPUTS.replace("annual_cost_gbp,", "yearly_cost,"), "lacks column(s) annual_cost_gbp"),
    (HEADER, "has no rows"),
])
def test_a_bad_value_inputs_file_is_refused_naming_file_and_row(tmp_path, capsys, text, says):
    assert text != VALUE_INPUTS
    out = tmp_path / "s.csv"
    assert main(["value-for-money", "--run", str(_run_folder(tmp_path, text)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("speval value-for-money refused: "), err
    assert str(tmp_path / "run" / "tables" / "value_inputs.csv") in err
    assert says in err
    assert not out.exists()


def test_help_describes_every_option_and_default(capsys):
    with pytest.raises(SystemExit) as done:
        main(["value-for-money", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--annual-benefit", "--cost", "--run", "--years", "--discount-rate", "--drop-off", "--out"):
        assert option in text
    for default in ("(default: 5)", "(default: 0.035", "(default: 0, 0.2 and 0.333)",
                    "(default: value_for_money_scenarios.csv in the current folder"):
        assert default in text
    assert "value_inputs.csv" in text and "Exit codes" in text
