"""The mental-health pathway section (MH runs only, right after the summary): the Wilson and paired-change
intervals, disclosure control of every figure it shows, the section built from fixture tables (and absent for
LTC runs), and the section in the report of a real MH `speval run`.

The fast tests need no PDF; those marked `pipeline` render PDFs or run the job once on the demo data set."""
from __future__ import annotations

import re
import shutil
import subprocess

import polars as pl
import pytest

from speval.report import disclosure as dc
from speval.report.render import build_context, render_html
from speval.report.sections.mh_pathway import SHARE_OF, change_interval, mean_changes, mh_pathway
from speval.run.vocabulary import MH_PATHWAY_STEPS
from test_report import WB_MEASURES, fixture_meta, fixture_tables, html_text

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

STEPS = [s.code for s in MH_PATHWAY_STEPS]
# 156 referred (published 155), sustained 3 of 13 observable: * with its share and interval.
PATHWAY = dict(zip(STEPS, [156, 143, 137, 141, 75, 13, 3]))
# Paired change per measure; money over 6 referrals (every figure *), lifestyle planted to find if it leaks.
PLANTED_CHANGE = 0.7312


def pathway_table(**counts: int) -> pl.DataFrame:
    n = {**PATHWAY, **counts}
    return pl.DataFrame({"step": STEPS, "n": [n[s] for s in STEPS]})


def change_table() -> pl.DataFrame:
    rows = []
    for i, m in enumerate(WB_MEASURES):
        n = 6 if m == "money" else 280
        mean = PLANTED_CHANGE if m == "money" else 0.05 * i - 0.05
        rows.append({"measure": m, "n": n, "mean_change": mean, "sd_change": 0.8})
    return pl.DataFrame(rows)


def mh_tables(**counts: int) -> dict[str, pl.DataFrame]:
    return {**fixture_tables(), "mh_pathway": pathway_table(**counts), "wellbeing_change": change_table()}


def mh_meta() -> dict:
    return {**fixture_meta(), "programme": "MH", "programme_name": "Mental health"}


def flat(html: str) -> str:
    """The report's text without markup (the invisible marks of counts and percentages of people first) or charts,
    on one line."""
    body = re.sub(r"<svg\b.*?</svg>", " ", html, flags=re.S)
    body = re.sub(r'<span class="sdc"[^>]*>([^<]*)</span>', r"\1", body)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def mh_section(html: str) -> str:
    start = html.index('<section id="mh-pathway"')
    return html[start:html.index("</section>", start)]


# --------------------------------------------------------------------------- intervals


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (5, 10, 0.2366, 0.7634),
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (1, 1, 0.2065, 1.0),
    (75, 140, 0.4533, 0.6163),
])
def test_wilson_interval_known_values(k, n, low, high):
    lo, hi = dc.wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_interval_agrees_with_scipy():
    from scipy.stats import binomtest

    for n in (1, 2, 7, 10, 35, 140):
        for k in range(n + 1):
            ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
            assert dc.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12), (k, n)


def test_wilson_interval_ends_exactly_at_0_and_1_and_refuses_nonsense():
    assert dc.wilson_interval(0, 10)[0] == 0.0 and dc.wilson_interval(10, 10)[1] == 1.0
    for k, n in ((0, 0), (11, 10), (-1, 10)):
        with pytest.raises(ValueError):
            dc.wilson_interval(k, n)


def test_change_interval_is_a_t_interval():
    lo, hi = change_interval(10, 1.0, 2.0)  # t(0.975, 9) = 2.262157: ±1.4307
    assert (round(lo, 4), round(hi, 4)) == (-0.4307, 2.4307)
    assert change_interval(1, 1.0, None) == (None, None) and change_interval(0, 0.0, None) == (None, None)


# --------------------------------------------------------------------------- disclosure control


def test_share_and_its_interval_come_from_the_rounded_counts():
    # 11 of 13 -> 10 of 15: 67%, and the interval of 10/15 (42-85), not of 11/13 (58-96).
    assert dc.publish_share(11, 13) == ("67", "42", "85")
    assert dc.publish_share(75, 141) == ("54", "45", "62")  # 75 of 140
    assert dc.publish_share(3, 13) == ("*", "*", "*") and dc.publish_share(0, 5) == ("*", "*", "*")
    assert dc.publish_share(0, 20) == ("0", "0", "16")
    assert dc.publish_share(0, 0) == ("", "", "") and dc.publish_share(None, 20) == ("", "", "")


def test_pathway_steps_and_shares_are_disclosure_controlled():
    rows = {r["step"]: r for r in dc.publish_mh_pathway(pathway_table(), SHARE_OF).to_dicts()}
    assert [rows[s]["n"] for s in STEPS] == ["155", "145", "135", "140", "75", "15", "*"]
    assert (rows["engaged"]["of"], rows["engaged"]["pct"]) == ("referred", "94")  # 145 of 155
    assert (rows["discharged"]["of"], rows["discharged"]["pct"]) == ("discharge_review_due", "54")
    assert rows["discharge_observable_12m"]["of"] == "discharged"
    sustained = rows["discharge_sustained_12m"]
    assert (sustained["n"], sustained["pct"], sustained["pct_low"], sustained["pct_high"]) == ("*",) * 4
    assert rows["referred"]["of"] == rows["discharge_review_due"]["of"] == rows["referred"]["pct"] == ""
    # A suppressed denominator withholds the share of a step that is not itself small.
    few = {r["step"]: r for r in dc.publish_mh_pathway(pathway_table(discharge_observable_12m=5,
                                                                      discharge_sustained_12m=0),
                                                       SHARE_OF).to_dicts()}
    assert few["discharge_sustained_12m"]["n"] == "0" and few["discharge_sustained_12m"]["pct"] == "*"
    assert few["discharge_observable_12m"]["pct"] == "*"


def test_mean_change_over_1_to_7_referrals_is_suppressed():
    changes = mean_changes({"wellbeing_change": change_table()})
    assert changes["money"] == {"n": "*", "change": "*", "ci": "*", "low": "*"}
    assert changes["feeling_positive"]["change"] == "-0.05" and changes["lifestyle"]["change"] == "0.00"
    assert changes["family_friends"]["change"] == "+0.30"
    lo, hi = change_interval(280, 0.30, 0.8)
    assert changes["family_friends"]["ci"] == f"{dc.format_decimal(lo)} to {dc.format_decimal(hi)}"


# --------------------------------------------------------------------------- the section from fixture tables


def test_section_shows_every_finding_and_withholds_small_counts():
    ctx = build_context(mh_tables(), mh_meta())
    assert [s["id"] for s in ctx["sections"][:3]] == ["summary", "mh-pathway", "hospital"]
    assert ctx["num"]["mh-pathway"] == "2" and ctx["num"]["hospital"] == "3"
    assert ctx["figures"]["funnel"] == 1 and ctx["figures"]["chart"] == 2
    assert ctx["tabno"]["mh_pathway"] == 1 and ctx["tabno"]["mh_wellbeing"] == 2 and ctx["tabno"]["hospital"] == 3
    sec = flat(mh_section(render_html(ctx)))
    assert "The mental-health pathway" in sec
    assert ("Of about 155 people referred to the pilot by 31 December 2013, 145 (94%) engaged in an initial "
            "meeting and 135 (87%) took up a service.") in sec
    assert ("Of about 140 people due a discharge review by 31 December 2013, 75 (54%; 95% interval 45% to 62%) "
            "were discharged from secondary mental health care.") in sec
    assert ("15 (20%; 95% interval 13% to 30%) of them were discharged at least 12 months ago, and of those "
            "fewer than 8 had their discharge sustained") in sec
    # Table 1: the suppressed step, its share and interval are all *.
    assert "Discharge sustained for 12 months * Discharged at least 12 months ago * *" in sec
    assert "Engaged in an initial meeting 145 Referred to the pilot 94 89 to 96" in sec
    # Well-being: progress across measures with intervals, per measure progress and mean change; money (6) is *.
    assert "Of about 145 referrals with a follow-up review, 93% (95% interval 88% to 96%) made progress on at " \
           "least one measure and 14% (95% interval 9% to 20%) made progress on four or more measures." in sec
    assert "Money * * * * *" in sec
    assert "Family and friends 280 29 68 +0.30 0.21 to 0.39" in sec
    # Hospital use and social value point to their sections.
    assert "Section 4 compares the hospital use of the people referred with a matched group" in sec
    assert "In the 6 month cohort, fewer than 8 referred patients were matched, so its matched estimates are " \
           "suppressed." in sec  # 6 matched in the fixture
    assert "the pilot's social value is £0.66 to £0.81 per £1 spent to date, resting on illustrative values " \
           "(section 5," in sec
    assert not re.search(r"\b(156|143|137|141)\b|\b0\.73|ago 13\b|\b3 had", sec)  # raw counts, planted mean


def test_funnel_draws_published_counts_and_no_bar_for_a_small_step():
    ctx = build_context(mh_tables(took_up=5), mh_meta())
    svg = str(ctx["mh"]["funnel_svg"])
    texts = re.findall(r'<text class="bartext[^>]*>([^<]*)</text>', svg)  # the labels at the bars' ends
    assert texts == ["155", "145 (94%)", "*"]
    bars = re.findall(r'<g class="point"><path d="M0,[\d.]+V[\d.]+H([\d.]+)V', svg)
    assert len(bars) == 3 and float(bars[2]) == 0.0 and float(bars[0]) > float(bars[1]) > 0
    assert str(build_context(mh_tables(took_up=5), mh_meta())["mh"]["funnel_svg"]) == svg  # deterministic ids
    assert re.search(r'id="funnel-1"', svg)
    # Fewer than 8 referred: no chart, and the text says why.
    small = build_context(mh_tables(referred=6, engaged=5, took_up=4, discharge_review_due=3, discharged=2,
                                    discharge_observable_12m=1, discharge_sustained_12m=1), mh_meta())
    assert small["mh"]["funnel_svg"] is None and small["figures"]["funnel"] is None
    sec = flat(mh_section(render_html(small)))
    assert "Fewer than 8 people had been referred to the pilot by 31 December 2013, so the pathway's figures " \
           "are suppressed." in sec
    assert "Fewer than 8 people were due a discharge review by 31 December 2013, so the discharge figures are " \
           "suppressed." in sec


def test_wellbeing_of_fewer_than_8_referrals_is_suppressed():
    tables = mh_tables()
    tables["wellbeing_progress"] = pl.DataFrame({"measures_progressed": ["at_least_1", "at_least_4"],
                                                 "n_followup": [6, 6], "n": [5, 1], "pct": [83.33, 16.67]})
    tables["wellbeing"] = tables["wellbeing"].with_columns(pl.lit(6).alias("followup_n"))
    tables["wellbeing_change"] = change_table().with_columns(pl.lit(6).alias("n"))
    sec = flat(mh_section(render_html(build_context(tables, mh_meta()))))
    assert "Fewer than 8 referrals had a follow-up review, so the well-being figures are suppressed." in sec
    assert "Of fewer than 8" not in sec and "83" not in sec
    assert "Feeling positive * * * * *" in sec and "Family and friends * * * * *" in sec


def test_cohorts_too_small_for_a_matched_comparison_are_explained():
    tables = mh_tables()
    tables["matched_effects"] = tables["matched_effects"].with_columns(
        pl.when(pl.col("cohort") == "12m").then(5).otherwise(0).alias(c) for c in ("n_treated", "n_controls"))
    sec = flat(mh_section(render_html(build_context(tables, mh_meta()))))
    assert ("No matched comparison of hospital use can be shown for this quarter because the pilot's cohorts are "
            "too small: in the 12 month cohort fewer than 8 referred patients were matched and in the 6 month "
            "cohort no referred patient could be matched (section 4).") in sec
    # Only the 12 month cohort small: the reader is sent to the comparison, told which cohort is withheld.
    tables["matched_effects"] = mh_tables()["matched_effects"].with_columns(
        pl.when(pl.col("cohort") == "12m").then(5).otherwise(96).alias(c) for c in ("n_treated", "n_controls"))
    sec = flat(mh_section(render_html(build_context(tables, mh_meta()))))
    assert "Section 4 compares the hospital use" in sec
    assert "In the 12 month cohort, fewer than 8 referred patients were matched, so its matched estimates are " \
           "suppressed." in sec


def test_section_is_absent_for_ltc():
    tables = mh_tables()
    ctx = build_context(tables, fixture_meta())
    assert ctx["mh"] is None and "mh-pathway" not in ctx["num"] and ctx["num"]["hospital"] == "2"
    assert "funnel" not in ctx["figures"] and "mh_pathway" not in ctx["tabno"]
    html = render_html(ctx)
    assert "mental-health pathway" not in html and 'id="funnel-' not in html and "mh-pathway" not in html
    # The MH tables change nothing in an LTC report.
    assert html == render_html(build_context(fixture_tables(), fixture_meta()))
    assert mh_pathway(tables, "LTC", None) is None


def test_section_renders_with_its_tables_absent_or_empty():
    ctx = build_context(fixture_tables(matching=False, economics=False), mh_meta())
    assert ctx["mh"]["steps"] == [] and ctx["figures"]["funnel"] is None and ctx["tabno"]["mh_pathway"] is None
    sec = flat(mh_section(render_html(ctx)))
    assert "The pathway's figures are not available for this quarter." in sec
    assert "There is no comparison group yet" in sec and "Social value" not in sec
    assert "Mean change" in sec  # the well-being table still stands, without the change
    empty = {name: df.clear() for name, df in mh_tables().items()}
    empty["unmatched_treated"] = pl.DataFrame()
    sec = flat(mh_section(render_html(build_context(empty, mh_meta()))))
    assert "The pathway's figures are not available for this quarter." in sec
    assert "No well-being figures are available for this quarter." in sec
    assert "The social return on investment is not available for this quarter" in sec
    # No one referred yet: every step 0.
    zero = build_context(mh_tables(**dict.fromkeys(STEPS, 0)), mh_meta())
    sec = flat(mh_section(render_html(zero)))
    assert "No one had been referred to the pilot by 31 December 2013." in sec
    assert "No one had been referred, so there is no chart." in sec


# --------------------------------------------------------------------------- PDFs


def pdftotext(pdf) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout


@pytest.mark.pipeline  # its charts start Chromium: not in `make test-fast`
def test_mh_fixture_report_is_reproducible():
    """The same tables give the same HTML twice, with the pathway section in it. The same HTML gives the same PDF
    bytes (test_end_to_end's test_same_inputs_give_identical_tables_and_pdf); the MH demo's PDF is read below."""
    html = render_html(build_context(mh_tables(), mh_meta()))
    assert render_html(build_context(mh_tables(), mh_meta())) == html
    text = " ".join(html_text(html).split())
    assert "2 The mental-health pathway" in text and "Figure 1: From referral to taking up a service" in text


@pytest.fixture(scope="module")
def mh_run(demo_mh_run):
    """The demo's MH 2016Q4 run, shared with the other modules (conftest.py)."""
    return demo_mh_run


@pytest.mark.pipeline
@needs_poppler
def test_section_in_a_real_mh_report(mh_run):
    pages = pdftotext(mh_run / "evaluation_report.pdf").split("\f")
    text = " ".join(" ".join(pages[2:]).split())  # after the title page and the contents
    pathway = {r["step"]: r["n"] for r in pl.read_csv(mh_run / "tables" / "mh_pathway.csv").to_dicts()}
    contents = " ".join(pages[1].split())
    assert re.search(r"1 Summary \.+ ?\d+ 2 The mental-health pathway \.+ ?\d+ 3 Hospital use", contents), contents
    assert "2 The mental-health pathway" in text
    referred = dc.publish_count(pathway["referred"])
    assert f"Of about {referred} people referred to the pilot by 31 December 2016" in text
    pct, low, high = dc.publish_share(pathway["discharged"], pathway["discharge_review_due"])
    assert f"{dc.publish_count(pathway['discharged'])} ({pct}%; 95% interval {low}% to {high}%) were discharged " \
           "from secondary mental health care" in text
    assert "Figure 1: From referral to taking up a service" in text
    start = text.index("2 The mental-health pathway")
    section = text[start:text.index("3 Hospital use before and after referral For each", start)]
    assert re.search(r"95% interval \d+% to \d+%", section)
    # Table 1 (HTML: the same content) shows each step's published count, never the raw one.
    html = (mh_run / "evaluation_report.html").read_text(encoding="utf-8")
    for step in MH_PATHWAY_STEPS:
        shown = re.search(rf'<th class="stub">{re.escape(step.label)}</th><td class="grp-end">(?:<span [^>]*>)?([^<]*)'
                          r'(?:</span>)?</td>', html)
        assert shown and shown.group(1) == dc.publish_count(pathway[step.code]), step.code
