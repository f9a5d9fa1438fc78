"""Plotly charts rendered to deterministic inline SVG through kaleido 1.x.

kaleido drives the system Chromium (Debian ``chromium``); nothing is ever downloaded.
One kaleido sync server is started per process (≈2 s once, then ≈0.1-0.2 s per chart).
Plotly writes a random uid into every SVG (clip paths, defs, legend ids); those ids are
rewritten to ``<prefix>-<n>`` in order of appearance so that reports are byte-identical
across runs and several SVGs can be inlined in one HTML page without id clashes.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import plotly.graph_objects as go

FONT_FAMILY = "DejaVu Sans"
_CHROMIUM = Path("/usr/bin/chromium")
_server_lock = threading.Lock()
_server_started = False

# Palette: NHS blue / NHS dark grey (accessible contrast on white).
BEFORE_COLOUR = "#005EB8"
AFTER_COLOUR = "#768692"


def ensure_kaleido() -> None:
    """Start kaleido's sync server once per process, using the system Chromium."""
    global _server_started
    with _server_lock:
        if _server_started:
            return
        if not os.environ.get("BROWSER_PATH") and _CHROMIUM.exists():
            os.environ["BROWSER_PATH"] = str(_CHROMIUM)
        import kaleido  # imported lazily: it pulls in choreographer

        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _server_started = True


_ID_ATTR = re.compile(r'\bid="([^"]+)"')


def deterministic_ids(svg: str, prefix: str) -> str:
    """Rename every ``id`` in ``svg`` to ``<prefix>-<n>`` (order of appearance) and
    rewrite its references (``url(#id)``, ``href="#id"``).

    Plotly ids embed a random per-render uid; references always point to ids defined in
    the same SVG, so a consistent rename keeps the drawing identical.
    """
    mapping: dict[str, str] = {}
    for old in _ID_ATTR.findall(svg):
        if old not in mapping:
            mapping[old] = f"{prefix}-{len(mapping) + 1}"
    if not mapping:
        return svg
    # Longest first so an id that is a prefix of another cannot clobber it.
    alternation = "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(
        r'(?P<a>\bid=")(?P<i1>' + alternation + r')(?=")'
        r'|(?P<b>#)(?P<i2>' + alternation + r')(?=[)"\'])'
    )

    def repl(m: re.Match[str]) -> str:
        if m.group("a"):
            return m.group("a") + mapping[m.group("i1")]
        return m.group("b") + mapping[m.group("i2")]

    return pattern.sub(repl, svg)


def figure_to_svg(fig: go.Figure, prefix: str, width: int, height: int) -> str:
    """Render ``fig`` to an SVG string with deterministic ids."""
    ensure_kaleido()
    import kaleido

    svg = kaleido.calc_fig_sync(
        fig.to_dict(), opts={"format": "svg", "width": width, "height": height, "scale": 1}
    )
    if isinstance(svg, bytes):
        svg = svg.decode("utf-8")
    return deterministic_ids(svg, prefix)


def before_after_bar(
    labels: list[str],
    before: list[float],
    after: list[float],
    before_text: list[str],
    after_text: list[str],
    *,
    prefix: str = "chart1",
    width: int = 680,
    height: int = 330,
) -> str:
    """Grouped bar chart of per-patient means before and after referral, as SVG.

    The values must already be the published (disclosure-controlled) figures; the text
    labels are printed above the bars exactly as given.
    """
    fig = go.Figure(
        data=[
            go.Bar(name="Before referral", x=labels, y=before, text=before_text,
                   textposition="outside", marker_color=BEFORE_COLOUR, cliponaxis=False),
            go.Bar(name="After referral", x=labels, y=after, text=after_text,
                   textposition="outside", marker_color=AFTER_COLOUR, cliponaxis=False),
        ]
    )
    top = max([*before, *after, 0.0])
    fig.update_layout(
        template="simple_white",
        font={"family": FONT_FAMILY, "size": 12, "color": "#212B32"},
        barmode="group",
        bargap=0.25,
        bargroupgap=0.05,
        width=width,
        height=height,
        margin={"l": 60, "r": 10, "t": 40, "b": 50},
        legend={"orientation": "h", "x": 0, "y": 1.12, "xanchor": "left"},
        yaxis={"title": {"text": "Mean per patient"}, "rangemode": "tozero",
               "range": [0, top * 1.18 if top > 0 else 1], "showgrid": True,
               "gridcolor": "#E8EDEE"},
        uniformtext={"minsize": 10, "mode": "show"},
    )
    return figure_to_svg(fig, prefix, width, height)
