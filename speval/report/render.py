"""Render the publishable evaluation report (HTML + PDF) from the contract tables.

Every figure shown is produced by :mod:`speval.report.disclosure`: each section module in
:mod:`speval.report.sections` turns the unsuppressed tables into published strings first,
and builds its rows, sentences and charts from those strings, never from the raw values.
The wording is in ``reports/templates/`` (one include per section under ``sections/``).

Output is reproducible: no clock is read (the PDF dates come from the reporting
quarter's end), chart ids are made deterministic, and WeasyPrint's PDF is byte-identical
for identical inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
from markupsafe import Markup

from speval.report import disclosure as dc
from speval.report.format import as_date, long_date, quarter_words, verbatim
from speval.report.sections.appendices import data_and_validation, hes_data_quality, provenance
from speval.report.sections.bottom_line import bottom_line
from speval.report.sections.caveats import comparison_state
from speval.report.sections.hospital_use import hospital_use
from speval.report.sections.included import cohort_flow_figure, inclusion_table
from speval.report.sections.matched import matched_comparison
from speval.report.sections.mh_pathway import mh_pathway
from speval.report.sections.summary import key_figures
from speval.report.sections.value import value_for_money
from speval.report.sections.wellbeing import wellbeing
from speval.report.templating import (CSS_NAME, MH_CSS_NAME, TEMPLATE_DIR, TEMPLATE_NAME, html_environment,
                                      spaced_marks)
from speval.run.spec import REPORT_HTML, REPORT_PDF

__all__ = ["build_context", "render_html", "render_report", "write_pdf"]

HTML_NAME, PDF_NAME = REPORT_HTML, REPORT_PDF


def _numbered(shown: list[tuple[str, bool]]) -> dict[str, int | None]:
    """Figures or tables numbered in order of appearance, counting only those shown."""
    numbers: dict[str, int | None] = {}
    for key, is_shown in shown:
        numbers[key] = len([v for v in numbers.values() if v]) + 1 if is_shown else None
    return numbers


def _contents(matched: Mapping[str, Any] | None, value: Mapping[str, Any] | None = None,
              mh: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Sections and appendices with their numbers; the mental-health pathway only for an MH run, the matched
    comparison only when tried, and value for money only when the run gave its tables."""
    sections = [("summary", "Summary")]
    if mh is not None:
        sections.append(("mh-pathway", "The mental-health pathway"))
    sections.append(("hospital", "Hospital use before and after referral"))
    if matched is not None:
        sections.append(("matched", "Comparison with a matched group"))
    if value is not None:
        sections.append(("value", "Value for money and social value"))
    sections += [("wellbeing", "Well-being"), ("included", "Who was included"),
                 ("caveats", "Caveats")]
    numbered = [{"id": sid, "title": title, "number": str(i + 1), "appendix": False}
                for i, (sid, title) in enumerate(sections)]
    appendices = [("appendix-a", "Data and validation"), ("appendix-hes", "HES data quality"),
                  ("appendix-b", "Provenance")]
    numbered += [{"id": sid, "title": title, "number": f"Appendix {'ABCDEFGH'[i]}",
                  "appendix": True} for i, (sid, title) in enumerate(appendices)]
    return numbered


def build_context(tables: Mapping[str, pl.DataFrame], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, all figures already disclosure-controlled."""
    programme = str(meta.get("programme", ""))
    programme_name = str(meta.get("programme_name") or programme)
    quarter = str(meta.get("quarter", ""))
    quarter_end = as_date(meta.get("quarter_end"))
    deliveries = dict(meta.get("deliveries") or {})
    hes = dict(deliveries.get("hes") or {})
    parameters = dict(meta.get("parameters") or {})

    stamp_date = quarter_end or as_date(hes.get("cutoff"))
    stamp = f"{stamp_date.isoformat()}T00:00:00Z" if stamp_date else None

    hosp = hospital_use(tables)
    wb = wellbeing(tables, parameters)
    att = inclusion_table(tables)
    matched = matched_comparison(tables, hosp["cells"], parameters)
    value = value_for_money(tables)
    mh = mh_pathway(tables, programme, matched)
    flow_svg = cohort_flow_figure(att["data"], hes, long_date(quarter_end))
    # The mental-health pathway comes before hospital use; other runs have no such figure or tables.
    mh_figures = [("funnel", mh["funnel_svg"] is not None)] if mh else []
    mh_tables = [("mh_pathway", bool(mh["steps"])), ("mh_wellbeing", bool(mh["wellbeing"]["rows"]))] if mh else []
    figures = _numbered([*mh_figures,
                         ("chart", hosp["chart_svg"] is not None),
                         ("love", bool(matched and matched["love_svg"])),
                         ("roi", bool(value and value["roi"]["chart_svg"])),
                         ("tornado_roi", bool(value and value["sensitivity"]["return_svg"])),
                         ("tornado_sroi", bool(value and value["sensitivity"]["social_svg"])),
                         ("flow", flow_svg is not None)])
    tabno = _numbered([
        *mh_tables,
        ("hospital", bool(hosp["cohorts"])),
        ("compare", bool(matched and matched["cohorts"])),
        ("means", bool(matched and matched["cohorts"])),
        ("balance", bool(matched and matched["balance"]["cohorts"])),
        ("unmatched", bool(matched and matched["unmatched"])),
        ("sensitivity", bool(matched and matched["sensitivity"])),
        ("costs", bool(value and value["costs"]["shown"])),
        ("roi", bool(value and value["roi"]["shown"])),
        ("sroi", bool(value and value["social"]["rows"])),
        ("sources", bool(value and value["assumptions"]["rows"])),
        ("wellbeing_baseline", bool(wb["rows"])),
        ("wellbeing", bool(wb["rows"])),
        ("attrition", bool(att["rows"])),
    ])
    sections = _contents(matched, value, mh)
    summary = key_figures(hosp, wb, att, matched, list(meta.get("deviations_from_plan") or []))

    return {
        "programme": programme,
        "programme_name": programme_name,
        "quarter": quarter,
        "quarter_words": quarter_words(quarter),
        "quarter_end": long_date(quarter_end),
        "stamp": stamp,
        "rule_text": dc.RULE_TEXT,
        "hes": {"key": hes.get("key", ""), "coverage_start": long_date(hes.get("coverage_start")),
                "cutoff": long_date(hes.get("cutoff")),
                "extracted_on": long_date(hes.get("extracted_on"))},
        "outcome_tool": {"key": dict(deliveries.get("outcome_tool") or {}).get("key", "")},
        "code_version": verbatim(meta.get("code_version", "")),
        "sections": sections,
        "num": {s["id"]: s["number"] for s in sections},
        "summary": summary,
        "bottom_line": bottom_line(summary, hosp["cells"], matched, value, mh, programme_name,
                                   long_date(quarter_end)),
        "comparison": comparison_state(matched),
        "hosp": hosp,
        "matched": matched,
        "value": value,
        "mh": mh,
        "wb": wb,
        "att": att,
        "flow_svg": flow_svg,
        "appendix_a": data_and_validation(tables),
        "hes_quality": hes_data_quality(tables, hes, deliveries.get("previous_hes")),
        "provenance": provenance(meta),
        "figures": figures,
        "tabno": tabno,
        "suppressed": dc.SUPPRESSED,
    }


def render_html(context: Mapping[str, Any]) -> str:
    css = (TEMPLATE_DIR / CSS_NAME).read_text(encoding="utf-8")
    if context.get("mh"):  # only an MH report has the pathway section: other reports' HTML stays as it was
        css += (TEMPLATE_DIR / MH_CSS_NAME).read_text(encoding="utf-8")
    return spaced_marks(html_environment().get_template(TEMPLATE_NAME).render(**context, css=Markup(css)))


def write_pdf(html: str, pdf_path: Path) -> None:
    from weasyprint import HTML  # heavy import, only when rendering

    # No base address: the styles and charts are inline, and the tables' source links stay relative to the run
    # folder (tables/x.csv) instead of becoming a path on the machine that rendered the report.
    HTML(string=html, base_url=None).write_pdf(str(pdf_path))


def render_report(tables: dict[str, pl.DataFrame], meta: dict,
                  out_dir: Path) -> dict[str, Path]:
    """Write ``evaluation_report.html`` and ``evaluation_report.pdf`` into ``out_dir``.

    ``tables`` holds the unsuppressed contract tables (docs/contract/outputs.md); only their
    disclosure-controlled form is rendered. Returns ``{"html": path, "pdf": path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(build_context(tables, meta))
    html_path = out_dir / HTML_NAME
    pdf_path = out_dir / PDF_NAME
    html_path.write_bytes(html.encode("utf-8"))
    write_pdf(html, pdf_path)
    return {"html": html_path, "pdf": pdf_path}
