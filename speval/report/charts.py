"""Plotly charts rendered to deterministic inline SVG through kaleido 1.x.

kaleido drives the system Chromium (Debian ``chromium``); nothing is ever downloaded.
One kaleido sync server is started per process; its first chart launches Chromium (≈2.5 s once, then
≈0.2 s per chart). `warm_up_in_background` launches it while the last stages before the report run.
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

from speval.run.vocabulary import SMD_THRESHOLD

FONT_FAMILY = "DejaVu Sans"
_CHROMIUM = Path("/usr/bin/chromium")
_server_lock = threading.Lock()
_server_started = False
_render_lock = threading.Lock()  # one chart at a time, the warm-up included

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


def _render_svg(fig: go.Figure, width: int, height: int) -> str | bytes:
    ensure_kaleido()
    import kaleido

    with _render_lock:
        return kaleido.calc_fig_sync(
            fig.to_dict(), opts={"format": "svg", "width": width, "height": height, "scale": 1}
        )


def warm_up_in_background() -> None:
    """Launch Chromium for the charts on a background thread (one blank chart), so that the report's first
    chart does not wait for it. The report's charts queue behind the warm-up; nothing it draws is kept."""
    threading.Thread(target=_render_svg, args=(go.Figure(), 10, 10), name="kaleido-warm-up", daemon=True).start()


def figure_to_svg(fig: go.Figure, prefix: str, width: int, height: int) -> str:
    """Render ``fig`` to an SVG string with deterministic ids."""
    svg = _render_svg(fig, width, height)
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
#: Room left of 0 on the love plot's axis, as a share of its upper end.
LOVE_ZERO_ROOM = 0.04


def love_plot_figure(
    labels: list[str],
    panels: list[tuple[str, list[float | None], list[float | None]]],
    *,
    threshold: float = SMD_THRESHOLD,
    prefix: str = "love",
    width: int = 680,
    row_height: int = 21,
) -> go.Figure:
    """The love plot's figure (see :func:`love_plot`), not yet drawn.

    The x axis runs from a little below 0 to a little beyond the largest |SMD| (and twice the threshold): a marker
    at 0, a characteristic perfectly balanced, is drawn whole rather than cut in half by the edge of the plot."""
    from plotly.subplots import make_subplots

    if not panels:
        raise ValueError("a love plot needs at least one panel")
    k = len(panels)
    fig = make_subplots(rows=1, cols=k, shared_yaxes=True, horizontal_spacing=0.07 if k > 1 else 0,
                        subplot_titles=[t for t, _, _ in panels])
    values = [abs(v) for _, b, a in panels for v in (*b, *a) if v is not None]
    top = max([*values, threshold * 2])
    upper = math.ceil(top * 1.08 / 0.05) * 0.05  # a little room, on a 0.05 grid
    lower = -upper * LOVE_ZERO_ROOM  # room for a marker at 0 (half a marker is about 1.5% of a panel)
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
        # Ticks from 0 on (no negative tick in the room left of 0); a light line at 0, perfect balance.
        fig.update_xaxes(range=[lower, upper], showgrid=True, gridcolor="#E8EDEE", zeroline=True,
                         zerolinecolor="#AEB7BD", zerolinewidth=1, tick0=0, tickformat=".1f", row=1, col=j)
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
    return fig


def love_plot(labels: list[str], panels: list[tuple[str, list[float | None], list[float | None]]],
              **options) -> str:
    """Love plot of covariate balance as SVG: absolute standardised mean differences before
    (hollow circles) and after matching (filled diamonds), one panel per cohort sharing the
    covariate axis, with a dashed line at ``threshold``.

    ``labels`` are the covariates (top to bottom); each panel is ``(title, before, after)``
    with one value per label (``None``: not shown). Values must already be the published
    (disclosure-controlled) figures. ``options`` are :func:`love_plot_figure`'s (threshold, prefix, width,
    row_height).
    """
    fig = love_plot_figure(labels, panels, **options)
    return figure_to_svg(fig, options.get("prefix", "love"), fig.layout.width, fig.layout.height)


# Return on investment: matched = filled NHS blue diamond with its 95% interval, naive = hollow grey circle.
MATCHED_COLOUR = "#005EB8"
NAIVE_COLOUR = "#768692"
BREAK_EVEN_COLOUR = "#DA291C"  # NHS red, for the £1-per-£1 line


def _value_range(values: list[float], *, include: tuple[float, ...] = (0.0, 1.0), pad: float = 0.08
                 ) -> tuple[float, float]:
    """An axis range holding every value and `include`, with a little room either side."""
    lo, hi = min([*values, *include]), max([*values, *include])
    room = (hi - lo) * pad or 0.5
    return lo - room, hi + room


def roi_scenarios(
    labels: list[str],
    matched: list[float | None],
    matched_low: list[float | None],
    matched_high: list[float | None],
    naive: list[float | None],
    matched_text: list[str],
    naive_text: list[str],
    *,
    names: tuple[str, str] = ("Matched", "Naive"),
    prefix: str = "roi",
    width: int = 680,
    height: int = 215,
) -> str:
    """Return per £1 spent in each scenario, as SVG: the matched estimate with its 95% interval (error
    bars) and the naive one beside it as a marker, with a dashed line at £1 (break-even).

    ``labels`` are the scenarios (``<br>`` breaks lines), ``names`` the two bases (matched, naive) as the
    legend shows them; every value must already be a published figure and the text labels are printed beside
    the markers exactly as given. A None is not drawn.
    """
    xs = list(range(len(labels)))
    fig = go.Figure()
    shown = [v for v in (*matched, *matched_low, *matched_high, *naive) if v is not None]
    if any(v is not None for v in matched):
        fig.add_trace(go.Scatter(
            name=f"{names[0]} (95% interval)", x=[x - 0.12 for x in xs], y=matched,
            mode="markers+text", text=matched_text, textposition="middle left", uid=f"{prefix}m",
            marker={"color": MATCHED_COLOUR, "symbol": "diamond", "size": 10}, cliponaxis=False,
            error_y={"type": "data", "symmetric": False, "color": MATCHED_COLOUR, "thickness": 1.4, "width": 5,
                     "array": [None if h is None or m is None else h - m for m, h in zip(matched, matched_high)],
                     "arrayminus": [None if lo is None or m is None else m - lo
                                    for m, lo in zip(matched, matched_low)]}))
    if any(v is not None for v in naive):
        fig.add_trace(go.Scatter(
            name=names[1], x=[x + 0.12 for x in xs], y=naive,
            mode="markers+text", text=naive_text, textposition="middle right", uid=f"{prefix}n",
            marker={"color": NAIVE_COLOUR, "symbol": "circle-open", "size": 9, "line": {"width": 1.8}},
            cliponaxis=False))
    fig.add_trace(go.Scatter(  # the £1-per-£1 line across the plot (the caption names it)
        name="£1 per £1 (break-even)", x=[-0.6, len(labels) - 0.4], y=[1, 1], mode="lines", uid=f"{prefix}b",
        line={"color": BREAK_EVEN_COLOUR, "width": 1.2, "dash": "dash"}, hoverinfo="skip", showlegend=False))
    fig.update_layout(
        template="simple_white",
        font={"family": FONT_FAMILY, "size": 11, "color": "#212B32"},
        width=width, height=height,
        margin={"l": 60, "r": 10, "t": 30, "b": 48},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "xanchor": "left",
                "font": {"size": 9.5}},
        xaxis={"tickmode": "array", "tickvals": xs, "ticktext": labels, "range": [-0.6, len(labels) - 0.4],
               "ticks": "", "showline": True},
        yaxis={"title": {"text": "Return per £1 spent (£)"}, "range": list(_value_range(shown)),
               "showgrid": True, "gridcolor": "#E8EDEE", "zeroline": True, "zerolinecolor": "#AEB7BD",
               "tickformat": ".1f"},
    )
    return figure_to_svg(fig, prefix, width, height)


# Tornado: the result with an assumption at the low end of its range (light) and at the high end (dark).
LOW_END_COLOUR = "#41B6E6"   # NHS light blue
HIGH_END_COLOUR = "#003087"  # NHS dark blue


def tornado(
    panels: list[tuple[str, float, list[tuple[str, float | None, float | None, str, str]]]],
    *,
    prefix: str = "tornado",
    width: int = 680,
    row_height: int = 14,
) -> str:
    """One-way sensitivity as a tornado chart (SVG): for each panel ``(title, value used, rows)``, one row
    per assumption ``(label, at its low end, at its high end, text, text)``, drawn as bars from the value used
    (a solid line) to the result at each end (light: low end, dark: high end; the caption says so, there is no
    legend), widest at the top; a dashed line at £1 per £1.

    Values must already be published figures (the texts are printed at the bar ends as given); rows come in
    the order given.
    """
    from plotly.subplots import make_subplots

    if not panels:
        raise ValueError("a tornado chart needs at least one panel")
    counts = [max(len(rows), 1) for _, _, rows in panels]
    height = 44 + 40 * len(panels) + row_height * sum(counts)
    fig = make_subplots(rows=len(panels), cols=1, row_heights=[c / sum(counts) for c in counts],
                        vertical_spacing=(60 / height) if len(panels) > 1 else 0,
                        subplot_titles=[t for t, _, _ in panels])
    for i, (_, used, rows) in enumerate(panels, start=1):
        labels = [r[0] for r in rows]
        for end, index, colour in (("low", 1, LOW_END_COLOUR), ("high", 2, HIGH_END_COLOUR)):
            values = [r[index] for r in rows]
            texts = [r[index + 2] if r[index] is not None and abs(r[index] - used) > 1e-9 else "" for r in rows]
            fig.add_trace(go.Bar(
                name=f"{end.capitalize()} end of the range", y=labels,
                x=[None if v is None else v - used for v in values], base=used, orientation="h",
                marker={"color": colour}, text=texts, textposition="outside", cliponaxis=False,
                textfont={"size": 9.5}, showlegend=False, uid=f"{prefix}{i}{end}"),
                row=i, col=1)
        ends = [v for r in rows for v in (r[1], r[2]) if v is not None]
        lo, hi = _value_range([*ends, used], include=(1.0,), pad=0.14)
        fig.update_xaxes(range=[lo, hi], showgrid=True, gridcolor="#E8EDEE", zeroline=False,
                         tickformat=".2f" if hi - lo < 1 else ".1f", row=i, col=1)
        fig.update_yaxes(autorange="reversed", ticks="", ticksuffix="  ", categoryorder="array",
                         categoryarray=labels, row=i, col=1)
        axis = "" if i == 1 else str(i)
        fig.add_shape(type="line", x0=used, x1=used, y0=0, y1=1, xref=f"x{axis}", yref=f"y{axis} domain",
                      line={"color": "#212B32", "width": 1.2})
        if lo <= 1.0 <= hi:
            fig.add_shape(type="line", x0=1, x1=1, y0=0, y1=1, xref=f"x{axis}", yref=f"y{axis} domain",
                          layer="below", line={"color": BREAK_EVEN_COLOUR, "width": 1.2, "dash": "dash"})
    fig.update_layout(
        template="simple_white", barmode="overlay", bargap=0.25,
        font={"family": FONT_FAMILY, "size": 10.5, "color": "#212B32"},
        width=width, height=height,
        margin={"l": 10, "r": 16, "t": 24, "b": 24},
        uniformtext={"minsize": 9, "mode": "show"},
    )
    for ann in fig.layout.annotations:  # panel titles, over the left of each panel
        ann.update(x=1, xanchor="right", font={"family": FONT_FAMILY, "size": 11, "color": "#003087"})
    fig.update_yaxes(automargin=True)
    return figure_to_svg(fig, prefix, width, height)


# Engagement funnel: one horizontal bar per step, NHS blue, widest (the people referred) at the top.
FUNNEL_COLOUR = "#005EB8"


def funnel_bars(
    labels: list[str],
    values: list[float | None],
    texts: list[str],
    *,
    prefix: str = "funnel",
    width: int = 680,
    row_height: int = 28,
) -> str:
    """People at each step of a pathway as horizontal bars (SVG), first step at the top, each labelled with its
    text at the bar's end.

    Values must already be published figures; a step whose count is withheld (``None``) has no bar, only its
    text (e.g. ``*``) at zero, so nothing is drawn to scale that the text does not show.
    """
    top = max([v for v in values if v is not None] + [0.0])
    fig = go.Figure(go.Bar(
        y=labels, x=[0.0 if v is None else v for v in values], orientation="h", text=texts,
        textposition="outside", cliponaxis=False, marker_color=FUNNEL_COLOUR, uid=f"{prefix}b",
        textfont={"size": 11}, hoverinfo="skip"))
    height = 50 + row_height * len(labels)
    fig.update_layout(
        template="simple_white",
        font={"family": FONT_FAMILY, "size": 11, "color": "#212B32"},
        width=width, height=height, bargap=0.3,
        margin={"l": 10, "r": 20, "t": 6, "b": 38},
        xaxis={"title": {"text": "People", "standoff": 6}, "range": [0, top * 1.3 if top > 0 else 1], "showgrid": True,
               "gridcolor": "#E8EDEE", "rangemode": "tozero", "tickformat": ","},  # 1,000 as the text prints it
        yaxis={"autorange": "reversed", "ticks": "", "ticksuffix": "  ", "categoryorder": "array",
               "categoryarray": labels, "automargin": True},
        uniformtext={"minsize": 10, "mode": "show"},
    )
    return figure_to_svg(fig, prefix, width, height)
