"""Publishable report: disclosure-controlled HTML and PDF (see speval.report.render)."""

from speval.report.render import render_report

__all__ = ["render_report"]
