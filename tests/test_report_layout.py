"""The report's page layout (issue 14): no page less than a quarter full unless it ends a section, no table split from
its notes, every table naming the CSV it comes from, and the love plot's axis showing a marker at 0 whole.

The page tests read the rendered PDFs back with poppler: `pdftoppm` (how far down each page's text area is used)
and `pdftotext -layout` (section headings, table captions, rows and notes, page by page)."""
from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from speval.report import charts
from test_report import read_pgm

needs_poppler = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("pdftoppm", "pdftotext", "pdfinfo")),
    reason="poppler-utils (pdftoppm, pdftotext, pdfinfo) not installed")

DEMO_REPORT = Path("out") / "LTC" / "2013Q4" / "evaluation_report.pdf"
REPO = Path(__file__).resolve().parents[1]

#: The page box of report.css (A4, margins 22 mm top and 20 mm bottom): the body lies between the running header and
#: the running footer.
PAGE_MM, TOP_MM, BOTTOM_MM = 297.0, 22.0, 20.0
#: A page whose body is used less than this far down is nearly empty: allowed only as the last page of a section.
MIN_FILL = 0.25
#: Grey levels below this count as ink (table rules and shaded rows included; the page is white, 255).
INK = 240


# --------------------------------------------------------------------------- reading the PDF


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def page_texts(pdf: Path) -> list[str]:
    """The text of every page, laid out (`pdftotext -layout`: a table row on one line)."""
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    pages = out.split("\f")
    return pages[:page_count(pdf)]


def page_fill(pdf: Path, folder: Path) -> list[float]:
    """For every page, how far down its body the lowest ink lies, as a fraction of the body's height (0: empty)."""
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(pdf), str(folder / "p")], check=True)
    fills = []
    for pgm in sorted(folder.glob("p-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        width, height, px = read_pgm(pgm)
        scale = height / PAGE_MM
        top, bottom = round(TOP_MM * scale), round((PAGE_MM - BOTTOM_MM) * scale)
        lowest = None
        for y in range(bottom - 1, top - 1, -1):
            row = px[y * width:(y + 1) * width]
            if sum(p < INK for p in row) >= 2:
                lowest = y
                break
        fills.append(0.0 if lowest is None else (lowest - top + 1) / (bottom - top))
    return fills


def contents(pages: list[str]) -> list[tuple[str, str]]:
    """The sections of the report as its contents page lists them: (number, title), e.g. ("1", "Summary"),
    ("Appendix A", "Data and validation")."""
    (toc,) = [p for p in pages[:3] if "Contents" in p]
    entries = []
    for line in toc.splitlines():
        m = re.match(r"\s*(\d+|Appendix [A-Z])\s+(.+?)[\s.]*\d+\s*$", line)
        if m:
            entries.append((m.group(1), m.group(2).strip()))
    return entries


def section_starts(pages: list[str]) -> dict[int, str]:
    """Page number (from 1) -> the section whose heading starts there: the title page and the contents count as
    sections of their own; the others are found by their heading ("1 Summary", "Appendix A: Data and validation")."""
    starts = {1: "title page"}
    toc_page = next(i for i, p in enumerate(pages[:3], start=1) if "Contents" in p)
    starts[toc_page] = "contents"
    for number, title in contents(pages):
        heading = re.compile(rf"^\s*{re.escape(number)}:?\s+{re.escape(title)}\s*$", re.M)
        found = [i for i, p in enumerate(pages, start=1) if i > toc_page and heading.search(p)]
        assert found, f"no page starts with the heading of section {number} {title}"
        starts[found[0]] = f"{number} {title}"
    return starts


def nearly_empty_pages(pdf: Path, folder: Path) -> list[str]:
    """Pages less than a quarter full that are not the last page of their section, described."""
    pages = page_texts(pdf)
    fills = page_fill(pdf, folder)
    assert len(fills) == len(pages)
    starts = section_starts(pages)
    section, found = "", []
    for page, fill in enumerate(fills, start=1):
        section = starts.get(page, section)
        last_of_section = page == len(pages) or page + 1 in starts
        if fill < MIN_FILL and not last_of_section:
            found.append(f"page {page} ({section}) is {fill:.0%} full")
    return found


# --------------------------------------------------------------------------- tables in the HTML


def _text(fragment: str) -> str:
    """An HTML fragment's text, whitespace collapsed (soft hyphens dropped)."""
    spaced = re.sub(r"</?(?:td|th|tr|p|br|div|li|caption)\b[^>]*>", " ", fragment)  # cells and lines apart
    return " ".join(unescape(re.sub(r"<[^>]+>", "", spaced)).replace("\u00ad", "").split())


def captioned_tables(html: str) -> list[dict]:
    """Every numbered table of the report ("Table N:" caption), with the text of its rows and of its notes."""
    found = []
    for m in re.finditer(r'<table class="data[^"]*">(.*?)</table>\s*(<div class="notes[^"]*">.*?</div>)?', html, re.S):
        body, notes = m.group(1), m.group(2) or ""
        caption = re.search(r"<caption>(.*?)</caption>", body, re.S)
        number = re.search(r"Table (\w+):", _text(caption.group(1))) if caption else None
        if not number:
            continue
        tbody = re.search(r"<tbody>(.*?)</tbody>", body, re.S).group(1)
        rows = [_text(r) for r in re.findall(r"<tr\b[^>]*>(.*?)</tr>", tbody, re.S)]
        paragraphs = [_text(p) for p in re.findall(r"<p\b[^>]*>(.*?)</p>", notes, re.S)]
        found.append({"number": number.group(1), "rows": [r for r in rows if r],
                      "notes": [p for p in paragraphs if p],
                      "sources": re.findall(r'<span class="source">(.*?)</span>(?=</p>)', notes, re.S)})
    return found


def _words(text: str) -> list[str]:
    return text.lower().replace("\u2212", "-").split()


def _holds(region: list[str], row: str) -> bool:
    """Whether every word of a table row is among the words of ``region`` (a row's cells may wrap onto lines of
    their own in the laid-out text, so the words are matched, not the line)."""
    pool = list(region)
    for w in _words(row):
        if w not in pool:
            return False
        pool.remove(w)
    return True


def tables_split_from_notes(pdf: Path, html: str) -> list[str]:
    """Numbered tables whose notes are not on the page of their caption and do not follow at least their last two
    rows on the page of the last row, described."""
    pages = [_words(p) for p in page_texts(pdf)]
    flat = [(i, w) for i, p in enumerate(pages, start=1) for w in p]
    words = [w for _, w in flat]
    problems = []
    for t in captioned_tables(html):
        assert t["notes"], f"Table {t['number']} has no notes"
        caption = _find(words, f"table {t['number']}:".split())
        assert caption is not None, f"Table {t['number']}: caption not found in the PDF"
        note = _find(words, _words(t["notes"][0])[:10], start=caption)
        assert note is not None, f"Table {t['number']}: notes not found in the PDF"
        last_note = _find(words, _words(t["notes"][-1])[-8:], start=note)
        note_page, end_page, caption_page = flat[note][0], flat[last_note][0], flat[caption][0]
        if end_page != note_page:
            problems.append(f"Table {t['number']}: its notes run from page {note_page} onto page {end_page}")
            continue
        if caption_page == note_page:
            continue
        # Split: its last two rows on the page of its notes, and its first two rows on the page of its caption (no
        # row left alone at the foot of a page).
        page_start = next(k for k, (p, _) in enumerate(flat) if p == note_page)
        kept = [r for r in t["rows"][-2:] if _holds(words[page_start:note], r)]
        if len(kept) < min(2, len(t["rows"])):
            problems.append(f"Table {t['number']}: caption on page {caption_page}, notes on page {note_page} "
                            f"with {len(kept)} of its last 2 rows")
        page_end = next(k for k, (p, _) in enumerate(flat) if p > caption_page)
        started = [r for r in t["rows"][:2] if _holds(words[caption:page_end], r)]
        if len(started) < min(2, len(t["rows"])):
            problems.append(f"Table {t['number']}: only {len(started)} of its rows on page {caption_page}, under its "
                            "caption")
    return problems


def _find(words: list[str], needle: list[str], start: int = 0) -> int | None:
    """Index of the first run of ``needle`` in ``words`` at or after ``start``."""
    n = len(needle)
    for k in range(start, len(words) - n + 1):
        if words[k:k + n] == needle:
            return k
    return None


# --------------------------------------------------------------------------- the demo report and the fixture report


@pytest.fixture(scope="module")
def demo_report(demo_run) -> dict[str, Path]:
    pdf = demo_run / DEMO_REPORT
    return {"pdf": pdf, "html": pdf.with_suffix(".html")}


@pytest.mark.pipeline
@needs_poppler
@pytest.mark.parametrize("which", ["demo", "fixture"])
def test_no_nearly_empty_page_inside_a_section(which, request, tmp_path):
    report = request.getfixturevalue("demo_report" if which == "demo" else "fixture_report")
    assert nearly_empty_pages(report["pdf"], tmp_path) == []


@pytest.mark.pipeline
@needs_poppler
@pytest.mark.parametrize("which", ["demo", "fixture"])
def test_no_table_is_split_from_its_notes(which, request):
    report = request.getfixturevalue("demo_report" if which == "demo" else "fixture_report")
    html = report["html"].read_text(encoding="utf-8")
    assert len(captioned_tables(html)) >= 10
    assert tables_split_from_notes(report["pdf"], html) == []


@pytest.mark.pipeline
def test_every_table_links_the_csv_the_run_wrote(demo_run):
    folder = (demo_run / DEMO_REPORT).parent
    html = (folder / "evaluation_report.html").read_text(encoding="utf-8")
    tables = captioned_tables(html)
    assert tables and all(t["sources"] for t in tables), [t["number"] for t in tables if not t["sources"]]
    links = re.findall(r'<a href="([^"]+)"', html)
    csv_links = [h for h in links if h.endswith(".csv")]
    assert {"tables/hospital_use.csv", "tables/sensitivity.csv", "tables/balance_all_settings.csv",
            "tables/unmatched.csv", "quality/hes_file_quality.csv"} <= set(csv_links)
    missing = sorted({h for h in csv_links if not (folder / h).is_file()})
    assert missing == [], f"the report links CSVs the run did not write: {missing}"
    # Every source line names its files as links (relative to the run folder), or, for reference data, names the
    # file under data/reference/ that exists in the checkout.
    for source in re.findall(r'<span class="source">(.*?)</span>(?=</p>|</figcaption>)', html, re.S):
        for name in re.findall(r"\b((?:tables|quality|data/reference)/[\w.-]+\.csv)\b", _text(source)):
            if name.startswith("data/reference/"):
                assert (REPO / name).is_file(), name
            else:
                assert f'<a href="{name}">{name}</a>' in source, (name, source)
    # In the PDF too the links stay relative to the run folder: no path of the machine that rendered it.
    urls = subprocess.run(["pdfinfo", "-url", str(folder / "evaluation_report.pdf")], check=True,
                          capture_output=True, text=True).stdout.splitlines()[1:]
    pdf_links = {line.split()[-1] for line in urls}
    assert "tables/hospital_use.csv" in pdf_links and not [u for u in pdf_links if ":" in u or u.startswith("/")]


def test_love_plot_axis_shows_zero_with_room():
    before = [0.42, 0.0, 0.13]
    after = [0.0, 0.02, 0.05]
    fig = charts.love_plot_figure(["Age", "Sex (female)", "Risk score"], [("12 month cohort", before, after),
                                                                         ("6 month cohort", after, before)])
    for axis in ("xaxis", "xaxis2"):
        lo, hi = fig.layout[axis].range
        span = hi - lo
        assert lo < 0 and -lo >= 0.02 * span, (axis, lo, hi)  # a marker at 0 is drawn whole, not cut at the edge
        assert hi >= 0.42 + 0.02 * span and hi >= 0.1  # the largest SMD and the 0.1 line too


# --------------------------------------------------------------------------- the sensitivity table's readings


def _setting(caliper: str, ratio: str, replacement: str, did: str, lo: str, hi: str, primary: bool = False) -> dict:
    """A row of the sensitivity table (matched.sensitivity_to_settings) with one cohort's published estimate."""
    return {"primary": primary, "known": True, "caliper": caliper, "ratio": ratio, "replacement": replacement,
            "name": f"c{caliper}_r{ratio}_{replacement}", "cells": [{"published": (did, lo, hi)}]}


def test_each_setting_whose_conclusion_differs_is_named_and_read():
    from speval.report.sections.matched import settings_readings

    rows = [_setting("0.2", "1", "without", "-0.09", "-0.19", "0.01", primary=True),
            _setting("0.1", "1", "with", "-0.15", "-0.24", "-0.04"),
            _setting("0.5", "1", "with", "-0.12", "-0.24", "-0.01"),
            _setting("0.1", "1", "without", "-0.08", "-0.18", "0.02"),
            _setting("0.5", "5", "without", "0.02", "-0.06", "0.11"),
            _setting("0.1", "5", "without", "*", "*", "*")]  # suppressed: not compared
    assert settings_readings(rows, ["6m"]) == [
        "6 month cohort: under every setting with replacement (caliper 0.1 SD, 1:1: −0.15 per patient, 95% interval "
        "−0.24 to −0.04; caliper 0.5 SD, 1:1: −0.12 per patient, 95% interval −0.24 to −0.01), the 95% intervals lie "
        "wholly below zero, whereas the primary analysis's (−0.09 per patient, 95% interval −0.19 to 0.01) includes "
        "zero. Under those settings referred patients had fewer emergency admissions than expected without referral; "
        "the primary analysis does not show this clearly, so it is at most weak evidence of a fall, one that depends "
        "on how patients are matched.",
        "6 month cohort: with caliper 0.5 SD, 5:1, without replacement (+0.02 per patient, 95% interval −0.06 to "
        "0.11), the estimate points the other way to the primary analysis's (−0.09 per patient, 95% interval −0.19 to "
        "0.01). As both 95% intervals include zero, neither shows a clear change, and the direction of any effect on "
        "emergency admissions is not settled."]
    # The primary interval below zero, another setting's including it; then opposite clear directions.
    rows[0] = _setting("0.2", "1", "without", "-0.12", "-0.22", "-0.02", primary=True)
    readings = settings_readings(rows[:4], ["12m"])
    assert readings[0].startswith("12 month cohort: with caliper 0.1 SD, 1:1, without replacement (−0.08 per patient, "
                                  "95% interval −0.18 to 0.02), the 95% interval includes zero, whereas the primary "
                                  "analysis's (−0.12 per patient, 95% interval −0.22 to −0.02) lies wholly below zero.")
    assert "the fall in emergency admissions that the primary analysis finds depends in part on how patients are " \
           "matched" in readings[0]
    rows[1] = _setting("0.1", "1", "with", "0.15", "0.04", "0.24")
    assert "point clearly in opposite directions" in settings_readings(rows[:2], ["12m"])[0]


def test_readings_say_when_every_setting_agrees_or_the_primary_is_withheld():
    from speval.report.render import build_context
    from test_report import fixture_meta, fixture_tables

    sensitivity = build_context(fixture_tables(), fixture_meta())["matched"]["sensitivity"]
    assert sensitivity["readings"] == [
        "12 month cohort: under every other matching setting with a published estimate, the 95% interval for "
        "emergency admissions includes zero, as the primary analysis's does, and the estimate points the same way: "
        "the conclusion does not depend on how patients were matched.",
        "6 month cohort: the primary analysis's estimate is suppressed (fewer than 8 patients matched), so the other "
        "settings cannot be compared with it."]
