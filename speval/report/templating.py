"""The Jinja2 environments that word the report: all prose lives in ``reports/templates/``.

The HTML environment renders the report. The text environment renders the few sentences a
section module hands back as data (the matched comparison's readings, which tests and the
summary read as plain strings); they are escaped once, when placed in the HTML.

Only the HTML environment marks counts and percentages of people (:class:`PeopleMarks`): the release check
(speval/report/release.py, ADR 0022) reads those marks back from the rendered report.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from speval.package_data import data_folder
from speval.report import format as fmt

TEMPLATE_DIR = data_folder("templates")
TEMPLATE_NAME = "report.html.j2"
CSS_NAME = "report.css"
#: The mental-health pathway section's styles, added to CSS_NAME only when the report has that section.
MH_CSS_NAME = "mh_pathway.css"

#: ``finalize``: every published number a template prints gets thousands separators and a proper minus sign
#: (fmt.display), at the very end, so the published strings the sections compare and parse stay plain.
_OPTIONS: dict[str, Any] = {"undefined": StrictUndefined, "trim_blocks": True,
                            "lstrip_blocks": True, "keep_trailing_newline": True, "finalize": fmt.display}


def _with_filters(env: Environment) -> Environment:
    env.filters["cell"] = fmt.cell
    env.filters["signed"] = fmt.signed
    env.filters["in_sentence"] = fmt.in_sentence
    env.filters["grouped"] = fmt.grouped
    env.filters["verbatim"] = fmt.verbatim
    return env


#: How the report marks what it prints about people (ADR 0022): the class of every mark, its ``data-sdc`` kind, the
#: attribute naming a percentage's denominator, and the start of every mark's id.
MARK_CLASS = "sdc"
COUNT, PCT = "count", "pct"
DENOMINATOR = "data-denominator"
MARK_ID = "sdc-"
#: What a template prints for a figure that is not there (blank, or the en dash of :func:`fmt.cell`): never marked.
_NOT_PRINTED = ("", "–")


class PeopleMarks:
    """Marks every count of people and every percentage of people the report prints, so that the release check
    can read back what was printed and judge it (speval/report/release.py, ADR 0022).

    A mark is an invisible ``<span class="sdc" data-sdc="count|pct" id="sdc-…">`` around the printed text. Ids are
    numbered in the order the template prints them (``sdc-1``, ``sdc-2``, ...), so the same inputs give the same
    report byte for byte; a mark a percentage refers to as its denominator is given a name instead
    (``name="wb-all-money-n"`` -> ``id="sdc-wb-all-money-n"``), which a percentage printed before it can name too.
    One instance per render (:func:`html_environment`)."""

    def __init__(self) -> None:
        self._numbered = 0
        self._names: set[str] = set()

    @staticmethod
    def _named(name: str) -> str:
        """The id of the mark named ``name`` (letters, digits, ``_`` and ``-`` only: it is also a PDF destination)."""
        return MARK_ID + re.sub(r"[^A-Za-z0-9_-]+", "-", str(name))

    def _id(self, name: str | None) -> str:
        if name is None:
            self._numbered += 1
            return f"{MARK_ID}{self._numbered}"
        mark_id = self._named(name)
        if mark_id in self._names or mark_id.removeprefix(MARK_ID).isdigit():
            raise ValueError(f"the report marks {name!r} twice, or by a number: a mark's name must be unique")
        self._names.add(mark_id)
        return mark_id

    @staticmethod
    def _printed(value: Any) -> str:
        return str(fmt.display(value))

    def count(self, value: Any, name: str | None = None) -> Any:
        """``value`` as printed, marked as a count of people (blank and ``–`` are printed unmarked)."""
        if value is None or value in _NOT_PRINTED:
            return value
        return Markup('<span class="{}" data-sdc="{}" id="{}">{}</span>').format(
            MARK_CLASS, COUNT, self._id(name), self._printed(value))

    def pct(self, value: Any, of: str) -> Any:
        """``value`` as printed, marked as a percentage of the people counted by the mark named ``of`` (its
        denominator, printed in the same table row or sentence, or in the table the sentence reads from)."""
        if value is None or value in _NOT_PRINTED:
            return value
        return Markup('<span class="{}" data-sdc="{}" id="{}" {}="{}">{}</span>').format(
            MARK_CLASS, PCT, self._id(None), DENOMINATOR, self._named(of), self._printed(value))


def spaced_marks(html: str) -> str:
    """The rendered report with the plain space before each mark given a span of its own.

    WeasyPrint (70) lays a line out wrongly when it has to break at the space just before an inline element: it
    breaks at the line's first opportunity instead of its last, leaving one word on a line. With the space in an
    element of its own, every line breaks where it would without the marks, so the marks stay invisible in the
    PDF too (tests/test_release_gate.py compares the two layouts)."""
    return html.replace(f' <span class="{MARK_CLASS}"', f'<span> </span><span class="{MARK_CLASS}"')


def html_environment() -> Environment:
    """Autoescaping environment for the report (a fresh one per render: templates re-read, marks numbered from 1)."""
    env = _with_filters(Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        **_OPTIONS))
    marks = PeopleMarks()
    env.filters["count_of_people"] = marks.count
    env.filters["pct_of_people"] = marks.pct
    return env


@cache
def _text_environment() -> Environment:
    return _with_filters(Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=False,
                                     auto_reload=True, **_OPTIONS))


def sentence(template: str, macro: str, **data: Any) -> str:
    """Plain text of one sentence macro in ``template`` (a macros-only file)."""
    return str(getattr(_text_environment().get_template(template).module, macro)(**data))
