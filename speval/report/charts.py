"""Plotly charts rendered to deterministic inline SVG through kaleido 1.x.

kaleido drives the system Chromium (Debian ``chromium``); nothing is ever downloaded.
One kaleido sync server is started per process (≈2 s once, then ≈0.1-0.2 s per chart).
Plotly writes a random uid into every SVG (clip paths, defs, legend ids); those ids are
rewritten to ``<prefix>-<n>`` in order of appearance so that reports are byte-identical
across runs and several SVGs can be inlined in one HTML page without id clashes.
"""

from __future__ import annotations

import math
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


# Love plot: before = hollow grey circle, after = filled NHS blue diamond.
LOVE_BEFORE_COLOUR = "#768692"
LOVE_AFTER_COLOUR = "#005EB8"
LOVE_THRESHOLD_COLOUR = "#DA291C"  # NHS red, for the 0.1 reference line


def love_plot(
    labels: list[str],
    panels: list[tuple[str, list[float | None], list[float | None]]],
    *,
    threshold: float = 0.1,
    prefix: str = "love",
    width: int = 680,
    row_height: int = 21,
) -> str:
    """Love plot of covariate balance as SVG: absolute standardised mean differences before
    (hollow circles) and after matching (filled diamonds), one panel per cohort sharing the
    covariate axis, with a dashed line at ``threshold``.

    ``labels`` are the covariates (top to bottom); each panel is ``(title, before, after)``
    with one value per label (``None``: not shown). Values must already be the published
    (disclosure-controlled) figures.
    """
    from plotly.subplots import make_subplots

    if not panels:
        raise ValueError("a love plot needs at least one panel")
    k = len(panels)
    fig = make_subplots(rows=1, cols=k, shared_yaxes=True, horizontal_spacing=0.07 if k > 1 else 0,
                        subplot_titles=[t for t, _, _ in panels])
    values = [abs(v) for _, b, a in panels for v in (*b, *a) if v is not None]
    top = max([*values, threshold * 2])
    upper = math.ceil(top * 1.08 / 0.05) * 0.05  # a little room, on a 0.05 grid
    for j, (_, before, after) in enumerate(panels, start=1):
        for name, vals, colour, symbol in (
            ("Before matching", before, LOVE_BEFORE_COLOUR, "circle-open"),
            ("After matching", after, LOVE_AFTER_COLOUR, "diamond"),
        ):
            xs = [abs(v) if v is not None else None for v in vals]
            fig.add_trace(
                go.Scatter(x=xs, y=labels, mode="markers", name=name, legendgroup=name,
                           uid=f"{prefix}{j}{'b' if symbol == 'circle-open' else 'a'}",  # no random class
                           showlegend=j == 1, cliponaxis=False,
                           marker={"color": colour, "symbol": symbol, "size": 8,
                                   "line": {"width": 1.6, "color": colour}}),
                row=1, col=j)
        fig.add_shape(type="line", x0=threshold, x1=threshold, y0=0, y1=1,
                      xref=f"x{'' if j == 1 else j}", yref=f"y{'' if j == 1 else j} domain",
                      layer="below", opacity=1,
                      line={"color": LOVE_THRESHOLD_COLOUR, "width": 1.3, "dash": "dash"})
        fig.update_xaxes(range=[0, upper], showgrid=True, gridcolor="#E8EDEE", zeroline=False,
                         tickformat=".1f", row=1, col=j)
    fig.update_yaxes(autorange="reversed", showgrid=True, gridcolor="#F0F4F5", ticks="",
                     ticksuffix="  ",
                     categoryorder="array", categoryarray=labels)
    height = 95 + row_height * len(labels)
    fig.update_layout(
        template="simple_white",
        font={"family": FONT_FAMILY, "size": 11, "color": "#212B32"},
        width=width,
        height=height,
        margin={"l": 10, "r": 12, "t": 52, "b": 42},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "top",
                "yref": "container", "font": {"size": 11}},
    )
    for ann in fig.layout.annotations:  # subplot titles
        ann.font = {"family": FONT_FAMILY, "size": 11.5, "color": "#003087"}
    fig.update_yaxes(automargin=True)
    fig.add_annotation(text="Absolute standardised mean difference", xref="paper", yref="paper",
                       x=0.5, y=0, yshift=-30, showarrow=False, xanchor="center", yanchor="top",
                       font={"size": 11})
    return figure_to_svg(fig, prefix, width, height)
