"""The publishable report: renders, is disclosure-controlled and is reproducible."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest

from speval.report import flow, render_report
from speval.report.render import build_context

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) not installed",
)

# A value planted in a disclosive cell: the funded 12 month group has 5 patients, so
# its mean must never appear in the report.
PLANTED_MEAN = 3.1416
PLANTED_WB_MEAN = 4.2718  # well-being mean over 6 people (followup_n 1-7)

MEASURES = ["inpatient_admissions", "emergency_admissions", "ae_attendances",
            "outpatient_appointments"]
WB_MEASURES = ["feeling_positive", "lifestyle", "looking_after_yourself",
               "managing_symptoms", "work_volunteering_social", "money",
               "where_you_live", "family_friends"]


def hospital_use_fixture() -> pl.DataFrame:
    rows = []
    groups = {
        ("12m", "all"): 108,
        ("12m", "funded"): 5,      # disclosive: 1-7 patients
        ("6m", "all"): 451,
        ("6m", "funded"): 123,
    }
    before = {"inpatient_admissions": 1.4630, "emergency_admissions": 0.9815,
              "ae_attendances": 1.9352, "outpatient_appointments": 1.7037}
    for (cohort, group), n in groups.items():
        scale = 1.0 if cohort == "12m" else 0.4
        for i, m in enumerate(MEASURES):
            b = before[m] * scale * (1.05 if group == "funded" else 1.0)
            a = b * (0.79 - 0.02 * i)
            if (cohort, group) == ("12m", "funded") and m == "inpatient_admissions":
                b, a = PLANTED_MEAN, PLANTED_MEAN / 2
            rows.append({"cohort": cohort, "group": group, "measure": m, "n_patients": n,
                         "mean_before": b, "mean_after": a, "change": a - b,
                         "pct_change": 100 * (a - b) / b})
    return pl.DataFrame(rows)


def wellbeing_fixture() -> pl.DataFrame:
    rows = []
    for i, m in enumerate(WB_MEASURES):
        fn = 6 if m == "money" else 280  # money: follow-up group of 6 -> suppressed
        rows.append({
            "measure": m, "baseline_n": 819, "baseline_mean": 3.08 + 0.1 * i,
            "baseline_low_pct": 30.0 - 2.5 * i,
            "followup_n": fn,
            "followup_mean": PLANTED_WB_MEAN if m == "money" else 3.62 + 0.05 * i,
            "progress_pct": 35.0 - i, "progress_low_pct": 61.0 + i,
        })
    return pl.DataFrame(rows)


def attrition_fixture() -> pl.DataFrame:
    steps = ["referred", "linked", "pre_window_covered", "post_window_covered", "alive",
             "registered"]
    ns = {"12m": [912, 880, 870, 120, 112, 108], "6m": [912, 880, 875, 470, 458, 451]}
    return pl.DataFrame([{"cohort": c, "step": s, "n": n}
                         for c, v in ns.items() for s, n in zip(steps, v)])


def reconciliation_fixture() -> pl.DataFrame:
    files = [("hes", "hes/2013Q4/persons.csv", 5003, 4993, 4, 6),
             ("hes", "hes/2013Q4/apc.csv", 20000, 19950, 50, 0),
             ("hes", "hes/2013Q4/ae.csv", 15000, 15000, 0, 0),
             ("hes", "hes/2013Q4/op.csv", 32412, 32400, 12, 0),
             ("outcome_tool", "outcome_tool/2013Q4/referrals.csv", 1000, 998, 2, 0),
             ("outcome_tool", "outcome_tool/2013Q4/assessments.csv", 2500, 2490, 10, 0),
             ("provider_returns", "provider_returns/2013Q3/P001.xlsx#Activity", 40, 39, 1, 0)]
    return pl.DataFrame([dict(zip(["source", "file", "rows_read", "rows_accepted",
                                   "rows_quarantined", "rows_duplicate"], f)) for f in files])


def quarantine_fixture() -> pl.DataFrame:
    rows = []
    for i in range(50):
        rows.append({"source": "hes", "file": "hes/2013Q4/apc.csv", "row_number": 10 + i,
                     "reason": "ADMIDATE is not a valid date" if i < 45 else "unknown TOKEN_PERSON_ID"})
    for i in range(4):
        rows.append({"source": "hes", "file": "hes/2013Q4/persons.csv", "row_number": 2 + i,
                     "reason": "duplicate key with different values"})
    rows.append({"source": "provider_returns", "file": "provider_returns/2013Q3/P001.xlsx#Activity",
                 "row_number": 31, "reason": "total row"})
    return pl.DataFrame(rows)


# HES data quality of delivery 2013Q4 against 2013Q3. Planted raw counts (never shown) and
# what the report must show instead.
PLANTED_DQ = {"32412": "32410", "3907": "3905", "2383": "2385", "4993": "4995"}


def hes_file_quality_fixture() -> pl.DataFrame:
    cols = ["delivery", "file", "rows_read", "rows_accepted", "rows_duplicate",
            "rows_conflicting_key", "rows_quarantined_other", "date_column", "first_date",
            "last_date", "previous_delivery", "records_revised", "records_withdrawn",
            "records_new"]
    rows = [
        ("2013Q4", "hes/2013Q4/apc.csv", 20000, 19950, 0, 0, 50, "ADMIDATE",
         "2011-04-01", "2013-12-30", "2013Q3", 41, 6, 2383),
        ("2013Q4", "hes/2013Q4/ae.csv", 15000, 15000, 0, 0, 0, "ARRIVALDATE",
         "2011-04-02", "2013-12-31", "2013Q3", 0, 0, 1741),
        ("2013Q4", "hes/2013Q4/op.csv", 32412, 32400, 0, 2, 10, "APPTDATE",
         "2011-04-04", "2013-12-20", "2013Q3", 128, 9, 3907),
        ("2013Q4", "hes/2013Q4/persons.csv", 5003, 4993, 6, 4, 0, "REGISTERED_FROM",
         "1998-04-01", "2013-11-28", "2013Q3", 17, 3, 212),
    ]
    df = pl.DataFrame([dict(zip(cols, r)) for r in rows])
    return df.with_columns(pl.col("first_date", "last_date").str.to_date())


def hes_missingness_fixture() -> pl.DataFrame:
    rows = [  # file, column, rows read, rows missing
        ("hes/2013Q4/persons.csv", "YEAR_OF_BIRTH", 5003, 0),
        ("hes/2013Q4/persons.csv", "LSOA11", 5003, 3),            # 0.06% -> 0.1
        ("hes/2013Q4/persons.csv", "IMD_DECILE", 5003, 1),        # 0.02% -> <0.1
        ("hes/2013Q4/persons.csv", "REGISTERED_TO", 5003, 4100),  # 81.95% -> 82.0
        ("hes/2013Q4/persons.csv", "DATE_OF_DEATH", 5003, 4871),  # 97.36% -> 97.4
        ("hes/2013Q4/apc.csv", "DISDATE", 20000, 812),            # 4.06% -> 4.1
        ("hes/2013Q4/apc.csv", "DIAG_4_01", 20000, 27),           # 0.135% -> 0.1
        ("hes/2013Q4/apc.csv", "EPIKEY", 20000, 0),
        ("hes/2013Q4/ae.csv", "AEARRIVALMODE", 15000, 15000),     # 100.0
        ("hes/2013Q4/op.csv", "TRETSPEF", 32412, 0),
    ]
    return pl.DataFrame([{"file": f, "column_name": c, "rows_read": n, "rows_missing": m,
                          "pct_missing": 100 * m / n} for f, c, n, m in rows])


def fixture_tables() -> dict[str, pl.DataFrame]:
    return {
        "attrition": attrition_fixture(),
        "hospital_use": hospital_use_fixture(),
        "wellbeing": wellbeing_fixture(),
        "reconciliation": reconciliation_fixture(),
        "quarantine": quarantine_fixture(),
        "hes_file_quality": hes_file_quality_fixture(),
        "hes_missingness": hes_missingness_fixture(),
    }


def fixture_meta() -> dict:
    return {
        "programme": "LTC",
        "programme_name": "Long-term conditions",
        "quarter": "2013Q4",
        "quarter_end": "2013-12-31",
        "deliveries": {
            "hes": {"key": "2013Q4", "coverage_start": "2011-04-01", "cutoff": "2013-12-31",
                    "extracted_on": "2014-01-17"},
            "outcome_tool": {"key": "2013Q4"},
            "provider_returns": ["2012Q3", "2012Q4", "2013Q1", "2013Q2", "2013Q3", "2013Q4"],
            "previous_hes": "2013Q3",
        },
        "code_version": "3f2a9c1d0b7e6f5a4c3b2a19087f6e5d4c3b2a10",
        "parameters": {"followup_window_days": [84, 140], "cohort_months": [6, 12],
                       "low_score_max": 2},
        "input_files": [
            {"file": "hes/2013Q4/persons.csv", "sha256": "a" * 64},
            {"file": "hes/2013Q4/apc.csv", "sha256": "b" * 64},
            {"file": "outcome_tool/2013Q4/referrals.csv", "sha256": "c" * 64},
        ],
    }


def pdftotext(pdf: Path, layout: bool = True) -> str:
    args = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def read_pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary (P5) 8-bit PGM as (width, height, pixels)."""
    data = path.read_bytes()
    tokens, pos = [], 0
    while len(tokens) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        tokens.append(data[pos:end])
        pos = end
    assert tokens[0] == b"P5" and int(tokens[3]) == 255
    w, h = int(tokens[1]), int(tokens[2])
    pixels = data[pos + 1: pos + 1 + w * h]
    assert len(pixels) == w * h
    return w, h, pixels


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    tables, meta = fixture_tables(), fixture_meta()
    first = render_report(tables, meta, tmp_path_factory.mktemp("run1"))
    t0 = time.perf_counter()
    second = render_report(tables, meta, tmp_path_factory.mktemp("run2"))
    elapsed = time.perf_counter() - t0
    return {"first": first, "second": second, "elapsed": elapsed}


def test_writes_html_and_pdf(rendered):
    paths = rendered["first"]
    assert set(paths) == {"html", "pdf"}
    assert paths["html"].name == "evaluation_report.html"
    assert paths["pdf"].name == "evaluation_report.pdf"
    assert paths["pdf"].read_bytes().startswith(b"%PDF-")
    assert paths["pdf"].stat().st_size > 10_000


def test_page_one_is_not_blank(rendered, tmp_path):
    pdf = rendered["first"]["pdf"]
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-gray", str(pdf),
                    str(tmp_path / "p")], check=True)
    (pgm,) = list(tmp_path.glob("p*.pgm"))
    _, _, px = read_pgm(pgm)
    mean = sum(px) / len(px)
    var = sum((p - mean) ** 2 for p in px) / len(px)
    assert var > 50, f"page 1 looks blank (variance {var:.1f})"
    assert sum(p < 128 for p in px) > 200  # there is dark ink (text) on the page


def test_text_content(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    flat = " ".join(pdftotext(rendered["first"]["pdf"], layout=False).split())
    for needle in ["Table 1", "Table 2", "Long-term conditions", "LTC", "2013Q4",
                   "Official – disclosure-controlled", "Contents", "Summary",
                   "Hospital use before and after referral", "Well-being",
                   "Who was included", "Caveats", "Data and validation", "Provenance",
                   "All patients referred", "Patients referred to a funded provider",
                   "Feeling positive", "Work, volunteering and social groups",
                   "Figure 1", "Regression to the mean", "Figure 2", "Cohort flow",
                   "HES data quality"]:
        assert needle in flat, needle
    assert re.search(r"Page 3 of \d+", flat)
    # HES delivery and cut-off on the title page.
    first_page = text.split("\f")[0]
    assert "HES delivery 2013Q4" in first_page and "31 December 2013" in first_page


def test_disclosive_values_never_published(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    # Chart geometry (path coordinates) is not text; keep only the SVG's visible text.
    svg_text = " ".join(re.findall(r"<text\b[^>]*>([^<]*)</text>", html))
    html = re.sub(r"<svg\b.*?</svg>", " ", html, flags=re.S)
    for body in (text, html, svg_text):
        for raw in ("3.14", "1.57", "4.27", "108", "451", "912", "5003", "4993",
                    *PLANTED_DQ, "4871"):
            assert raw not in body, raw
    # Rounded counts appear instead.
    assert "110 patients" in text and "450 patients" in text
    assert "5005" in text and "4995" in text
    # The funded 12 month group (5 patients) is suppressed, not shown.
    assert "of whom fewer than 8 were referred to a funded provider" in " ".join(text.split())


def test_reproducible_bytes(rendered):
    a, b = rendered["first"], rendered["second"]
    assert a["html"].read_bytes() == b["html"].read_bytes()
    assert a["pdf"].read_bytes() == b["pdf"].read_bytes()
    info = subprocess.run(["pdfinfo", "-isodates", str(a["pdf"])], check=True,
                          capture_output=True, text=True).stdout
    assert re.search(r"^CreationDate:\s+2013-12-31T00:00:00", info, re.M), info
    assert re.search(r"^ModDate:\s+2013-12-31T00:00:00", info, re.M), info


def test_html_is_self_contained(rendered):
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    assert "<svg" in html and "<style>" in html
    assert not re.search(r'<link\b|<script\b|src="http', html)
    assert 'name="dcterms.created" content="2013-12-31' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_page_count_and_speed(rendered):
    assert page_count(rendered["first"]["pdf"]) >= 4
    assert rendered["elapsed"] < 10  # warm render (kaleido already started)


def test_renders_with_empty_tables(tmp_path):
    tables = {name: df.clear() for name, df in fixture_tables().items()}
    paths = render_report(tables, fixture_meta(), tmp_path)
    text = pdftotext(paths["pdf"])
    assert "No hospital use figures are available" in text
    assert "No well-being figures are available" in text
    assert "No rows were quarantined" in text
    flat = " ".join(text.split())
    assert "The cohort flow diagram is not available" in flat
    assert "The HES file summary (rows, dates covered and changes since the previous delivery) " \
           "is not available" in flat
    assert "The missing-value summary is not available" in flat


def test_matched_sections_only_when_present(rendered, tmp_path):
    text = pdftotext(rendered["first"]["pdf"])
    assert "Comparison with a matched group" not in text
    tables = fixture_tables()
    tables["matched_effects"] = pl.DataFrame([
        {"cohort": "12m", "measure": m, "n_treated": 108, "n_controls": 320,
         "treated_before": 1.46, "treated_after": 1.17, "control_before": 1.41,
         "control_after": 1.30, "did": -0.18, "did_ci_low": -0.41, "did_ci_high": 0.05}
        for m in MEASURES
    ] + [
        {"cohort": "6m", "measure": m, "n_treated": 6, "n_controls": 18,
         "treated_before": 9.8765, "treated_after": 1.0, "control_before": 1.0,
         "control_after": 1.0, "did": -8.8765, "did_ci_low": -9.0, "did_ci_high": -8.0}
        for m in MEASURES
    ])
    tables["balance"] = pl.DataFrame([
        {"cohort": "12m", "covariate": "age", "smd_before": 0.31, "smd_after": 0.04},
        {"cohort": "6m", "covariate": "age", "smd_before": 0.5432, "smd_after": 0.02},
    ])
    paths = render_report(tables, fixture_meta(), tmp_path)
    text = pdftotext(paths["pdf"])
    assert "Comparison with a matched group" in text
    assert "Table 4" in text
    assert "-0.41 to 0.05" in text
    for raw in ("9.88", "-8.88", "0.54"):
        assert raw not in text


# ----------------------------------------------------------------------- cohort flow (Figure 2)


def flow_svg_of(html: str) -> str:
    (svg,) = re.findall(r'<svg\b[^>]*aria-label="Cohort flow[^"]*".*?</svg>', html, flags=re.S)
    return svg


def svg_texts(svg: str) -> list[str]:
    return re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)


def test_cohort_flow_figure(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    pages = text.split("\f")
    (page,) = [p for p in pages if "Figure 2: Cohort flow" in p]
    flat = " ".join(page.split())
    # Published numbers, in the PDF (the SVG is drawn with real text).
    for needle in ("12 month cohort", "6 month cohort", "n = 910", "n = 880",
                   "12 month cohort: n = 110", "6 month cohort: n = 450",
                   "Excluded: 30", "Excluded: 750", "Excluded: 405", "Excluded: *",
                   "Referred to the programme by 31 December 2013", "(1 April 2011)",
                   "(31 December 2013)"):
        assert needle in flat, needle
    # Figure 2 is in "Who was included", after Table 3 (the attrition table).
    whole = " ".join(text.split())
    assert whole.index("Table 3: People included at each step") < whole.index("Figure 2: Cohort flow") \
        < whole.rindex("5 Caveats")
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    texts = svg_texts(flow_svg_of(html))
    joined = " | ".join(texts)
    # 6 month cohort: 880 -> 875 excludes 5 people at the pre-referral step -> '*';
    # 12 month cohort: 112 -> 108 excludes 4 at the registration step -> '*'.
    assert texts.count("Excluded: *") == 3  # also 6m: 458 -> 451 excludes 7
    for raw in ("Excluded: 5", "Excluded: 4", "Excluded: 7", "Excluded: 32", "Excluded: 8"):
        assert raw not in texts, raw
    for raw in ("912", "112", "108", "458", "451"):
        assert raw not in joined, raw
    assert texts.count("Excluded: 10") == 3  # 880 -> 870 (10), 120 -> 112 (8), 470 -> 458 (12)


def test_flow_from_attrition_with_a_step_of_five():
    attrition = pl.DataFrame({
        "cohort": ["12m"] * 6,
        "step": ["referred", "linked", "pre_window_covered", "post_window_covered", "alive",
                 "registered"],
        "n": [33, 31, 30, 12, 5, 5],
    })
    ctx = build_context({"attrition": attrition}, fixture_meta())
    assert ctx["figures"] == {"chart": None, "flow": 1}
    texts = svg_texts(str(ctx["flow_svg"]))
    assert "n = 35" in texts and "n = 30" in texts and "n = 10" in texts  # 33, 31->30, 12->10
    assert "n = *" in texts and "12 month cohort: n = *" in texts  # steps of 5 people
    assert "Excluded: 0" in texts  # 5 -> 5
    assert texts.count("Excluded: *") == 3  # 2, 1 and 7 people excluded
    assert "Excluded: 18" not in texts and "Excluded: 20" in texts  # 30 -> 12 excludes 18
    assert "6 month cohort" not in texts


def _rect_boxes(root) -> list[tuple[float, float, float, float]]:
    return [(float(r.get("x")), float(r.get("y")), float(r.get("x")) + float(r.get("width")),
             float(r.get("y")) + float(r.get("height"))) for r in root.iter(f"{{{SVG_NS}}}rect")]


SVG_NS = "http://www.w3.org/2000/svg"


def assert_flow_layout_clean(svg: str) -> None:
    """Every line of text lies inside a box (or the heading band above the boxes), within
    the view box; boxes never overlap."""
    root = ET.fromstring(svg)
    _, _, vw, vh = (float(v) for v in root.get("viewBox").split())
    rects = _rect_boxes(root)
    top_of_boxes = min(r[1] for r in rects)
    for t in root.iter(f"{{{SVG_NS}}}text"):
        size = float(t.get("font-size"))
        w = flow.text_width(t.text, size, t.get("font-weight") == "bold")
        x, y = float(t.get("x")), float(t.get("y"))
        x0 = x - w / 2 if t.get("text-anchor") == "middle" else x
        box = (x0, y - 0.76 * size, x0 + w, y + 0.24 * size)
        assert 0 <= box[0] and box[2] <= vw and 0 <= box[1] and box[3] <= vh, t.text
        if box[3] <= top_of_boxes:  # a cohort heading
            continue
        assert any(r[0] < box[0] and box[2] < r[2] and r[1] < box[1] and box[3] < r[3]
                   for r in rects), f"text outside every box: {t.text!r}"
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, (a, b)


def test_flow_layout_fits_and_is_deterministic(rendered):
    html = rendered["first"]["html"].read_text(encoding="utf-8")
    svg = flow_svg_of(html)
    assert_flow_layout_clean(svg)
    assert " id=" not in svg  # nothing to clash with other inline SVGs
    # Long labels and reasons still wrap inside their boxes; one cohort alone is centred.
    long = flow.FlowCohort(title="A cohort with a long name", final_label="Cohort", steps=[
        flow.FlowStep("Referred to the programme by 31 December 2013", "910"),
        flow.FlowStep("A very long step label " * 4, "*", "*", "a very long reason " * 6),
        flow.FlowStep("Short", "0", "905", "x"),
    ])
    one = flow.cohort_flow_svg([long])
    assert_flow_layout_clean(one)
    assert one == flow.cohort_flow_svg([long])
    assert_flow_layout_clean(flow.cohort_flow_svg([long, long]))


# ----------------------------------------------------------------------- HES data quality


def test_hes_data_quality_appendix(rendered):
    text = pdftotext(rendered["first"]["pdf"])
    flat = " ".join(text.split())
    # Contents: three appendices, lettered in order.
    contents = " ".join(text.split("\f")[1].split())
    assert re.search(r"Appendix A Data and validation \.+ ?\d+ Appendix B HES data quality "
                     r"\.+ ?\d+ Appendix C Provenance", contents), contents
    start = flat.index("Appendix B: HES data quality")
    section = flat[start:flat.index("Appendix C: Provenance")]
    assert flat.index("Appendix A: Data and validation") < start
    # Published (rounded) counts, never the planted raw ones.
    for raw, shown in PLANTED_DQ.items():
        assert raw not in section and shown in section, (raw, shown)
    assert "op.csv 32410 32400 0 * 10" in section, section
    assert "persons.csv 5005 4995 * * 0" in section
    # Date range per file, naming its main date column.
    assert "persons.csv REGISTERED_FROM 1 Apr 1998 28 Nov 2013" in section
    assert "apc.csv ADMIDATE 1 Apr 2011 30 Dec 2013" in section
    # Changes since the previous delivery, naming it; 3 withdrawn persons -> '*'.
    assert "Compared with HES delivery 2013Q3" in section
    assert re.search(r"persons\.csv 15 \* 210", section)
    assert re.search(r"op\.csv 130 10 3905", section)
    # Missingness: only columns with missing values, % of records to one decimal.
    for needle in ("persons.csv LSOA11 0.1", "persons.csv IMD_DECILE <0.1",
                   "persons.csv REGISTERED_TO 82.0 blank = still registered",
                   "persons.csv DATE_OF_DEATH 97.4 blank = alive", "apc.csv DISDATE 4.1",
                   "apc.csv DIAG_4_01 0.1", "ae.csv AEARRIVALMODE 100.0"):
        assert needle in section, needle
    for absent in ("YEAR_OF_BIRTH", "TRETSPEF", "4871", "81.95", "97.36"):
        assert absent not in section, absent
    # Appendix A publishes the same rounded rows read for the same file.
    appendix_a = flat[flat.index("Appendix A: Data and validation"):start]
    assert "hes/2013Q4/op.csv hes 32410 32400 10 0" in appendix_a
    assert "Previous HES delivery 2013Q3" in flat


def test_absent_quality_tables_one_cohort_no_previous_delivery(tmp_path):
    tables = fixture_tables()
    del tables["hes_missingness"]
    tables["attrition"] = tables["attrition"].filter(pl.col("cohort") == "6m")
    tables["hes_file_quality"] = tables["hes_file_quality"].with_columns(
        pl.lit(None, pl.String).alias("previous_delivery"),
        *[pl.lit(None, pl.Int64).alias(c)
          for c in ("records_revised", "records_withdrawn", "records_new")])
    meta = fixture_meta()
    meta["deliveries"]["previous_hes"] = None
    paths = render_report(tables, meta, tmp_path)
    flat = " ".join(pdftotext(paths["pdf"]).split())
    assert "Figure 2: Cohort flow" in flat and "6 month cohort: n = 450" in flat
    assert "12 month cohort: n =" not in flat
    assert "There is no earlier HES delivery, so there is nothing to compare with." in flat
    assert "The missing-value summary is not available" in flat
    assert "op.csv 32410 32400 0 * 10" in flat
    assert "Previous HES delivery none" in flat
    assert_flow_layout_clean(flow_svg_of(paths["html"].read_text(encoding="utf-8")))
