"""The bottom line on the title page (issue 14, item 1): three to five plain sentences a commissioner reads in a
minute, worded from figures other sections have already published.

Each expected sentence is written out by hand from the hand-made (already published) inputs: a difference per
patient of -0.12 is "12 fewer per 100 patients", a 95% interval of -0.30 to 0.06 "from 30 fewer to 6 more".
The last test renders the fixture report of tests/test_report.py and reads the bottom line off page 1 of the PDF.
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess

import polars as pl
import pytest

from speval.report.render import build_context, render_report
from speval.report.sections.bottom_line import bottom_line
from speval.report.templating import html_environment
from test_report import fixture_meta, fixture_tables
from test_report_mh import mh_meta, mh_tables

PRIMARY = {"measure": "emergency_admissions", "cohort": "12m", "estimator": "did"}
REFERRED = "About 1,250 people had been referred to the long-term conditions social prescribing service by " \
           "31 December 2013."
WELLBEING = ("Of about 145 people whose well-being was reviewed at follow-up, 93% made progress on at least one "
             "well-being measure.")
VALUE = ("Valued in avoided hospital costs against the matched group, each £1 spent on the programme returns £1.05 "
         "over five years if the benefits last (95% interval −£0.85 to £3.04, so it may not pay for itself); the "
         "before-and-after method would have said £6.46.")


# --------------------------------------------------------------------------- hand-made section results


def summary(referred: str = "1250", wb_points: list | None = None) -> dict:
    """What speval.report.sections.summary.key_figures returns, as far as the bottom line reads it."""
    return {"points": [{"kind": "referred", "n": referred}], "wb_points": wb_points or []}


def cells(change: str | None = "-0.23") -> dict:
    """Published hospital-use cells: the 12 month cohort's naive change of emergency admissions per patient."""
    if change is None:
        return {}
    return {("12m", "all", "emergency_admissions"): {"n_patients": "110", "mean_before": "0.98",
                                                     "mean_after": "0.75", "change": change, "pct_change": "-23"}}


def matched(did: str = "-0.12", lo: str = "-0.30", hi: str = "0.06", status: str = "ok", n: str = "95",
            adjusted: dict | None = None, estimator: str = "did") -> dict:
    """The matched comparison's published results (speval.report.sections.matched.matched_comparison)."""
    return {"primary": {**PRIMARY, "estimator": estimator},
            "cohorts": [{"key": "12m", "status": status, "n_treated": n, "n_controls": n}],
            "effects": {("12m", "emergency_admissions"): {"n_treated": n, "n_controls": n, "did": did,
                                                          "did_ci_low": lo, "did_ci_high": hi}},
            "adjusted": adjusted or {}, "has_comparison": status == "ok"}


def value(status: str = "ok", roi: str = "1.05", lo: str = "-0.85", hi: str = "3.04", naive: str = "6.46",
          n_followup: str = "145", pct: str = "93", progress: bool = True) -> dict:
    """The value-for-money section's published results (speval.report.sections.value.value_for_money)."""
    return {"status": {"naive": "ok", "matched": status},
            "roi": {"headline": {"matched": {"roi": roi, "roi_ci_low": lo, "roi_ci_high": hi},
                                 "naive": {"roi": naive}}},
            "social": {"progress": [{"measures_progressed": "at_least_1", "n_followup": n_followup, "n": "135",
                                     "pct": pct, "label": "Progress on at least one measure"}] if progress else []},
            "years": "five"}


def words(b: dict) -> str:
    """The bottom line as text, from its own template (markup removed, the invisible marks of counts and
    percentages of people first, whitespace collapsed)."""
    out = html_environment().get_template("sections/bottom_line.html.j2").render(bottom_line=b)
    out = re.sub(r'<span class="sdc"[^>]*>([^<]*)</span>', r"\1", out)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", out)).split())


def sentences(text: str) -> int:
    """How many sentences the bottom line has (each ends with a full stop and the next starts a capital)."""
    return len(re.split(r"(?<=\.) (?=[A-Z])", text.removeprefix("The bottom line ")))


def build(summary_=None, cells_=None, matched_=None, value_=None, mh=None, primary=None) -> dict:
    return bottom_line(summary_ if summary_ is not None else summary(), cells_ if cells_ is not None else cells(),
                       matched_, value_, mh, "Long-term conditions", "31 December 2013", primary=primary)


# --------------------------------------------------------------------------- per case


def test_a_fall_whose_interval_includes_zero():
    text = words(build(matched_=matched(), value_=value()))
    # -0.12 (-0.30 to 0.06) per patient over 12 months; naive -0.23: a larger fall than the matched one.
    assert text == " ".join([
        "The bottom line", REFERRED,
        "Referred patients had about 12 fewer emergency admissions per 100 patients a year than similar patients who "
        "were not referred; the 95% interval runs from 30 fewer to 6 more, so the data are also consistent with no "
        "effect.",
        "A simple before-and-after comparison of the same patients would have claimed a fall of about 23 emergency "
        "admissions per 100 patients a year, which overstates the benefit: people tend to be referred after a bad "
        "spell, so part of that fall would have happened anyway (regression to the mean).",
        WELLBEING, VALUE])
    assert sentences(text) == 5


def test_a_fall_whose_interval_excludes_zero():
    text = words(build(matched_=matched("-0.25", "-0.40", "-0.10"), cells_=cells("-0.60"), value_=value()))
    assert ("Referred patients had about 25 fewer emergency admissions per 100 patients a year than similar patients "
            "who were not referred; the 95% interval runs from 40 fewer to 10 fewer.") in text
    assert "consistent with no effect" not in text
    assert "a fall of about 60 emergency admissions per 100 patients a year, which overstates the benefit" in text


def test_a_matched_fall_larger_than_the_naive_one_is_not_called_overstated():
    text = words(build(matched_=matched("-0.30", "-0.45", "-0.15"), cells_=cells("-0.20")))
    assert ("A simple before-and-after comparison of the same patients would have claimed a fall of about 20 "
            "emergency admissions per 100 patients a year.") in text
    assert "overstates" not in text and "regression to the mean" not in text


def test_a_rise():
    # The matched group fell more than the referred patients did: the naive fall would all have happened anyway.
    text = words(build(matched_=matched("0.15", "0.02", "0.28"), cells_=cells("-0.10")))
    assert ("Referred patients had about 15 more emergency admissions per 100 patients a year than similar patients "
            "who were not referred; the 95% interval runs from 2 more to 28 more.") in text
    assert ("would have claimed a fall of about 10 emergency admissions per 100 patients a year, which overstates "
            "the benefit: people tend to be referred after a bad spell, so that fall would have happened anyway "
            "(regression to the mean).") in text
    # A naive rise is reported as a rise, with no claim about it.
    text = words(build(matched_=matched("0.15", "0.02", "0.28"), cells_=cells("0.30")))
    assert ("A simple before-and-after comparison of the same patients would have shown a rise of about 30 "
            "emergency admissions per 100 patients a year.") in text


def test_one_admission_and_a_bound_of_zero():
    text = words(build(matched_=matched("-0.01", "-0.20", "0.00"), cells_=cells("0.00")))
    assert ("Referred patients had about 1 fewer emergency admission per 100 patients a year than similar patients "
            "who were not referred; the 95% interval runs from 20 fewer to no difference, so the data are also "
            "consistent with no effect.") in text
    assert "would have shown no change in emergency admissions." in text
    text = words(build(matched_=matched("0.00", "-0.10", "0.10"), cells_=cells(None)))
    assert ("Referred patients had about as many emergency admissions as similar patients who were not referred; the "
            "95% interval runs from 10 fewer to 10 more, so the data are also consistent with no effect.") in text
    assert "before-and-after" not in text  # no naive change published: no sentence about it


def test_the_plans_estimator_is_used():
    adjusted = {("12m", "emergency_admissions"): {"did": "-0.06", "lo": "-0.19", "hi": "0.07", "agreement": "agree"}}
    text = words(build(matched_=matched(adjusted=adjusted, estimator="did_adjusted")))
    assert "about 6 fewer emergency admissions per 100 patients a year" in text
    assert "from 19 fewer to 7 more" in text and "12 fewer" not in text


def test_a_suppressed_cohort_and_small_counts():
    # Fewer than 8 matched in the 12 month cohort: every estimate (and the matched return) is *; one sentence
    # replaces the matched estimate and the naive change. Fewer than 8 referred and reviewed, too.
    wb = value(status="small", roi="*", lo="*", hi="*", n_followup="*", pct="*")
    text = words(build(summary(referred="*"), matched_=matched("*", "*", "*", status="small", n="*"), value_=wb))
    assert text == " ".join([
        "The bottom line",
        "Fewer than 8 people had been referred to the long-term conditions social prescribing service by 31 December "
        "2013.",
        "Fewer than 8 referred patients followed for a year could be matched with similar patients who were not "
        "referred, too few for a matched comparison, so this report cannot yet say whether referral changed "
        "emergency admissions; before and after referral alone they fell by about 23 per 100 patients a year, which "
        "is likely to overstate any benefit (regression to the mean).",
        "Fewer than 8 people had their well-being reviewed at follow-up, so the well-being figures are withheld."])
    assert "*" not in text and "£" not in text
    # Fewer than 8 of those reviewed made progress: the share is withheld, the count said in words.
    text = words(build(value_=value(pct="*")))
    assert ("Of about 145 people whose well-being was reviewed at follow-up, fewer than 8 made progress on at least "
            "one well-being measure.") in text


def test_missing_inputs_leave_their_sentences_out():
    # No economics tables: no return on investment; well-being from the per-measure shares instead.
    range_ = [{"kind": "reviewed", "low": 280, "high": 280},
              {"kind": "progress_range", "low": {"pct": "28", "label": "Family and friends"},
               "high": {"pct": "35", "label": "Feeling positive"}}]
    text = words(build(summary(wb_points=range_), matched_=matched()))
    assert text.endswith("Between 28% and 35% of people whose well-being was reviewed at follow-up made progress, "
                         "depending on the well-being measure.")
    assert "£" not in text and sentences(text) == 4
    # A matched return that is blank (no cost for the year) is left out; no referred count, no well-being.
    no_return = value(roi="", lo="", hi="", progress=False)
    text = words(build({"points": [], "wb_points": []}, matched_=matched(), value_=no_return))
    assert text.startswith("The bottom line Referred patients had about 12 fewer")
    assert "£" not in text and "well-being" not in text and "referred to the" not in text
    # No matching tables at all: one sentence, with the naive fall and why it is likely to overstate.
    text = words(build(matched_=None))
    assert ("There is no matched comparison group yet, so this report cannot say whether referral changed emergency "
            "admissions; before and after referral alone they fell by about 23 per 100 patients a year, which is "
            "likely to overstate any benefit (regression to the mean).") in text
    # Nothing published at all: no bottom line (and no empty box).
    empty = build({"points": [], "wb_points": []}, cells_={}, matched_=None)
    assert empty["shown"] is False and words(empty) == ""


def test_mental_health_without_a_matched_comparison():
    # No one matched in the 12 month cohort, no naive change published; the MH section's share has an interval.
    mh = {"wellbeing": {"progress": [{"code": "at_least_1", "label": "x", "n": "135", "n_followup": "145",
                                      "pct": "93", "low": "88", "high": "96"}]}}
    b = bottom_line(summary("155"), {}, matched("", "", "", status="none", n="0"), None, mh, "Mental health",
                    "31 December 2016")
    assert words(b) == " ".join([
        "The bottom line",
        "About 155 people had been referred to the mental health social prescribing service by 31 December 2016.",
        "No referred patient followed for a year could be matched with a similar patient who was not referred, so "
        "this report cannot yet say whether referral changed emergency admissions.",
        "Of about 145 people whose well-being was reviewed at follow-up, 93% made progress on at least one well-being "
        "measure (95% interval 88% to 96%)."])


def test_mental_health_report_with_cohorts_too_small():
    """The MH fixture (tests/test_report_mh.py) with 5 matched in the 12 month cohort and none in the 6 month one."""
    tables = mh_tables()
    tables["matched_effects"] = tables["matched_effects"].with_columns(
        pl.when(pl.col("cohort") == "12m").then(5).otherwise(0).alias(c) for c in ("n_treated", "n_controls"))
    b = build_context(tables, mh_meta())["bottom_line"]
    # Referred: attrition's 912 -> 910. Naive 12 month change of emergency admissions: 0.9815 x 0.77 - 0.9815 =
    # -0.2257 -> -0.23 -> 23 per 100. Progress on at least one measure: 134 of 144 -> 135 of 145 = 93%, Wilson
    # interval of 135/145 88% to 96% (as tests/test_report_mh.py has it). The matched return is withheld (*).
    assert words(b) == " ".join([
        "The bottom line",
        "About 910 people had been referred to the mental health social prescribing service by 31 December 2013.",
        "Fewer than 8 referred patients followed for a year could be matched with similar patients who were not "
        "referred, too few for a matched comparison, so this report cannot yet say whether referral changed "
        "emergency admissions; before and after referral alone they fell by about 23 per 100 patients a year, which "
        "is likely to overstate any benefit (regression to the mean).",
        "Of about 145 people whose well-being was reviewed at follow-up, 93% made progress on at least one well-being "
        "measure (95% interval 88% to 96%)."])


# --------------------------------------------------------------------------- the fixture report


@pytest.mark.pipeline
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_bottom_line_is_on_page_one_of_the_fixture_report(tmp_path):
    meta = {**fixture_meta(), "analysis_plan": {"file": "analysis_plan.yaml", "sha256": "d" * 64,
                                                "plan_version": 1}}
    pdf = render_report(fixture_tables(), meta, tmp_path)["pdf"]

    def page(n: int) -> str:
        out = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], check=True,
                             capture_output=True, text=True).stdout
        return re.sub(r"(?<=\w)- (?=\w)", "-", " ".join(out.split()))  # words hyphenated at a line's end

    first = page(1)
    # By hand from tests/test_report.py: 912 referred -> 910. DiD -0.0843 (-0.2116 to 0.0391) per patient ->
    # -0.08 (-0.21 to 0.04) -> 8 fewer (21 fewer to 4 more) per 100. Naive: 0.9815 x 0.77 - 0.9815 = -0.2257 ->
    # -0.23 -> 23 per 100, a larger fall than the matched one. Progress on at least one measure: 134 of 144 ->
    # 135 of 145 = 93%. The matched return and the naive one as the value section quotes them.
    expected = " ".join([
        "The bottom line",
        "About 910 people had been referred to the long-term conditions social prescribing service by 31 December "
        "2013.",
        "Referred patients had about 8 fewer emergency admissions per 100 patients a year than similar patients who "
        "were not referred; the 95% interval runs from 21 fewer to 4 more, so the data are also consistent with no "
        "effect.",
        "A simple before-and-after comparison of the same patients would have claimed a fall of about 23 emergency "
        "admissions per 100 patients a year, which overstates the benefit: people tend to be referred after a bad "
        "spell, so part of that fall would have happened anyway (regression to the mean).",
        "Of about 145 people whose well-being was reviewed at follow-up, 93% made progress on at least one "
        "well-being measure.",
        "Valued in avoided hospital costs against the matched group, each £1 spent on the programme returns £1.05 "
        "over five years if the benefits last (95% interval −£0.85 to £3.04, so it may not pay for itself); the "
        "before-and-after method would have said £6.46."])
    assert expected in first
    # Under the title, above the facts; and the whole title page still fits on page 1 (the contents start page 2).
    assert first.index("Long-term conditions (LTC) Quarterly evaluation report") < first.index("The bottom line") \
        < first.index("Reporting quarter 2013Q4, ending")
    assert "Analysis plan v1, sha256" in first and "Averages for groups of fewer than 8 people are shown as *." in first
    assert page(2).startswith("Long-term conditions (LTC) · 2013Q4 Official – disclosure-controlled Contents")
