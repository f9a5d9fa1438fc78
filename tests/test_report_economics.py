"""Value for money and social value in the report (section after the matched comparison): its disclosure
control, wording and data shaping, and the section in the demo report produced by a real `speval run`.

The fast tests need no PDF; the demo tests (marked `pipeline`) run the job once on the demo data set (that
the same inputs give a byte-identical report, this section included, is tests/test_end_to_end.py's)."""
from __future__ import annotations

import re
import shutil
import subprocess

import polars as pl
import pytest

from speval.report import disclosure as dc
from speval.report.format import grouped, in_words, pounds, pounds_interval, rate
from speval.report.sections.value import _refs, assumptions, basis_status, value_for_money
from speval.report.templating import sentence
from test_report import WELFARE_AWARDS, economics_tables, fixture_tables

SENTENCES = "sections/value_sentences.j2"

# --------------------------------------------------------------------------- disclosure control


def _costs(n_naive=None) -> pl.DataFrame:
    return pl.DataFrame([
        {"basis": "naive", "cohort": "12m", "item": "emergency_admissions", "events_avoided_per_patient": 0.38255,
         "unit_cost_gbp": 1527.935825, "saving_per_patient_gbp": 584.512, "saving_ci_low_gbp": None,
         "saving_ci_high_gbp": None},
        {"basis": "matched", "cohort": "12m", "item": "total", "events_avoided_per_patient": None,
         "unit_cost_gbp": None, "saving_per_patient_gbp": -21.899, "saving_ci_low_gbp": -636.656,
         "saving_ci_high_gbp": 560.185},
    ], schema_overrides={"events_avoided_per_patient": pl.Float64, "unit_cost_gbp": pl.Float64,
                         "saving_ci_low_gbp": pl.Float64, "saving_ci_high_gbp": pl.Float64})


def test_savings_per_patient_are_means_over_the_group_costed():
    rows = {r["basis"]: r for r in dc.publish_costs_avoided(_costs(), {"naive": 108, "matched": 96}, 1251).to_dicts()}
    assert rows["naive"]["events_avoided_per_patient"] == "0.38"
    assert rows["naive"]["unit_cost_gbp"] == "1528" and rows["naive"]["saving_per_patient_gbp"] == "585"
    assert (rows["matched"]["saving_per_patient_gbp"], rows["matched"]["saving_ci_low_gbp"],
            rows["matched"]["saving_ci_high_gbp"]) == ("-22", "-637", "560")
    # Everyone referred: times the rounded count (1,250), never the exact 1,251.
    assert rows["naive"]["saving_people_gbp"] == dc.format_decimal(584.512 * 1250, 0) == "730640"
    # A group of 1-7: every figure per patient is *, the unit cost (money) is not; an empty or unknown group: blank.
    small = {r["basis"]: r for r in dc.publish_costs_avoided(_costs(), {"naive": 5, "matched": 0}, 1251).to_dicts()}
    assert (small["naive"]["saving_per_patient_gbp"], small["naive"]["events_avoided_per_patient"],
            small["naive"]["saving_people_gbp"], small["naive"]["unit_cost_gbp"]) == ("*", "*", "*", "1528")
    assert small["matched"]["saving_per_patient_gbp"] == "" and small["matched"]["saving_people_gbp"] == ""
    unknown = dc.publish_costs_avoided(_costs(), {}, 1251).to_dicts()
    assert all(r["saving_per_patient_gbp"] == "" for r in unknown)
    # 1-7 people referred: the total for everyone is suppressed even when the group costed is large.
    few = {r["basis"]: r for r in dc.publish_costs_avoided(_costs(), {"naive": 108, "matched": 96}, 6).to_dicts()}
    assert few["naive"]["saving_people_gbp"] == "*" and few["naive"]["saving_per_patient_gbp"] == "585"


def test_returns_follow_the_saving_they_are_worked_from():
    vfm = pl.DataFrame([{"basis": "matched", "scenario": "drop_off_0", "years": 5, "discount_rate": 0.035,
                         "benefit_gbp": -111648.61, "cost_gbp": 573769.0, "roi": -0.194588, "roi_ci_low": -5.657127,
                         "roi_ci_high": 4.977627, "prob_roi_at_least_1": 0.324, "payback_months": None}],
                       schema_overrides={"payback_months": pl.Int64})
    (row,) = dc.publish_value_for_money(vfm, {"matched": 96}).to_dicts()
    assert (row["roi"], row["roi_ci_low"], row["roi_ci_high"], row["prob_roi_at_least_1"], row["payback_months"],
            row["cost_gbp"]) == ("-0.19", "-5.66", "4.98", "32", "", "573769")
    assert "benefit_gbp" not in row  # the saving times an unrounded count: not published
    (small,) = dc.publish_value_for_money(vfm, {"matched": 7}).to_dicts()
    assert (small["roi"], small["prob_roi_at_least_1"], small["cost_gbp"]) == ("*", "*", "573769")


def test_counts_of_the_social_return_are_rounded_and_money_is_not():
    assert dc.publish_quantity(20214.2) == "20215" and dc.publish_quantity(7.6) == "10"
    assert dc.publish_quantity(3.0) == "*" and dc.publish_quantity(0.2) == "0" and dc.publish_quantity(None) == ""
    assert dc.publish_money(3) == "3" and dc.publish_money(float("nan")) == "" and dc.publish_money(0.8899, 2) == "0.89"
    sroi = dc.publish_sroi(economics_tables()["sroi"]).to_dicts()
    welfare = next(r for r in sroi if r["component"] == "welfare")
    assert WELFARE_AWARDS == 3 and welfare["quantity"] == "*" and welfare["value_low_gbp"] == "4711"
    progress = dc.publish_wellbeing_progress(economics_tables()["wellbeing_progress"]).to_dicts()
    assert [(r["n_followup"], r["n"], r["pct"]) for r in progress] == [("145", "135", "93"), ("145", "20", "14")]
    inputs = dc.publish_value_inputs(economics_tables()["value_inputs"], {"naive": 108, "matched": 5}).to_dicts()
    assert [(r["basis"], r["saving_per_patient_gbp"], r["referred_to_date"], r["referred_last_year"])
            for r in inputs] == [("naive", "727", "1250", "1090"), ("matched", "*", "1250", "1090")]


def test_the_group_behind_each_basis():
    tables = fixture_tables()
    assert dc.cost_basis_sizes(tables["hospital_use"], tables["matched_effects"]) == {"naive": 108, "matched": 96}
    # Every setting's table: the primary setting only.
    assert dc.cost_basis_sizes(None, tables["matched_effects_all_settings"]) == {"naive": None, "matched": 96}
    assert [basis_status(n, True) for n in (None, 0, 7, 8)] == ["unknown", "empty", "small", "ok"]
    assert basis_status(96, False) == "none"


# --------------------------------------------------------------------------- numbers and words


def test_money_and_numbers_as_the_report_writes_them():
    assert grouped("20215") == "20,215" and grouped("-1234.5") == "\u22121,234.5" and grouped("*") == "*"
    assert pounds("956558") == "£956,558" and pounds("-22") == "\u2212£22" and pounds("") == ""
    assert pounds_interval("-637", "560") == "\u2212£637 to £560" and pounds_interval("*", "*") == "*"
    assert grouped("-0.19") == "\u22120.19" and grouped("0.19") == "0.19"
    assert (rate(0.035), rate(0.015), rate(0.333), rate(0.30000000000000004)) == ("3.5%", "1.5%", "33.3%", "30%")
    assert in_words(5) == "five" and in_words(12) == "12"
    assert _refs([6, 7, 8]) == "[6–8]" and _refs([1, 3]) == "[1, 3]" and _refs([4, 4]) == "[4]"


def _quote(**changed) -> str:
    data = dict(reason="ok", roi="£1.05", lo="−£0.85", hi="£3.04", negative=False, below_one=True, above_one=False,
                naive="£6.46", naive_shown=True, prob="54", years="five", price_year="2013/14",
                cohort="12 month cohort")
    return sentence(SENTENCES, "quotable", **(data | changed))


def test_the_sentence_a_commissioner_can_quote():
    assert _quote() == (
        "Against a matched comparison group, each £1 spent on the programme returned £1.05 (95% interval −£0.85 to "
        "£3.04) in avoided hospital costs over five years if the benefits last, at 2013/14 prices; the before-and-after "
        "method, which regression to the mean inflates, would have said £6.46. The 95% interval includes returns below "
        "£1, so the programme may not pay for itself in avoided hospital costs: the return reached £1 per £1 spent in "
        "54% of bootstrap samples.")
    negative = _quote(roi="−£0.19", lo="−£5.66", hi="£4.98", negative=True, prob="0")
    assert "returned −£0.19 (95% interval −£5.66 to £4.98)" in negative
    assert "below zero, because referred patients' hospital care cost more, not less, than their matched group's" in negative
    assert negative.endswith("none of the bootstrap samples reached £1 per £1 spent.")
    assert _quote(lo="£1.20", below_one=False, above_one=True, prob="99").endswith(
        "The whole 95% interval is above £1: the return reached £1 per £1 spent in 99% of bootstrap samples.")
    assert "would have said" not in _quote(naive="")
    assert _quote(reason="small").startswith("The return on investment against a matched comparison group is not "
                                             "shown: fewer than 8 patients of the 12 month cohort were matched")
    assert _quote(reason="empty", naive_shown=False) == (
        "The return on investment cannot be worked out for this quarter: no patients were in the 12 month cohort, "
        "whose hospital use before and after referral is what is costed.")
    assert "the programme's cost for the year is not in the reference data" in _quote(reason="no_cost")


# --------------------------------------------------------------------------- the section's data


def test_section_data_from_the_fixture():
    v = value_for_money(fixture_tables())
    assert v["price_year"] == "2013/14" and v["status"] == {"naive": "ok", "matched": "ok"}
    assert v["quote"].startswith("Against a matched comparison group, each £1 spent on the programme returned £1.05")
    assert v["providers"]["awards"] == "*" and v["providers"]["unattributed"] == ["VCS09"]
    assert v["providers"]["hours"] == "20,215" and v["referred"] == "1,250"
    assert [r["label"] for r in v["roi"]["rows"]] == ["Benefits to date, if they last one year",
                                                      "Five years, benefits sustained",
                                                      "Five years, benefits falling 20% a year",
                                                      "Five years, benefits falling 33% a year"]
    # The tornado's value used is the table's five-year matched return.
    assert "(used: 1.05)" in str(v["sensitivity"]["return_svg"])
    assert v["sensitivity"]["break_even"] == {"needed": "£113", "saving": "£118", "ci": "−£95 to £342", "above": True}
    assert value_for_money(fixture_tables(economics=False)) is None


def test_assumptions_table_lists_each_value_once_with_its_sources():
    tables = economics_tables()
    tables["reference_wages"] = pl.concat([tables["reference_wages"], tables["reference_wages"].head(1).with_columns(
        pl.lit(6.31).alias("hourly_gbp"), pl.lit("Another source").alias("source"),
        pl.col("valid_from").dt.offset_by("1y"), pl.col("valid_to").dt.offset_by("1y"))]).sort("wage", descending=True)
    a = assumptions(tables, "2013/14")
    rows = {r["item"]: r for r in a["rows"]}
    wage = rows["Volunteering: national minimum wage, per hour"]
    assert (wage["value"], wage["year"], wage["ref"], wage["illustrative"]) == (
        "£6.19, £6.31", "Oct 2012–Sep 2014", "[5, 6]", False)
    assert rows["Volunteering: median hourly pay, per hour"]["illustrative"]
    proxies = next(r for r in a["rows"] if r["item"].startswith("Well-being proxy"))
    assert "HACT well-being valuation" in proxies["item"] and proxies["value"] == "low £1,300–£2,000, high £1,450–£2,500"
    adjustments = next(r for r in a["rows"] if r["item"].startswith("SROI adjustments"))
    assert adjustments["item"] == "SROI adjustments (deadweight, attribution, displacement)"
    assert adjustments["value"].startswith("well-being of referred patients 25/25/0%; volunteering in funded services")
    assert a["sources"][0] == {"source": "NHS reference costs", "licence": "Open Government Licence v3.0"}
    assert a["any_illustrative"]


# --------------------------------------------------------------------------- the demo report (real pipeline run)


def _demo_text(pdf) -> str:
    return " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                                   text=True).stdout.split())


needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


@pytest.mark.pipeline
@needs_poppler
def test_demo_report_has_the_value_section(demo_run):
    text = _demo_text(demo_run / "out" / "LTC" / "2013Q4" / "evaluation_report.pdf")
    start = text.index("4 Value for money and social value What")
    sec = text[start:text.index("5 Well-being Service users", start)]
    assert re.search(r"4 Value for money and social value \.+ ?\d+ 5 Well-being", text)  # in the contents
    assert "Money is in pounds at 2013/14 prices" in sec
    quote = re.search(r"Against a matched comparison group, each £1 spent on the programme returned .*? bootstrap "
                      r"samples\.", sec)
    assert quote, sec[:1500]
    assert "in avoided hospital costs over five years if the benefits last, at 2013/14 prices" in quote.group(0)
    assert "the before-and-after method, which regression to the mean inflates, would have said £" in quote.group(0)
    for needle in ("Hospital costs avoided per patient in the year after referral, 12 month cohort, at 2013/14 prices",
                   "Return per £1 spent and months to payback, by scenario", "Social return on investment: impact map",
                   "Reference values used, with their status and source", "ILLUSTRATIVE",
                   "Discount rate (1.5% to 5%)", "Well-being proxies (low to high)"):
        assert needle in sec, needle
    assert re.search(r"£1 per £1 \(break- ?even\) (with a total saving of|as long as the total saving is at least) "
                     r"£[\d,]+ per patient", sec)


@pytest.mark.pipeline
def test_demo_report_html_ids_are_unique(demo_run):
    html = (demo_run / "out" / "LTC" / "2013Q4" / "evaluation_report.html").read_text(encoding="utf-8")
    assert html.count('id="value"') == 1
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # the new charts' ids do not clash with the others'
    assert any(i.startswith("tornado-roi-") for i in ids) and any(i.startswith("roi-") for i in ids)


@pytest.mark.pipeline
@needs_poppler
def test_demo_report_prints_minus_signs_and_separators(demo_run):
    """The checks of tests/test_report_typography.py on the real demo report, whose counts reach four digits
    (about 1,250 people referred)."""
    import re

    from test_report_typography import HYPHEN_MINUS, long_runs

    text = subprocess.run(["pdftotext", str(demo_run / "out" / "LTC" / "2013Q4" / "evaluation_report.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout
    text = re.sub(r"\b[0-9a-f]{12,64}\b", "<hash>", text)
    assert not [text[max(0, m.start() - 40):m.end() + 10] for m in HYPHEN_MINUS.finditer(text)]
    assert not long_runs(text), long_runs(text)
    assert "About 1,250 people had been referred to the programme" in " ".join(text.split())
