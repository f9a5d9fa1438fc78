"""The release check: nothing leaves a run until its published outputs have been read back and judged
(docs/decisions/0022-release-gate.md).

The renderer marks every count of people and every percentage of people it prints
(:class:`speval.report.templating.PeopleMarks`). This module reads the rendered report back, as a reader or an
output checker would, and judges what is *printed*, never what the renderer meant to print:

- in the HTML, the text of every mark: a count must be ``0``, ``*`` or a multiple of 5 from 10 up; a
  percentage must be ``*`` or over a denominator (the printed text of the mark it names) of 8 or more;
- in the PDF, the same rules on the word printed at each mark's named destination, so a finding names the page;
- everywhere (the report's text, the PDF's text page by page, the CSVs in ``tables/`` and ``quality/`` and
  ``run_manifest.json``): no valid NHS number and no full UK postcode (speval/ingest/identifiers.py).

Findings name the file, the page or the section, table, row and column, the rule and the printed text; an
identifier itself is never repeated in a finding, because findings go to logs. Plain code, no Dagster.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl

from speval.ingest.identifiers import first_identifiers, identifier_in_key, identifier_in_text
from speval.report.disclosure import ROUNDING_BASE, SMALL_MAX, SUPPRESSED
from speval.report.templating import COUNT, DENOMINATOR, MARK_CLASS, MARK_ID, PCT
from speval.run.spec import REPORT_HTML, REPORT_PDF, RUN_MANIFEST

#: The folders of a run whose CSVs the check scans for identifiers (restricted, but still never to hold one).
CSV_FOLDERS = ("tables", "quality")

#: Each rule a finding can break, in words (the keys are what the check's metadata counts).
RULES = {
    "count_1_to_7": f"a count of 1 to {SMALL_MAX} people is printed instead of {SUPPRESSED}",
    "count_not_rounded": f"a count of people is not rounded to the nearest {ROUNDING_BASE}",
    "not_a_figure": f"a marked count or percentage of people is not a number or {SUPPRESSED}",
    "denominator_under_8": f"a percentage of fewer than {SMALL_MAX + 1} people is printed",
    "denominator_not_printed": "a percentage does not name a printed count of people as its denominator",
    "mark_not_in_pdf": "a marked figure of the HTML report has no word at its place in the PDF",
    "mark_not_in_html": "the PDF has a marked figure the HTML report does not have",
    "mark_id_twice": "two marks share an id",
    "nhs_number": "a valid NHS number is printed (value withheld)",
    "postcode": "a full UK postcode is printed (value withheld)",
    "unreadable": "the file could not be read, so it could not be checked",
}
_IDENTIFIER_RULES = {"a valid NHS number": "nhs_number", "a full UK postcode": "postcode"}

#: A printed count (``*`` aside): digits, with or without thousands separators (``1,250``).
_COUNT = re.compile(r"^\d{1,3}(?:,\d{3})*$|^\d+$")
#: A printed percentage: a number with or without decimals.
_PCT = re.compile(r"^\d+(?:\.\d+)?$")
#: What a figure looks like inside a PDF word such as ``(35%;`` or ``1,250)``.
_FIGURE_IN_WORD = re.compile(r"\*|[\u2212+-]?\d[\d,]*(?:\.\d+)?")
#: A hex digest or commit (sha256, git): it can hold ten digits in a row, so, like the pseudonymised keys of ADR
#: 0014, it counts only when it *is* an identifier as a whole (a digest with a letter never is).
_DIGEST = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{12,}\b")
#: CSV columns and JSON keys holding digests, read like keys (speval.ingest.identifiers.identifier_in_key).
_DIGEST_NAMES = ("sha256", "git_commit", "commit", "hash")

#: How far (pt) a mark's destination may be from the word printed there: pdfinfo rounds to whole points.
_X_TOLERANCE, _Y_TOLERANCE = 2.5, 3.0


@dataclass(frozen=True)
class Finding:
    """One thing that stops the release: where (file; page or section, table, row and column), which rule
    (a key of :data:`RULES`) and the printed text (never an identifier)."""

    file: str
    where: str
    rule: str
    printed: str = ""
    detail: str = ""

    def line(self) -> str:
        """The finding as one line for logs and the run's failure message."""
        printed = f" (printed “{self.printed}”{', ' + self.detail if self.detail else ''})" if self.printed else (
            f" ({self.detail})" if self.detail else "")
        return " ".join(f"{self.file}, {self.where}: {RULES.get(self.rule, self.rule)}{printed}".split())


@dataclass
class ReleaseCheck:
    """What the release check read and found."""

    marks_checked: int = 0
    pdf_marks_checked: int = 0
    files_checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(f.rule for f in self.findings).items()))

    def summary(self) -> str:
        """One readable line: the first finding, or what was checked."""
        if self.findings:
            more = len(self.findings) - 1
            return (f"not releasable: {self.findings[0].line()}"
                    + (f" (and {more} more finding{'s' if more != 1 else ''})" if more else ""))
        return (f"releasable: {self.marks_checked} marked figures checked in the HTML report and "
                f"{self.pdf_marks_checked} in the PDF, {len(self.files_checked)} files scanned for identifiers, "
                "no findings")

    def as_record(self) -> dict[str, Any]:
        """The result as the run manifest records it."""
        return {"passed": self.passed, "marks_checked": self.marks_checked,
                "pdf_marks_checked": self.pdf_marks_checked, "files_checked": list(self.files_checked),
                "findings": len(self.findings), "findings_by_rule": self.by_rule()}


# --------------------------------------------------------------------------- the HTML report


@dataclass
class Mark:
    """A marked figure as the HTML prints it: id, kind (count or pct), denominator id, printed text, and where."""

    id: str
    kind: str
    denominator: str | None
    where: str
    text: str = ""


@dataclass
class _Table:
    caption: str = ""
    head: list[list[tuple[str, int, int]]] = field(default_factory=list)
    in_head: bool = False
    columns: list[str] | None = None
    group: str = ""
    #: The row's cells so far: (tag, text, colspan, whether it holds words: a ``text`` cell).
    row: list[tuple[str, str, int, bool]] = field(default_factory=list)
    cell: list[str] | None = None
    cell_tag: str = ""
    cell_is_text: bool = False
    cell_span: tuple[int, int] = (1, 1)

    def column_labels(self) -> list[str]:
        """The header text above each column (``All patients referred / Before referral``), from the header
        rows with their column and row spans."""
        if self.columns is None:
            grid: dict[tuple[int, int], str] = {}
            for r, cells in enumerate(self.head):
                c = 0
                for text, colspan, rowspan in cells:
                    while (r, c) in grid:
                        c += 1
                    for dr in range(rowspan):
                        for dc in range(colspan):
                            grid[(r + dr, c + dc)] = text
                    c += colspan
            width = max((c for _, c in grid), default=-1) + 1
            self.columns = []
            for c in range(width):
                texts = [grid[(r, c)] for r in range(len(self.head)) if grid.get((r, c))]
                self.columns.append(" / ".join(dict.fromkeys(texts)))
        return self.columns


_INLINE = {"span", "strong", "em", "b", "i", "sup", "sub", "a", "abbr", "small", "code", "tspan", "br", "wbr"}
_HEADINGS = {"h1", "h2", "h3", "h4"}


def _words(parts: list[str]) -> str:
    """Text pieces of a heading or a cell as one line (pieces split by inline elements read as separate words)."""
    return " ".join(" ".join(parts).split())


class _ReportReader(HTMLParser):
    """Reads the rendered report: its marks, with where each is, and its text in blocks (a paragraph, a cell, a
    heading) for the identifier scan, so that the figures of neighbouring cells never run together."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.marks: list[Mark] = []
        self.blocks: list[tuple[str, str]] = []
        self.attributes: list[tuple[str, str]] = []
        self._section, self._subsection = "title page", ""
        self._heading: list[str] | None = None
        self._heading_tag = ""
        self._table: _Table | None = None
        self._mark: Mark | None = None
        self._span_depth = self._mark_depth = 0
        self._skip = 0
        self._block: list[str] = []

    # ---- where we are

    def where(self) -> str:
        parts = [f"section “{self._section}”"]
        t = self._table
        if t is not None:
            if t.caption:
                parts.append(t.caption)
            elif self._subsection:
                parts.append(f"table under “{self._subsection}”")
            if t.cell is not None and not t.in_head:
                # The row is named by its heading cell and any cells of words after it (a setting's ratio and
                # replacement); a figure in the heading cell itself by the words before it.
                names = [text for tag, text, _, words in t.row if tag == "th" or words]
                if not t.row and t.cell_tag == "th":
                    names = [_words(t.cell) + " …"]
                row = " › ".join(x for x in (t.group, " ".join(names)) if x)
                column = sum(span for _, _, span, _ in t.row)
                labels = t.column_labels()
                label = labels[column] if column < len(labels) and labels[column] else f"column {column + 1}"
                parts.append(f"row “{row or len(t.row) + 1}”, column “{label}”")
        elif self._subsection:
            parts.append(f"“{self._subsection}”")
        return ", ".join(parts)

    # ---- text blocks

    def _flush(self) -> None:
        text = "".join(self._block).strip()
        if text:
            self.blocks.append((self.where(), text))
        self._block = []

    # ---- the parser's events

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("style", "script"):
            self._skip += 1
            return
        if tag == "meta" and a.get("content"):
            self.attributes.append((f"the page's <meta name=“{a.get('name', '')}”>", a["content"]))
        if tag == "br":
            self.handle_data("\n")
            return
        if tag not in _INLINE:
            self._flush()
        classes = a.get("class", "").split()
        if tag == "span":
            self._span_depth += 1
            if MARK_CLASS in classes and "data-sdc" in a and self._mark is None:
                self._mark = Mark(id=a.get("id", ""), kind=a["data-sdc"], denominator=a.get(DENOMINATOR),
                                  where=self.where())
                self._mark_depth = self._span_depth
        if tag in _HEADINGS or (tag == "p" and "bottom-line-title" in classes):
            self._heading, self._heading_tag = [], tag
        elif tag == "table":
            self._table = _Table()
        elif self._table is not None:
            t = self._table
            if tag == "caption":
                self._heading, self._heading_tag = [], tag
            elif tag == "thead":
                t.in_head = True
            elif tag == "tr":
                t.row = []
                if t.in_head:
                    t.head.append([])
            elif tag in ("td", "th"):
                t.cell, t.cell_tag = [], tag
                t.cell_span = (int(a.get("colspan") or 1), int(a.get("rowspan") or 1))
                t.cell_is_text = "text" in classes

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)
            return
        if tag == "span":
            if self._mark is not None and self._span_depth == self._mark_depth:
                self._mark.text = self._mark.text.strip()
                self.marks.append(self._mark)
                self._mark = None
            self._span_depth -= 1
        if tag not in _INLINE:
            self._flush()
        if self._heading is not None and tag == self._heading_tag:
            text = _words(self._heading)
            if tag == "caption" and self._table is not None:
                self._table.caption = text
            elif tag in ("h1", "h2"):
                self._section, self._subsection = (text, "") if tag == "h2" else ("title page", "")
            else:
                self._subsection = text
            self._heading = None
        t = self._table
        if t is None:
            return
        if tag in ("td", "th") and t.cell is not None:
            text = _words(t.cell)
            if t.in_head and t.head:
                t.head[-1].append((text, *t.cell_span))
            else:
                t.row.append((t.cell_tag, text, t.cell_span[0], t.cell_is_text))
            t.cell = None
        elif tag == "tr" and not t.in_head:
            if len(t.row) == 1 and t.row[0][0] == "th" and t.row[0][2] > 1:  # a group's heading row (a cohort)
                t.group = t.row[0][1]
            t.row = []
        elif tag == "thead":
            t.in_head = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._block.append(data)
        self._text(data)

    def _text(self, data: str) -> None:
        if self._mark is not None:
            self._mark.text += data
        if self._heading is not None:
            self._heading.append(data)
        if self._table is not None and self._table.cell is not None:
            self._table.cell.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def read_marks(html: str) -> tuple[list[Mark], list[tuple[str, str]]]:
    """The marks of a rendered report, in order, and its text in blocks ``(where, text)``."""
    reader = _ReportReader()
    reader.feed(html)
    reader.close()
    return reader.marks, reader.blocks + reader.attributes


def _count_rule(printed: str) -> str | None:
    """The rule a printed count breaks, if any: ``0`` and ``*`` pass, as does a multiple of 5 from 10 up."""
    if printed == SUPPRESSED:
        return None
    n = _people(printed)
    if n is None:
        return "not_a_figure"
    if 1 <= n <= SMALL_MAX:
        return "count_1_to_7"
    return "count_not_rounded" if n % ROUNDING_BASE else None


def _people(printed: str | None) -> int | None:
    """The number of people a printed count says (None when suppressed or not a count)."""
    if printed is None or not _COUNT.match(printed):
        return None
    return int(printed.replace(",", ""))


def judge(marks: list[Mark], printed: dict[str, str], file: str, where: dict[str, str]) -> list[Finding]:
    """Findings about marked figures, judged on ``printed`` (mark id -> the text printed there, in the HTML or at
    the mark's place in the PDF); ``where`` names each mark's place for the finding."""
    kinds = {m.id: m.kind for m in marks}
    findings = []
    for m in marks:
        if m.id not in printed:
            continue
        text = printed[m.id]
        if m.kind == COUNT:
            rule = _count_rule(text)
            if rule:
                findings.append(Finding(file, where[m.id], rule, text))
            continue
        if m.kind != PCT:
            findings.append(Finding(file, where[m.id], "not_a_figure", text, f"a mark of unknown kind “{m.kind}”"))
            continue
        if text == SUPPRESSED:
            continue
        if not _PCT.match(text):
            findings.append(Finding(file, where[m.id], "not_a_figure", text))
            continue
        den = m.denominator or ""
        if kinds.get(den) != COUNT or den not in printed:
            findings.append(Finding(file, where[m.id], "denominator_not_printed", text,
                                    f"denominator “{den}”" if den else "no denominator named"))
            continue
        people = _people(printed[den])
        if people is None or people <= SMALL_MAX:
            findings.append(Finding(file, where[m.id], "denominator_under_8", text,
                                    f"its denominator prints “{printed[den]}”"))
    return findings


def check_html(path: Path) -> tuple[list[Mark], list[Finding]]:
    """The marks of the HTML report and what is wrong with them, judged on their printed text; and any identifier
    in its text."""
    name = path.name
    marks, blocks = read_marks(path.read_text(encoding="utf-8"))
    findings = []
    seen: Counter[str] = Counter(m.id for m in marks)
    findings += [Finding(name, m.where, "mark_id_twice", m.text, f"id “{m.id}”")
                 for m in marks if seen[m.id] > 1]
    findings += judge(marks, {m.id: m.text for m in marks}, name, {m.id: m.where for m in marks})
    findings += [Finding(name, where, rule) for where, text in blocks if (rule := _identifier_rule(text))]
    return marks, findings


# --------------------------------------------------------------------------- the PDF report


@dataclass(frozen=True)
class Word:
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    text: str


@dataclass
class Page:
    height: float
    words: list[Word]


_DEST = re.compile(r'^\s*(\d+)\s+\[\s*XYZ\s+(-?[\d.]+)\s+(-?[\d.]+)\s+\S+\s*\]\s+"(.*)"\s*$')
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')
_WORD = re.compile(r'<word xMin="([\d.\-]+)" yMin="([\d.\-]+)" xMax="([\d.\-]+)" yMax="([\d.\-]+)">(.*?)</word>')


def _poppler(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def pdf_destinations(pdf: Path) -> dict[str, tuple[int, float, float]]:
    """Named destinations of the PDF: name -> (page, x, y from the bottom of the page), as ``pdfinfo -dests``
    lists them (WeasyPrint makes one of every element id)."""
    dests = {}
    for line in _poppler("pdfinfo", "-dests", str(pdf)).splitlines():
        m = _DEST.match(line)
        if m:
            dests[m.group(4)] = (int(m.group(1)), float(m.group(2)), float(m.group(3)))
    return dests


def pdf_pages(pdf: Path) -> list[Page]:
    """Every page's words with their boxes (from the top of the page), as ``pdftotext -bbox`` reads them."""
    out = _poppler("pdftotext", "-bbox", str(pdf), "-")
    pages = []
    for chunk in out.split("<page ")[1:]:
        m = _PAGE.match("<page " + chunk)
        words = [Word(float(a), float(b), float(c), float(d), unescape(t)) for a, b, c, d, t in _WORD.findall(chunk)]
        pages.append(Page(float(m.group(2)), words))
    return pages


def printed_at(page: Page, x: float, y: float) -> str | None:
    """The figure printed where a mark's destination points (x, y from the bottom): the word on that line that
    starts at x (or, after a bracket, holds x), and in it the figure nearest x. None when there is no word."""
    top = page.height - y
    line = [w for w in page.words if abs(w.y_min - top) <= _Y_TOLERANCE]
    starting = [w for w in line if abs(w.x_min - x) <= _X_TOLERANCE]
    holding = [w for w in line if w.x_min - _X_TOLERANCE <= x <= w.x_max]
    candidates = starting or holding
    if not candidates:
        return None
    word = min(candidates, key=lambda w: (abs(w.y_min - top), abs(w.x_min - x)))
    figures = list(_FIGURE_IN_WORD.finditer(word.text))
    if not figures:
        return word.text
    width = (word.x_max - word.x_min) / max(len(word.text), 1)
    return min(figures, key=lambda f: abs(word.x_min + f.start() * width - x)).group()


def page_text(page: Page) -> str:
    """A page's text for the identifier scan, line by line: words on a line joined by a space, except across a gap
    wider than a space (a table's next column: `` | ``), so that the figures of neighbouring cells never run
    together; lines joined by a line break, so that an identifier wrapped onto the next line is still found."""
    lines: dict[float, list[Word]] = {}
    for w in page.words:
        key = next((k for k in lines if abs(k - w.y_min) <= 1.5), w.y_min)
        lines.setdefault(key, []).append(w)
    out = []
    for _, words in sorted(lines.items()):
        words.sort(key=lambda w: w.x_min)
        text = words[0].text
        for before, w in zip(words, words[1:]):
            gap = w.x_min - before.x_max
            text += (" " if gap <= 0.45 * (w.y_max - w.y_min) else " | ") + w.text
        out.append(text)
    return "\n".join(out)


def check_pdf(path: Path, marks: list[Mark]) -> tuple[int, list[Finding]]:
    """The marks of the HTML report as the PDF prints them (the word at each mark's named destination), judged by
    the same rules, and any identifier in the PDF's text; each finding names its page. Returns how many marks were
    found in the PDF, and the findings."""
    name = path.name
    if shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        return 0, [Finding(name, "the whole file", "unreadable", detail="pdfinfo and pdftotext (poppler-utils) "
                                                                          "are not installed")]
    dests = pdf_destinations(path)
    pages = pdf_pages(path)
    findings: list[Finding] = []
    printed: dict[str, str] = {}
    where: dict[str, str] = {}
    known = {m.id for m in marks}
    for m in marks:
        dest = dests.get(m.id)
        page = dest and dest[0]
        where[m.id] = f"page {page}, {m.where}" if page else m.where
        text = printed_at(pages[page - 1], dest[1], dest[2]) if dest and 0 < page <= len(pages) else None
        if text is None:
            findings.append(Finding(name, where[m.id], "mark_not_in_pdf", detail=f"mark “{m.id}”"))
        else:
            printed[m.id] = text
    findings += [Finding(name, f"page {page}", "mark_not_in_html", detail=f"mark “{d}”")
                 for d, (page, _, _) in dests.items() if d.startswith(MARK_ID) and d not in known]
    findings += judge(marks, printed, name, where)
    findings += [Finding(name, f"page {number}", rule)
                 for number, page in enumerate(pages, start=1) if (rule := _identifier_rule(page_text(page)))]
    return len(printed), findings


# --------------------------------------------------------------------------- identifiers in the tables and manifest


def _identifier_rule(text: str) -> str | None:
    """The rule ``text`` breaks by holding a direct identifier (digests read as keys, :data:`_DIGEST`)."""
    what = identifier_in_text(_DIGEST.sub(lambda m: m.group() if identifier_in_key(m.group()) else "#", text))
    return _IDENTIFIER_RULES.get(what) if what else None


def _is_digest_name(name: str) -> bool:
    return any(part in str(name).lower() for part in _DIGEST_NAMES)


def check_csv(path: Path, name: str) -> list[Finding]:
    """A direct identifier in a CSV's header or any cell (the first per column: row as a spreadsheet numbers it)."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        return []
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as error:
        return [Finding(name, "the whole file", "unreadable", detail=type(error).__name__)]
    findings = [Finding(name, f"header of column {i}", rule)
                for i, header in enumerate(frame.columns, start=1) if (rule := _identifier_rule(header))]
    digests = frozenset(column for column in frame.columns if _is_digest_name(column))
    for column, (index, what) in first_identifiers(frame, digests).items():
        findings.append(Finding(name, f"row {index + 2}, column “{column}”", _IDENTIFIER_RULES[what]))
    return findings


def check_json(path: Path, name: str) -> list[Finding]:
    """A direct identifier in any key or value of a JSON file (named by its path in the document)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [Finding(name, "the whole file", "unreadable", detail=type(error).__name__)]
    findings: list[Finding] = []

    def walk(value: Any, at: str, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                here = f"{at}.{k}" if at else str(k)
                if rule := _identifier_rule(str(k)):
                    findings.append(Finding(name, f"key {here}", rule))
                walk(v, here, str(k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{at}[{i}]", key)
        elif value is not None and not isinstance(value, bool):
            text = str(value)
            what = identifier_in_key(text) if _is_digest_name(key) else None
            rule = _IDENTIFIER_RULES[what] if what else (None if _is_digest_name(key) else _identifier_rule(text))
            if rule:
                findings.append(Finding(name, at, rule))

    walk(document, "", "")
    return findings


# --------------------------------------------------------------------------- the run


def check_release(folder: Path) -> ReleaseCheck:
    """The release check of a run's folder (or its staging folder, before the run is published): the report (HTML
    and PDF), the CSVs of ``tables/`` and ``quality/``, and ``run_manifest.json`` when it is there."""
    folder = Path(folder)
    result = ReleaseCheck()
    html, pdf = folder / REPORT_HTML, folder / REPORT_PDF
    marks: list[Mark] = []
    if html.is_file():
        marks, findings = check_html(html)
        result.marks_checked = len(marks)
        result.findings += findings
        result.files_checked.append(REPORT_HTML)
    else:
        result.findings.append(Finding(REPORT_HTML, "the whole file", "unreadable", detail="not written"))
    if pdf.is_file():
        result.pdf_marks_checked, findings = check_pdf(pdf, marks)
        result.findings += findings
        result.files_checked.append(REPORT_PDF)
    else:
        result.findings.append(Finding(REPORT_PDF, "the whole file", "unreadable", detail="not written"))
    for sub in CSV_FOLDERS:
        for csv in sorted((folder / sub).glob("*.csv")):
            name = csv.relative_to(folder).as_posix()
            result.findings += check_csv(csv, name)
            result.files_checked.append(name)
    manifest = folder / RUN_MANIFEST
    if manifest.is_file():
        result.findings += check_json(manifest, RUN_MANIFEST)
        result.files_checked.append(RUN_MANIFEST)
    return result
