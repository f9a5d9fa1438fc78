"""The Jinja2 environments that word the report: all prose lives in ``reports/templates/``.

The HTML environment renders the report. The text environment renders the few sentences a
section module hands back as data (the matched comparison's readings, which tests and the
summary read as plain strings); they are escaped once, when placed in the HTML.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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


def html_environment() -> Environment:
    """Autoescaping environment for the report (a fresh one per render: templates re-read)."""
    return _with_filters(Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        **_OPTIONS))


@cache
def _text_environment() -> Environment:
    return _with_filters(Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=False,
                                     auto_reload=True, **_OPTIONS))


def sentence(template: str, macro: str, **data: Any) -> str:
    """Plain text of one sentence macro in ``template`` (a macros-only file)."""
    return str(getattr(_text_environment().get_template(template).module, macro)(**data))
