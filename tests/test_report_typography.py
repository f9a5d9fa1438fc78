"""How the report writes numbers (issue 14, item 3): thousands separators, true minus signs, no "-0.00", and
run parameters in words; the published strings themselves (and tables/*.csv) keep their plain form."""

from __future__ import annotations

import re

import polars as pl
import pytest

from speval.report import disclosure as dc
from speval.report import format as fmt
from speval.report.render import build_context, render_html
from speval.report.sections.appendices import data_and_validation, parameter_label, parameter_value
from speval.report.templating import html_environment
from test_report import fixture_meta, fixture_tables, pdftotext
from test_report import pytestmark as renders_pdfs

MINUS = "\u2212"


@pytest.mark.parametrize(("published", "shown"), [
    ("1250", "1,250"), ("573769", "573,769"), ("999", "999"), ("1000", "1,000"), ("1234567.89", "1,234,567.89"),
    ("-0.12", f"{MINUS}0.12"), ("-1234.5", f"{MINUS}1,234.5"), ("+0.04", "+0.04"), ("+12345", "+12,345"),
    ("0", "0"), ("0.00", "0.00"), ("-0.00", "0.00"), ("-0", "0"), ("+0.00", "0.00"),
    ("*", "*"), ("", ""), ("<0.1", "<0.1"), (">99.9", ">99.9"), ("2013Q4", "2013Q4"), ("2013/14", "2013/14"),
])
def test_grouped(published, shown):
    assert fmt.grouped(published) == shown


def test_rounding_never_shows_minus_zero():
    # -0.004 rounds to 0.00: printed without a sign, not "−0.00".
    assert dc.format_decimal(-0.004, 2) == "0.00"
    assert fmt.grouped(dc.format_decimal(-0.004, 2)) == "0.00"
    assert fmt.pounds(dc.publish_money(-0.4)) == "£0"
    assert fmt.grouped(dc.format_decimal(-0.005, 2)) == f"{MINUS}0.01"  # half away from zero
    assert fmt.grouped(dc.format_decimal(-1234.565, 2)) == f"{MINUS}1,234.57"
    assert fmt.grouped(dc.format_decimal(999.995, 2)) == "1,000.00"


def test_money_minus_interval_and_signed():
    assert fmt.pounds("573769") == "£573,769" and fmt.pounds("-0.85") == f"{MINUS}£0.85"
    assert fmt.pounds_interval("-118904", "426960") == f"{MINUS}£118,904 to £426,960"
    assert fmt.interval("-0.07", "0.15") == f"{MINUS}0.07 to 0.15"
    assert fmt.interval("-1500", "-20") == f"{MINUS}1,500 to {MINUS}20"
    assert fmt.interval("*", "0.1") == "*"
    assert fmt.grouped("-0.19") == f"{MINUS}0.19" and fmt.grouped("0.19") == "0.19"
    assert fmt.signed("0.04") == "+0.04" and fmt.grouped(fmt.signed("1500")) == "+1,500"
    assert fmt.in_words(5) == "five" and fmt.in_words(1250) == "1,250"


def test_display_leaves_codes_and_non_strings_alone():
    assert fmt.display("32410") == "32,410" and fmt.display("-0.5") == f"{MINUS}0.5"
    assert fmt.display(f"-{dc.INFINITE}") == f"{MINUS}{dc.INFINITE}"
    sha = fmt.verbatim("123456789012")
    assert fmt.display(sha) == "123456789012" and sha == "123456789012"
    assert fmt.display(2013) == 2013 and fmt.display(None) is None
    assert fmt.display("hes/2013Q4/apc.csv") == "hes/2013Q4/apc.csv"


def test_templates_format_at_the_very_end():
    """The template prints separators and minus signs; the value it was given is unchanged."""
    env = html_environment()
    values = {"n": "1250", "d": "-0.07", "s": fmt.verbatim("0042")}
    assert env.from_string("{{ n }} {{ d }} {{ s }} {{ n | cell }}").render(**values) == f"1,250 {MINUS}0.07 0042 1,250"
    assert values == {"n": "1250", "d": "-0.07", "s": "0042"}


def test_published_strings_stay_plain():
    """Disclosure control returns plain strings (parsed again by the sections, e.g. per_100's Decimal): only
    the template gives them separators."""
    assert dc.publish_count(32412) == "32410" and dc.publish_money(-573769.4) == "-573769"
    ctx = build_context(fixture_tables(), fixture_meta())
    op = next(r for r in ctx["appendix_a"]["reconciliation"] if r["file"].endswith("op.csv"))
    assert op["rows_read"] == "32412"  # rows of a file are not people: exact (ADR 0003)


def test_run_parameters_in_words():
    assert parameter_label("followup_min_days") == "Well-being follow-up: earliest review (days after baseline)"
    assert parameter_label("matching_with_replacement") == "Matching with replacement"
    assert parameter_label("some_new_flag") == "Some new flag"
    assert parameter_value("matching_with_replacement", False) == "No"
    assert parameter_value("matching_with_replacement", True) == "Yes"
    assert parameter_value("quarter", "2013Q4") == "2013Q4 (October to December 2013)"
    assert fmt.display(parameter_value("seed", 20240101)) == "20240101"
    assert fmt.display(parameter_value("bootstrap_replicates", 1000)) == "1,000"
    html = " ".join(render_html(build_context(fixture_tables(), fixture_meta())).split())
    appendix = html.split('id="appendix-b"')[1]
    assert "<th>Matching with replacement</th><td>No</td>" in appendix
    assert "<th>Bootstrap replicates</th><td>1,000</td>" in appendix
    assert "<th>Random seed</th><td>42</td>" in appendix
    for code in ("followup_min_days", "matching_with_replacement", "bootstrap_replicates", "False"):
        assert code not in appendix, code


def test_provider_workbooks_named_not_globbed():
    tables = fixture_tables()
    tables["reconciliation"] = pl.concat([tables["reconciliation"], pl.DataFrame([
        {"source": "provider_returns", "file": "provider_returns/2013Q3/P002.xlsx#Activity", "rows_read": 20,
         "rows_accepted": 20, "rows_quarantined": 0, "rows_duplicate": 0}])])
    a = data_and_validation(tables)
    files = [r["file"] for r in a["reconciliation"]]
    assert "provider_returns/2013Q3/: P001.xlsx and P002.xlsx, sheet Activity" in files
    row = next(r for r in a["reconciliation"] if r["file"].startswith("provider_returns/"))
    assert row["rows_read"] == "60"  # the quarter's workbooks still summed per sheet
    assert [r["file"] for r in a["quarantine"] if r["source"] == "provider_returns"] == [
        "provider_returns/2013Q3/: P001.xlsx and P002.xlsx, sheet Activity"]
    assert not any("*" in f for f in files)


# A hyphen-minus meant as a minus: after a space, "(", "[" or "£" (or at a line start), before a digit. Date
# ranges ("2012-13"), codes and file names have a letter or digit before the hyphen, so they do not match.
HYPHEN_MINUS = re.compile(r"(?:^|(?<=[\s(\[£]))-£?\d", re.M)
# A run of 4 or more digits not part of a grouped number, a decimal or a word.
LONG_RUN = re.compile(r"(?<![\w.,\u2212+-])\d{4,}(?![\w,]|\.\d)")
YEAR = re.compile(r"(?:19|20)\d\d")


def long_runs(text: str) -> list[str]:
    """4+ digit runs without separators other than years (19xx/20xx); quarter keys (2013Q4), hashes (hex with
    letters) and file names are not matched by LONG_RUN, as a letter or "/" touches them."""
    return [m.group(0) for m in LONG_RUN.finditer(text) if not YEAR.fullmatch(m.group(0))]


def test_the_checks_themselves():
    sample = ("fell by -0.12 (-0.3 to 0.1) and -£5; 2012-13 prices, hes/2013Q4/op.csv, 2013Q4, sha 3f2a9c1d0b7e, "
              "1,250 people, 12345 rows, 2013, −0.07, 2013/14")
    assert HYPHEN_MINUS.findall(sample) == ["-0", "-0", "-£5"]
    assert long_runs(sample) == ["12345"]


@pytest.mark.pipeline
@pytest.mark.skipif(renders_pdfs[1].args[0], reason=renders_pdfs[1].kwargs["reason"])
def test_the_rendered_report_prints_minus_signs_and_separators(fixture_report):
    text = pdftotext(fixture_report["pdf"])
    # The page footers name the delivery's sha only when one is recorded; hashes are hex, so allow them.
    text = re.sub(r"\b[0-9a-f]{12,64}\b", "<hash>", text)
    bad = [text[max(0, m.start() - 40):m.end() + 10] for m in HYPHEN_MINUS.finditer(text)]
    assert not bad, bad
    assert not long_runs(text), long_runs(text)
    assert MINUS in text and "1,250" in text and "32,410" in text and "£573,769" in text


def test_the_summary_prints_how_many_had_a_review_with_separators():
    """The summary's count of people reviewed at follow-up is a published count like any other: 1,250."""
    from speval.report.format import display
    from speval.report.sections.summary import wellbeing_points

    rows = [{"followup_n": "1250", "progress_pct": "40", "label": "Money", "measure": "money"},
            {"followup_n": "1305", "progress_pct": "45", "label": "Lifestyle", "measure": "lifestyle"}]
    [reviewed, *_] = wellbeing_points(rows)
    assert reviewed["kind"] == "reviewed"
    assert (display(reviewed["low"]), display(reviewed["high"])) == ("1,250", "1,305")
