"""The well-being section's distance travelled as a paired change (ADR 0010 as amended, issue 14): the t-interval
of a mean paired change worked by hand, disclosure control of every paired figure (1-7 people: `*`), the low
baseline scorers' rows, the report query and tables/wellbeing_paired_change.csv on an in-memory warehouse (one
referral per case, as tests/rules/ does), and the section as the fixture report renders it (HTML, and the PDF).

The fast tests need no PDF; the one marked `pipeline` renders one with WeasyPrint and reads it with pdftotext."""
from __future__ import annotations

import math
import re
import shutil
import subprocess

import polars as pl
import pytest

from speval.report.render import build_context, render_html
from speval.report.sections import mh_pathway
from speval.report.sections.common import change_interval
from speval.report.sections.wellbeing import paired_changes, paired_panels, publish_paired_change, wellbeing
from test_report import WB_MEASURES, fixture_meta, fixture_tables
from test_report_mh import flat

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


def wellbeing_section(html: str) -> str:
    start = html.index('<section id="wellbeing"')
    return html[start:html.index("</section>", start)]


# --------------------------------------------------------------------------- the interval, by hand

# t(0.975, df) from printed tables: 9 df 2.262157, 3 df 3.182446, 1 df 12.706205, 279 df 1.968534, 83 df 1.988959.
@pytest.mark.parametrize(("n", "mean", "sd", "low", "high"), [
    (10, 1.0, 2.0, -0.4307, 2.4307),     # 1 ± 2.262157 × 2 / √10 = 1 ± 1.4307
    (10, 0.5, 1.0, -0.2154, 1.2154),     # 0.5 ± 2.262157 / √10 = 0.5 ± 0.7154
    (10, -0.3, 0.0, -0.3, -0.3),         # every difference the same: no width
    (4, 1.0, math.sqrt(8 / 3), -1.5985, 3.5985),  # 1 ± 3.182446 × 1.63299 / 2
    (2, 2.0, math.sqrt(2), -10.7062, 14.7062),    # 2 ± 12.706205 × √2 / √2
    (280, 0.32, 0.9, 0.2141, 0.4259),    # 0.32 ± 1.968534 × 0.9 / √280 = 0.32 ± 0.1059
])
def test_change_interval_by_hand(n, mean, sd, low, high):
    lo, hi = change_interval(n, mean, sd)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_change_interval_cannot_be_worked_out_below_two_people_or_without_an_sd():
    for n, mean, sd in ((1, 1.0, None), (0, None, None), (1, 2.0, float("nan")), (10, 1.0, None), (10, None, 1.0)):
        assert change_interval(n, mean, sd) == (None, None)


def test_one_interval_helper_shared_with_the_mental_health_section():
    assert mh_pathway.change_interval is change_interval


# --------------------------------------------------------------------------- published figures


def test_paired_change_published_from_n_mean_and_sd():
    shown = publish_paired_change(10, 2.1, 2.6, 0.5, 1.0)  # interval 0.5 ± 0.7154
    assert shown == {"n": "10", "baseline_mean": "2.10", "followup_mean": "2.60", "change": "+0.50",
                     "low": "-0.22", "high": "1.22", "ci": "−0.22 to 1.22"}
    assert publish_paired_change(12, 3.0, 2.75, -0.25, 0.5)["n"] == "10"  # count rounded to 5, means as they are
    assert publish_paired_change(12, 3.0, 2.75, -0.25, 0.5)["change"] == "-0.25"
    assert publish_paired_change(13, 3.0, 3.0, 0.0, 0.4)["change"] == "0.00"  # no sign on no change


@pytest.mark.parametrize("n", range(1, 8))
def test_paired_change_over_1_to_7_people_is_suppressed(n):
    sd = None if n == 1 else 0.8
    assert publish_paired_change(n, 2.1234, 3.3456, 1.2222, sd) == {
        "n": "*", "baseline_mean": "*", "followup_mean": "*", "change": "*", "low": "*", "high": "*", "ci": "*"}


def test_paired_change_over_8_people_is_shown_and_over_nobody_is_blank():
    eight = publish_paired_change(8, 2.0, 3.0, 1.0, 1.0)  # 1 ± t(0.975, 7) 2.364624 / √8 = 1 ± 0.8360
    assert (eight["n"], eight["change"], eight["ci"]) == ("10", "+1.00", "0.16 to 1.84")
    assert publish_paired_change(0, None, None, None, None) == {
        "n": "0", "baseline_mean": "", "followup_mean": "", "change": "", "low": "", "high": "", "ci": ""}


def test_paired_changes_without_the_mean_scores_show_the_change_alone():
    df = pl.DataFrame({"measure": ["lifestyle"], "group": ["all"], "n": [10], "mean_change": [0.5],
                       "sd_change": [1.0]})
    shown = paired_changes({"wellbeing_paired_change": df})[("lifestyle", "all")]
    assert (shown["baseline_mean"], shown["followup_mean"], shown["change"], shown["ci"]) == \
        ("", "", "+0.50", "−0.22 to 1.22")


def test_low_baseline_scorers_rows():
    tables = fixture_tables()
    low = paired_panels(tables, wellbeing(tables, {})["rows"])[1]
    assert low["group"] == "low_baseline"
    rows = {r["measure"]: r for r in low["rows"]}
    assert [r["measure"] for r in low["rows"]] == WB_MEASURES
    # 84 people, 1.62 -> 1.77, +0.15 with sd 1.1: 0.15 ± 1.988959 × 1.1 / √84 = 0.15 ± 0.2387.
    ff = rows["family_friends"]
    assert (ff["n"], ff["baseline_mean"], ff["followup_mean"], ff["change"], ff["ci"]) == \
        ("85", "1.62", "1.77", "+0.15", "−0.09 to 0.39")
    assert ff["direction"] is None  # the interval includes zero
    fp = rows["feeling_positive"]  # 0.95 ± 0.2387
    assert (fp["change"], fp["ci"], fp["direction"]) == ("+0.95", "0.71 to 1.19", "rose")
    # Money's low scorers are 3: every paired figure, and the share making progress, is *.
    assert {k: rows["money"][k] for k in ("n", "baseline_mean", "followup_mean", "change", "ci", "progress_pct")} \
        == dict.fromkeys(("n", "baseline_mean", "followup_mean", "change", "ci", "progress_pct"), "*")
    # The share making progress is Table 2's progress_low_pct (68% for family and friends).
    assert ff["progress_pct"] == "68"
    assert low["rose"] == ["Feeling positive", "Lifestyle", "Looking after yourself", "Managing symptoms",
                           "Work, volunteering and social groups", "Where you live"]
    assert low["fell"] == [] and low["shown"] == 7 and low["unclear"] == "one" and low["withheld"]


def test_all_with_both_scores_rows():
    tables = fixture_tables()
    everyone = wellbeing(tables, {})["paired"][0]
    rows = {r["measure"]: r for r in everyone["rows"]}
    # Table 2: 280 followed up with a mean follow-up score of 3.62; the paired baseline of the same people 3.30.
    fp = rows["feeling_positive"]
    assert (fp["n"], fp["baseline_mean"], fp["followup_mean"], fp["change"], fp["ci"], fp["progress_pct"]) == \
        ("280", "3.30", "3.62", "+0.32", "0.21 to 0.43", "36")
    wyl = rows["where_you_live"]  # -0.15 ± 0.1059: a fall
    assert (wyl["change"], wyl["ci"], wyl["direction"]) == ("-0.15", "−0.26 to −0.04", "fell")
    assert rows["work_volunteering_social"]["ci"] == "−0.07 to 0.15"  # includes zero
    assert rows["money"]["change"] == "*" and rows["money"]["baseline_mean"] == "*"  # 6 people
    assert everyone["fell"] == ["Where you live"] and everyone["unclear"] == "one"


def test_without_the_paired_table_the_counts_and_shares_stay_and_no_change_is_claimed():
    tables = {k: v for k, v in fixture_tables().items() if k != "wellbeing_paired_change"}
    wb = wellbeing(tables, {})
    assert not wb["has_change"] and not wb["has_means"]
    fp = {r["measure"]: r for r in wb["paired"][0]["rows"]}["feeling_positive"]
    assert (fp["n"], fp["change"], fp["ci"], fp["progress_pct"]) == ("280", "", "", "36")
    # The low scorers' count then comes from the report query wellbeing_low_followup, when there.
    tables["wellbeing_low_followup"] = pl.DataFrame({"measure": WB_MEASURES, "followup_low_n": [84] * 7 + [5]})
    low = {r["measure"]: r for r in wellbeing(tables, {})["paired"][1]["rows"]}
    assert low["feeling_positive"]["n"] == "85" and low["family_friends"]["n"] == "*"
    sec = flat(wellbeing_section(render_html(build_context(tables, fixture_meta()))))
    assert "The mean change from baseline to review is not available for this quarter." in sec


def test_every_change_suppressed_says_so():
    tables = fixture_tables()
    tables["wellbeing_paired_change"] = tables["wellbeing_paired_change"].with_columns(pl.lit(5).alias("n"))
    sec = flat(wellbeing_section(render_html(build_context(tables, fixture_meta()))))
    assert "Among the people with both scores, every mean change that could be worked out is over fewer than 8 " \
           "people and is suppressed." in sec
    assert "Feeling positive * * * * * 36" in sec


# --------------------------------------------------------------------------- the section, rendered


def test_section_shows_the_paired_change_beside_progress_and_not_the_unpaired_comparison():
    html = render_html(build_context(fixture_tables(), fixture_meta()))
    sec = flat(wellbeing_section(html))
    assert sec.startswith("5 Well-being Service users rate eight areas")
    # Table 11: everyone with a baseline score, labelled as such and as not a change; no follow-up figure beside it.
    assert "Table 11: Well-being at baseline: everyone with a baseline score, by outcome area (a starting point, " \
           "not a change)" in sec
    assert "Feeling positive 820 3.08 30 Lifestyle 820 3.18 27" in sec
    # Table 12: per measure, people with both scores, their baseline and review means, the change and its
    # interval, and the share making progress; all, then the low baseline scorers.
    assert "Table 12: Distance travelled: change in score from baseline to review among the people with both " \
           "scores, by outcome area" in sec
    assert ("Everyone with a baseline and a review score Feeling positive 280 3.30 3.62 +0.32 0.21 to 0.43 36 "
            "Lifestyle 280 3.42 3.67 +0.25 0.14 to 0.36 34") in sec
    assert "Where you live 280 4.07 3.92 −0.15 −0.26 to −0.04 29" in sec
    assert "Money * * * * * *" in sec
    assert ("People with a low baseline score (two or less) Feeling positive 85 1.62 2.57 +0.95 0.71 to 1.19 61"
            in sec)
    assert "Family and friends 85 1.62 1.77 +0.15 −0.09 to 0.39 68" in sec
    assert ("Among the people with both scores, the mean score rose in feeling positive; lifestyle; looking after "
            "yourself; managing symptoms; and family and friends, each with a 95% interval wholly above zero; it fell "
            "in where you live, with a 95% interval wholly below zero. In the other area with published figures the "
            "interval includes zero: no clear evidence of a change there.") in sec
    assert "(regression to the mean)" in sec
    # The old unpaired comparison (baseline of ~820 beside the follow-up mean of 280) is gone.
    assert "Distance travelled Count Mean" not in sec and "Low scores b" not in sec
    # Money's planted paired figures (6 and 3 people) never appear.
    for planted in ("0.82", "3.46", "4.27", "1.23", "2.85"):
        assert planted not in sec, planted


@pytest.mark.pipeline
@needs_poppler
def test_pdf_shows_the_paired_change_with_its_interval(fixture_report):
    pdf = fixture_report["pdf"]
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                                   text=True).stdout.split())
    start = text.index("5 Well-being Service users")
    sec = text[start:text.index("6 Who was included", start)]
    assert "Table 12: Distance travelled: change in score from baseline to review" in sec
    assert re.search(r"Feeling positive 280 3\.30 3\.62 \+0\.32 0\.21 to 0\.43 36", sec), sec
    assert re.search(r"Family and friends 85 1\.62 1\.77 \+0\.15 −0\.09 to 0\.39 68", sec), sec
    assert "People with a low baseline score (two or less)" in sec
    for planted in ("0.82", "3.46", "4.27", "1.23", "2.85"):
        assert planted not in sec, planted


# --------------------------------------------------------------------------- the query and the auditors' CSV

# One referral per case; its FEELING_POSITIVE baseline and review (84 days later) scores; LIFESTYLE only for r1.
B, R = "Baseline", "Review"
PAIRS = {
    "r1-low-2-to-3": ("2", "3"),
    "r2-4-to-5": ("4", "5"),
    "r3-3-to-2": ("3", "2"),
    "r4-low-1-to-4": ("1", "4"),
    "r5-no-review": ("2", None),
    "r6-blank-baseline": ("", "4"),
    "r7-blank-review": ("5", ""),
}


@pytest.fixture(scope="module")
def warehouse():
    from rules.conftest import RuleWarehouse
    from speval.warehouse import connect

    con = connect()
    wh = RuleWarehouse(con)
    for referral, (before, after) in PAIRS.items():
        wh.referral("P1", "2013-01-01", REFERRAL_ID=referral)
        wh.assessment(referral, "2013-01-01", B, ASSESSMENT_ID=f"{referral}/S1", FEELING_POSITIVE=before,
                      LIFESTYLE="3" if referral.startswith("r1") else "")
        if after is not None:
            wh.assessment(referral, "2013-03-26", R, ASSESSMENT_ID=f"{referral}/S2", FEELING_POSITIVE=after,
                          LIFESTYLE="3" if referral.startswith("r1") else "")
    wh.build("analysis.wellbeing")  # after analysis.wellbeing_pairs
    yield wh
    con.close()


def test_report_query_per_measure_and_group(warehouse):
    from speval.report.outputs import REPORT_ONLY_TABLES, WELLBEING_PAIRED_CHANGE_COLUMNS

    df = warehouse.con.sql(REPORT_ONLY_TABLES["wellbeing_paired_change"]).pl()
    assert tuple(df.columns) == WELLBEING_PAIRED_CHANGE_COLUMNS
    # Every measure and group, in Table 2's order, all before low_baseline.
    assert df.select("measure", "group").rows() == [(m, g) for m in WB_MEASURES for g in ("all", "low_baseline")]
    rows = {(r["measure"], r["group"]): r for r in df.to_dicts()}
    # All with both scores: r1 2→3, r2 4→5, r3 3→2, r4 1→4 (r5 no review, r6 and r7 a blank score):
    # changes 1, 1, -1, 3: mean 1, sd √(8/3); baseline mean 2.5, follow-up mean 3.5.
    everyone = rows[("feeling_positive", "all")]
    assert everyone["n"] == 4
    assert (everyone["baseline_mean"], everyone["followup_mean"], everyone["mean_change"]) == \
        pytest.approx((2.5, 3.5, 1.0))
    assert everyone["sd_change"] == pytest.approx(math.sqrt(8 / 3))
    # Low baseline (2 or less): r1 2→3, r4 1→4 (r5 has no review): changes 1, 3.
    low = rows[("feeling_positive", "low_baseline")]
    assert low["n"] == 2
    assert (low["baseline_mean"], low["followup_mean"], low["mean_change"], low["sd_change"]) == \
        pytest.approx((1.5, 3.5, 2.0, math.sqrt(2)))
    # One pair: no standard deviation. No pair: n 0 and blank, never NaN.
    one = rows[("lifestyle", "all")]
    assert (one["n"], one["mean_change"], one["sd_change"]) == (1, 0.0, None)
    assert rows[("lifestyle", "low_baseline")]["n"] == 0
    assert rows[("money", "all")] == {"measure": "money", "group": "all", "n": 0, "baseline_mean": None,
                                      "followup_mean": None, "mean_change": None, "sd_change": None}


def test_report_query_agrees_with_table_2_and_the_other_report_queries(warehouse):
    from speval.report.outputs import REPORT_ONLY_TABLES

    con = warehouse.con
    paired = {(r["measure"], r["group"]): r
              for r in con.sql(REPORT_ONLY_TABLES["wellbeing_paired_change"]).pl().to_dicts()}
    table_2 = con.execute("SELECT measure, followup_n, followup_mean FROM analysis.wellbeing").fetchall()
    for m, followup_n, followup_mean in table_2:
        assert paired[(m, "all")]["n"] == followup_n
        assert paired[(m, "all")]["followup_mean"] == pytest.approx(followup_mean)
    for m, low_n in con.sql(REPORT_ONLY_TABLES["wellbeing_low_followup"]).fetchall():
        assert paired[(m, "low_baseline")]["n"] == low_n
    # The mental-health section's query: the same change for every measure someone has both scores in.
    for r in con.sql(REPORT_ONLY_TABLES["wellbeing_change"]).pl().to_dicts():
        p = paired[(r["measure"], "all")]
        assert (r["n"], r["mean_change"]) == (p["n"], pytest.approx(p["mean_change"]))
        assert r["sd_change"] == (pytest.approx(p["sd_change"]) if p["sd_change"] is not None else None)


def test_auditors_csv_has_the_interval(warehouse, tmp_path):
    from speval.report.outputs import EXTRA_TABLES, WELLBEING_PAIRED_CHANGE_COLUMNS, read_extra_table

    assert "wellbeing_paired_change" in EXTRA_TABLES  # written to tables/ with the other tables
    df = read_extra_table(warehouse.con, "wellbeing_paired_change")
    assert tuple(df.columns) == (*WELLBEING_PAIRED_CHANGE_COLUMNS, "ci_low", "ci_high")
    rows = {(r["measure"], r["group"]): r for r in df.to_dicts()}
    # 1 ± t(0.975, 3) 3.182446 × √(8/3) / 2 = 1 ± 2.5985; 2 ± t(0.975, 1) 12.706205 × √2 / √2 = 2 ± 12.7062.
    assert (rows[("feeling_positive", "all")]["ci_low"], rows[("feeling_positive", "all")]["ci_high"]) == \
        pytest.approx((-1.5985, 3.5985), abs=1e-4)
    assert (rows[("feeling_positive", "low_baseline")]["ci_low"],
            rows[("feeling_positive", "low_baseline")]["ci_high"]) == pytest.approx((-10.7062, 14.7062), abs=1e-4)
    assert rows[("lifestyle", "all")]["ci_low"] is None and rows[("money", "all")]["ci_high"] is None
    path = tmp_path / "wellbeing_paired_change.csv"
    df.write_csv(path)
    text = path.read_text()
    assert "nan" not in text.lower()
    assert text.splitlines()[0] == "measure,group,n,baseline_mean,followup_mean,mean_change,sd_change,ci_low,ci_high"
    assert "money,all,0,,,,,," in text
