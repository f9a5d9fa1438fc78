"""The release check (speval/report/release.py, ADR 0022): the report marks every count and percentage of people it
prints; the check reads the rendered HTML and PDF back and judges what is printed, finds identifiers anywhere in the
run's outputs, and blocks the run from publishing anything when it finds something.

The fast tests need no PDF; those marked `pipeline` render PDFs or run the job."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from speval.report import disclosure as dc
from speval.report import render
from speval.report.release import Mark, check_csv, check_html, check_json, check_release, judge, read_marks
from speval.report.render import build_context, render_html, render_report
from speval.report.templating import COUNT, PCT, html_environment
from speval.run.spec import REPORT_HTML, REPORT_PDF, RUN_MANIFEST
from test_report import fixture_meta, fixture_tables

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
                                   reason="poppler-utils (pdftotext, pdfinfo) not installed")

NHS_NUMBER = "9434765919"  # a valid NHS number (tests/test_identifiers.py), written as one block
NHS_NUMBER_SPACED = "943 476 5919"
POSTCODE = "LS1 4AP"

#: Every section that prints a count of people, by its heading (the fixture is an LTC run: no MH section).
SECTIONS_WITH_COUNTS = ["title page", "1 Summary", "2 Hospital use before and after referral",
                        "3 Comparison with a matched group", "4 Value for money and social value", "5 Well-being",
                        "6 Who was included", "Appendix B HES data quality"]


def section_of(where: str) -> str:
    return re.match(r"(?:page \d+, )?section “([^”]*)”", where).group(1)


def page_text(pdf: Path, page: int) -> str:
    """One page of the PDF as text, laid out (a table row on one line), whitespace collapsed."""
    out = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    return " ".join(out.split())


# --------------------------------------------------------------------------- the marks


@pytest.mark.parametrize("printed, rule", [
    ("0", None), ("*", None), ("10", None), ("1,250", None), ("1250", None),
    ("1", "count_1_to_7"), ("7", "count_1_to_7"), ("8", "count_not_rounded"), ("1,251", "count_not_rounded"),
    ("seven", "not_a_figure"), ("1,25", "not_a_figure"),
])
def test_a_printed_count_is_judged_at_the_boundaries(printed, rule):
    """0 and * pass, 1 to 7 must be *, from 8 a count must be a multiple of 5; anything else is no figure."""
    findings = judge([Mark("c", COUNT, None, "t")], {"c": printed}, "f", {"c": "t"})
    assert [f.rule for f in findings] == ([rule] if rule else [])


@pytest.mark.parametrize("denominator, pct, rule", [
    ("10", "40", None), ("10", "*", None), ("8", "40", None), ("7", "40", "denominator_under_8"),
    ("5", "40", "denominator_under_8"), ("*", "40", "denominator_under_8"),
    (None, "40", "denominator_not_printed"), ("10", "4O", "not_a_figure"),
])
def test_a_printed_percentage_is_judged_on_its_printed_denominator(denominator, pct, rule):
    """A percentage needs its denominator printed as a count of 8 people or more (* says fewer than 8). Only the
    percentage's findings are looked at here: the count's own are judged above."""
    marks = [Mark("p", PCT, "c" if denominator is not None else None, "pct"), Mark("c", COUNT, None, "count")]
    printed = {"p": pct, **({"c": denominator} if denominator is not None else {})}
    findings = judge(marks, printed, "f", {"p": "pct", "c": "count"})
    assert [f.rule for f in findings if f.where == "pct"] == ([rule] if rule else [])


def test_one_helper_marks_counts_and_percentages_of_people():
    env = html_environment()
    out = env.from_string('{{ n | count_of_people(name="wb-all-money-n") }} '
                          '{{ p | pct_of_people(of="wb-all-money-n") }} {{ m | count_of_people }} '
                          '[{{ blank | count_of_people }}] {{ "" | cell | count_of_people }}'
                          ).render(n="1250", p="35", m="*", blank="")
    assert out == ('<span class="sdc" data-sdc="count" id="sdc-wb-all-money-n">1,250</span> '
                   '<span class="sdc" data-sdc="pct" id="sdc-1" data-denominator="sdc-wb-all-money-n">35</span> '
                   '<span class="sdc" data-sdc="count" id="sdc-2">*</span> [] –')
    with pytest.raises(ValueError, match="twice"):
        env.from_string('{{ "10" | count_of_people(name="x") }}{{ "15" | count_of_people(name="x") }}').render()
    # A fresh environment per render numbers its marks from 1 again: the same inputs give the same report.
    assert 'id="sdc-1"' in html_environment().from_string("{{ '5' | count_of_people }}").render()


def test_marks_are_deterministic_invisible_and_cover_every_section():
    ctx = build_context(fixture_tables(), fixture_meta())
    html = render_html(ctx)
    assert html == render_html(build_context(fixture_tables(), fixture_meta()))
    marks, _ = read_marks(html)
    ids = [m.id for m in marks]
    assert len(ids) == len(set(ids)) and len(marks) > 150
    assert {section_of(m.where) for m in marks} >= set(SECTIONS_WITH_COUNTS)
    # Appendix A's rows of each file are not people: printed exactly, not marked (ADR 0003).
    assert not [m for m in marks if section_of(m.where).startswith("Appendix A")]
    # Every percentage names a marked count as its denominator, and the marks carry no value but their text.
    kinds = {m.id: m.kind for m in marks}
    assert all(kinds.get(m.denominator) == "count" for m in marks if m.kind == "pct")
    assert not re.search(r'<span class="sdc"[^>]*\b(?:data-value|value|title)=', html)
    # The report's text is what it was: the marks only wrap it.
    unmarked = re.sub(r'<span> </span>(<span class="sdc")', r" \1", html)  # the space kept before a mark
    unmarked = re.sub(r'<span class="sdc"[^>]*>([^<]*)</span>', r"\1", unmarked)
    assert "About 910 people had been referred to the programme by 31 December 2013." in unmarked


def test_mental_health_section_marks_its_counts_and_shares():
    from test_report_mh import mh_meta, mh_tables

    marks, _ = read_marks(render_html(build_context(mh_tables(), mh_meta())))
    pathway = [m for m in marks if section_of(m.where) == "2 The mental-health pathway"]
    assert len(pathway) > 30
    assert {m.kind for m in pathway} == {"count", "pct"}
    # The low scorers' share in the MH table names the well-being section's count of those people.
    assert any(m.denominator == "sdc-wb-low_baseline-lifestyle-n" for m in pathway)


# --------------------------------------------------------------------------- identifiers in tables and manifests


def test_identifiers_in_the_tables_and_the_manifest(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    digest = "ab" + NHS_NUMBER + "cd" * 26  # a sha256 may hold ten digits in a row: it is read like a key
    pl.DataFrame({"file": ["a.csv", "b.csv", "c.csv"], "sha256": [digest] * 3,
                  "note": ["", "2013-10-01 00:00", f"call {NHS_NUMBER_SPACED}"]}).write_csv(tables / "t.csv")
    found = check_csv(tables / "t.csv", "tables/t.csv")
    assert [f.line() for f in found] == [
        "tables/t.csv, row 4, column “note”: a valid NHS number is printed (value withheld)"]
    (tmp_path / RUN_MANIFEST).write_text(json.dumps({
        "outputs": [{"file": "evaluation_report.pdf", "sha256": digest}], "code_version": {"git_commit": digest[:40]},
        "parameters": {"data_dir": f"/data/{POSTCODE}"}, "rows": 9434765918}))
    found = check_json(tmp_path / RUN_MANIFEST, RUN_MANIFEST)
    assert [(f.where, f.rule) for f in found] == [("parameters.data_dir", "postcode")]
    for f in found:
        assert "LS1" not in f.line() and "4AP" not in f.line()


def test_sums_of_money_printed_in_full_are_not_nhs_numbers(tmp_path):
    """A ×10 demo run's value-for-money table held 3070133.8956482136: its ten digits after the point carry a
    valid check digit, and the release check refused the run. A fraction is no NHS number; an NHS number
    written like a number (`9434765918.0`) still is."""
    tables = tmp_path / "tables"
    tables.mkdir()
    pl.DataFrame({"basis": ["matched", "matched"], "benefit_gbp": [3070133.8956482136, 3178297.7471348587]}
                 ).write_csv(tables / "value_for_money.csv")
    assert (tables / "value_for_money.csv").read_text().splitlines()[1] == "matched,3070133.8956482136"
    assert check_csv(tables / "value_for_money.csv", "tables/value_for_money.csv") == []
    pl.DataFrame({"benefit_gbp": [3070133.8956482136, float(NHS_NUMBER)]}).write_csv(tables / "t.csv")
    assert [f.line() for f in check_csv(tables / "t.csv", "tables/t.csv")] == [
        "tables/t.csv, row 3, column “benefit_gbp”: a valid NHS number is printed (value withheld)"]


@pytest.mark.parametrize("text, rule", [
    (f"Produced by speval 2f{NHS_NUMBER}e0c1d2a3b4c5d6e7f8a9b0c1d2e3", None),  # a commit with ten digits inside
    (f"sha256 ab{NHS_NUMBER}{'cd' * 26}", None),
    (f"speval 2f{NHS_NUMBER}e0c1d2a3b4c5d6e7f8a9b0c1d2e3; call {NHS_NUMBER_SPACED}", "nhs_number"),
    (f"the patient {NHS_NUMBER} was referred", "nhs_number"),  # ten digits and no letter: not a digest
    (f"{NHS_NUMBER}0123", None),  # fourteen digits: a longer number, not an NHS number
    (f"digest 2f{NHS_NUMBER}e0c1d2a3b4c5 and {POSTCODE}", "postcode"),
])
def test_digests_in_printed_text_are_read_as_keys_and_nothing_else_is_hidden(text, rule):
    """A page or HTML block is judged with each hex digest (a sha256, the commit id the report prints) read as a
    whole, like a pseudonymised key: its ten digits in a row are not an NHS number. Every other identifier on the
    same text still stops the release."""
    from speval.report.release import _identifier_rule

    assert _identifier_rule(text) == rule


# --------------------------------------------------------------------------- the fixture report passes


@pytest.mark.pipeline
@needs_poppler
def test_the_fixture_report_passes_the_release_check(fixture_report):
    result = check_release(fixture_report["html"].parent)
    assert result.passed, "\n".join(f.line() for f in result.findings)
    assert result.files_checked == [REPORT_HTML, REPORT_PDF]
    # Every mark read back from the HTML is found, and read, at its place in the PDF.
    marks, _ = check_html(fixture_report["html"])
    assert result.marks_checked == result.pdf_marks_checked == len(marks) > 150
    assert {section_of(m.where) for m in marks} >= set(SECTIONS_WITH_COUNTS)
    assert result.summary().startswith(f"releasable: {len(marks)} marked figures checked in the HTML report")


# --------------------------------------------------------------------------- leaky reports fail


@pytest.fixture(scope="module")
def leaky(tmp_path_factory) -> dict:
    """The fixture report rendered with leaks planted in the renderer: an unrounded count (12 referred), a count
    of 3 (patients referred to a funded provider), a percentage over 5 people, an NHS number in a table cell, a
    postcode in a sentence; and one leak in the PDF only (a count of 6 printed where the HTML has *)."""
    folder = tmp_path_factory.mktemp("leaky")
    tables = fixture_tables()
    tables["quarantine"] = pl.concat([tables["quarantine"], pl.DataFrame([
        {"source": "hes", "file": "hes/2013Q4/apc.csv", "row_number": 99, "reason": f"free text holds {NHS_NUMBER}"}])])

    def where_row(column: str, condition: pl.Expr, value: str):
        return pl.when(condition).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)

    attrition, hospital_use, wellbeing = dc.publish_attrition, dc.publish_hospital_use, dc.publish_wellbeing
    bottom_line, write_pdf = render.bottom_line, render.write_pdf

    def pdf_only(html: str, path: Path) -> None:
        mark = 'id="sdc-wb-all-money-n">*<'
        assert html.count(mark) == 1
        write_pdf(html.replace(mark, 'id="sdc-wb-all-money-n">6<'), path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dc, "publish_attrition", lambda df: attrition(df).with_columns(
            where_row("n", (pl.col("cohort") == "12m") & (pl.col("step") == "referred"), "12")))
        mp.setattr(dc, "publish_hospital_use", lambda df: hospital_use(df).with_columns(
            where_row("n_patients", (pl.col("cohort") == "6m") & (pl.col("group") == "funded"), "3")))
        mp.setattr(dc, "publish_wellbeing", lambda *a, **k: wellbeing(*a, **k).with_columns(
            where_row("baseline_n", pl.col("measure") == "lifestyle", "5")))
        mp.setattr(render, "bottom_line", lambda *a, **k: {
            **bottom_line(*a, **k), "programme": f"Long-term conditions at {POSTCODE}"})
        mp.setattr(render, "write_pdf", pdf_only)
        paths = render_report(tables, fixture_meta(), folder)
    result = check_release(folder)
    return {"paths": paths, "result": result, "html": [f for f in result.findings if f.file == REPORT_HTML],
            "pdf": [f for f in result.findings if f.file == REPORT_PDF]}


def one(findings, rule: str, where: str):
    hits = [f for f in findings if f.rule == rule and where in f.where]
    assert len(hits) == 1, (rule, where, [f.line() for f in findings])
    return hits[0]


def page_of(finding) -> int:
    return int(re.match(r"page (\d+), ", finding.where).group(1))


ATTRITION_CELL = ("Table 13: People included at each step, by cohort, row “Referred to the programme by the end of "
                  "the quarter”, column “12 month cohort / People”")


@pytest.mark.pipeline
@needs_poppler
def test_an_unrounded_count_fails_naming_its_cell_and_page(leaky):
    assert not leaky["result"].passed
    html = one(leaky["html"], "count_not_rounded", ATTRITION_CELL)
    assert html.printed == "12" and html.where.startswith("section “6 Who was included”")
    # The same cell, found again in the PDF, on the page that prints it.
    pdf = one(leaky["pdf"], "count_not_rounded", ATTRITION_CELL)
    assert pdf.printed == "12"
    assert re.search(r"Table 13: People included .* Referred to the programme by the end of the 12 – 910 – "
                     r"quarter ", page_text(leaky["paths"]["pdf"], page_of(pdf)))
    # The summary and the bottom line read the same count: found there too.
    one(leaky["html"], "count_not_rounded", "section “1 Summary”")
    one(leaky["html"], "count_not_rounded", "section “title page”, “The bottom line”")


@pytest.mark.pipeline
@needs_poppler
def test_a_count_of_three_fails_in_its_sentence(leaky):
    finding = one(leaky["html"], "count_1_to_7", "section “2 Hospital use before and after referral”")
    assert finding.printed == "3"
    assert finding.line() == ("evaluation_report.html, section “2 Hospital use before and after referral”: a count "
                              "of 1 to 7 people is printed instead of * (printed “3”)")
    pdf = one(leaky["pdf"], "count_1_to_7", "section “2 Hospital use before and after referral”")
    assert "of whom 3 were referred to a funded provider" in page_text(leaky["paths"]["pdf"], page_of(pdf))


@pytest.mark.pipeline
@needs_poppler
def test_a_percentage_of_five_people_fails(leaky):
    cell = "row “Lifestyle”, column “Low baseline score a (%)”"
    finding = one(leaky["html"], "denominator_under_8", cell)
    assert "Well-being at baseline" in finding.where and "its denominator prints “5”" in finding.line()
    one(leaky["pdf"], "denominator_under_8", cell)
    one(leaky["html"], "count_1_to_7", "row “Lifestyle”, column “People with a baseline score”")


@pytest.mark.pipeline
@needs_poppler
def test_identifiers_fail_without_being_repeated(leaky):
    nhs = one(leaky["html"], "nhs_number", "section “Appendix A Data and validation”")
    assert "column “Reason”" in nhs.where
    postcode = one(leaky["html"], "postcode", "section “title page”, “The bottom line”")
    assert postcode.printed == ""
    pdf_rules = {(f.rule, f.where) for f in leaky["pdf"] if f.rule in ("nhs_number", "postcode")}
    assert ("postcode", "page 1") in pdf_rules
    nhs_page = next(int(w.split()[1]) for rule, w in pdf_rules if rule == "nhs_number")
    assert "Quarantined rows, by reason" in page_text(leaky["paths"]["pdf"], nhs_page)
    for f in leaky["result"].findings:
        line = f.line()
        assert NHS_NUMBER not in line and "943" not in line and "LS1" not in line.upper(), line


@pytest.mark.pipeline
@needs_poppler
def test_a_leak_only_in_the_pdf_is_found_on_its_page(leaky):
    cell = "row “Everyone with a baseline and a review score › Money”, column “People with both scores”"
    assert not [f for f in leaky["html"] if cell in f.where]  # the HTML prints * there
    finding = one(leaky["pdf"], "count_1_to_7", cell)
    assert finding.printed == "6" and "Table 12: Distance travelled" in finding.where
    assert "Money 6 " in page_text(leaky["paths"]["pdf"], page_of(finding))


@pytest.mark.pipeline
@needs_poppler
def test_the_printed_text_is_judged_not_what_the_renderer_meant(fixture_report, tmp_path):
    """A mark edited in the HTML after rendering is judged on what it now prints; the PDF, unchanged, passes."""
    html = fixture_report["html"].read_text(encoding="utf-8")
    html = html.replace('id="sdc-1">910<', 'id="sdc-1">913<', 1)
    html = html.replace('id="sdc-bottom-line-reviewed">145<', 'id="sdc-bottom-line-reviewed">5<', 1)
    (tmp_path / REPORT_HTML).write_text(html, encoding="utf-8")
    shutil.copy(fixture_report["pdf"], tmp_path / REPORT_PDF)
    result = check_release(tmp_path)
    assert {(f.file, f.rule, f.printed) for f in result.findings} == {
        (REPORT_HTML, "count_not_rounded", "913"), (REPORT_HTML, "count_1_to_7", "5"),
        (REPORT_HTML, "denominator_under_8", "93")}
    assert result.summary().startswith(
        "not releasable: evaluation_report.html, section “title page”, “The bottom line”: a count of people is not "
        "rounded to the nearest 5 (printed “913”)")


# --------------------------------------------------------------------------- the pipeline


def test_the_release_check_blocks_the_manifest():
    from assets.report import passes_the_release_check, report_checks

    assert passes_the_release_check in report_checks
    (spec,) = passes_the_release_check.check_specs
    assert spec.blocking and spec.asset_key.path == ["report", "evaluation_report"]


@pytest.mark.pipeline
@needs_poppler
def test_the_demo_run_records_who_each_output_is_for_and_passes(demo_run):
    folder = demo_run / "out" / "LTC" / "2013Q4"
    manifest = json.loads((folder / RUN_MANIFEST).read_text(encoding="utf-8"))
    sensitivity = manifest["sensitivity"]
    assert sensitivity[REPORT_HTML].startswith("publishable") and sensitivity[REPORT_PDF].startswith("publishable")
    assert sensitivity["tables/"].startswith("restricted") and sensitivity["quality/"].startswith("restricted")
    check = manifest["release_check"]
    assert check["passed"] is True and check["findings"] == 0 and check["findings_by_rule"] == {}
    assert check["marks_checked"] > 100 and check["pdf_marks_checked"] == check["marks_checked"]
    assert {"tables/hospital_use.csv", "quality/hes_file_quality.csv"} <= set(check["files_checked"])
    published = check_release(folder)  # the published folder, its manifest too
    assert published.passed, published.summary()
    assert RUN_MANIFEST in published.files_checked


@pytest.mark.pipeline
@needs_poppler
def test_the_marks_change_no_line_of_the_demo_pdf(demo_run, tmp_path):
    """The marks are invisible in the PDF too: the demo report lays out line for line as it does with every mark
    (and the space kept before it, templating.spaced_marks) taken out. WeasyPrint once left a word alone on a line
    of the title page's bottom line, breaking before a mark."""
    from weasyprint import HTML

    folder = demo_run / "out" / "LTC" / "2013Q4"
    html = (folder / REPORT_HTML).read_text(encoding="utf-8")
    unmarked = re.sub(r'<span> </span>(<span class="sdc")', r" \1", html)
    unmarked = re.sub(r'<span class="sdc"[^>]*>([^<]*)</span>', r"\1", unmarked)
    assert "sdc" not in re.sub(r"<style>.*?</style>", "", unmarked, flags=re.S)
    HTML(string=unmarked, base_url=str(render.TEMPLATE_DIR)).write_pdf(tmp_path / "unmarked.pdf")
    layout = [subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                             text=True).stdout for pdf in (folder / REPORT_PDF, tmp_path / "unmarked.pdf")]
    assert layout[0] == layout[1]


@pytest.mark.pipeline
def test_a_leaky_report_fails_the_run_and_publishes_nothing(tmp_path, run_speval, monkeypatch):
    from test_run_spec import tiny

    attrition = dc.publish_attrition
    monkeypatch.setattr(dc, "publish_attrition", lambda df: attrition(df).with_columns(
        pl.when(pl.col("step") == "referred").then(pl.lit("12")).otherwise(pl.col("n")).alias("n")))
    run = run_speval(tiny(tmp_path / "data"))
    assert run.exit_code == 1
    failure = [line for line in run.stderr.splitlines() if "passes_the_release_check" in line]
    assert len(failure) == 1 and "a count of people is not rounded to the nearest 5 (printed “12”)" in failure[0]
    assert not run.run_dir.exists()
    assert not list((tmp_path / "out").rglob(RUN_MANIFEST))
