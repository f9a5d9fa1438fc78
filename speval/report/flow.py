"""CONSORT-style cohort flow diagram as deterministic inline SVG.

Drawn directly in Python (no plotting library, no browser): boxes, connectors and text
only, laid out from DejaVu Sans glyph advances so that wrapped labels fit their boxes.
The SVG has no ids, no random values and no clock, so the report stays byte-identical
across runs, and WeasyPrint draws it as vectors with real (searchable) text.

The function only lays out the strings it is given: every number in them must already
be disclosure-controlled (:mod:`speval.report.disclosure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from speval.report.format import grouped

FONT_FAMILY = "DejaVu Sans"
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
_FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}

# Colours: NHS blue / dark blue / greys, as in the rest of the report.
BOX_STROKE = "#005EB8"
FINAL_FILL = "#E8EDEE"
FINAL_STROKE = "#003087"
SIDE_STROKE = "#768692"
SIDE_FILL = "#F8FAFA"
LINE = "#425563"
TEXT = "#212B32"
HEAD = "#003087"

# Geometry in SVG user units; the figure is drawn 500 units wide and shown at the full
# text width of an A4 page (176 mm ≈ 499 pt), so 1 unit ≈ 1 pt.
WIDTH = 500.0
COLUMN_GAP = 12.0
MAIN_SHARE = 0.58          # of a column's width, at most, for the main box
ARROW = 10.0               # horizontal gap between the main chain and a side box
# Space between a box's border and its text, left and right (PAD_X) and above and below (PAD_Y): every box is
# sized from its text (the widest line, the number of lines) with this margin.
PAD_X, PAD_Y = 7.0, 5.5
MAIN_SIZE, MAIN_LEAD = 7.6, 9.6
SIDE_SIZE, SIDE_LEAD = 7.0, 8.8
HEAD_SIZE = 9.0
MIN_GAP = 18.0             # vertical gap between main boxes with no side box
SIDE_MARGIN = 6.0          # space between two side boxes, one above the other
HEAD_GAP = 8.0
HEAD_ROOM = 14.0
EDGE = 1.0                 # keeps outer strokes inside the view box


@lru_cache(maxsize=2)
def _advances(bold: bool) -> tuple[dict[int, int], int] | None:
    """Glyph advance widths of DejaVu Sans (by code point) and its units per em."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # pragma: no cover - fontTools comes with WeasyPrint
        return None
    for folder in _FONT_DIRS:
        path = folder / _FONT_FILES[bold]
        if path.is_file():
            font = TTFont(str(path), lazy=True)
            cmap = font.getBestCmap()
            hmtx = font["hmtx"]
            widths = {cp: hmtx[name][0] for cp, name in cmap.items()}
            return widths, int(font["head"].unitsPerEm)
    return None


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` set in DejaVu Sans at ``size`` (no kerning; a slight overestimate).

    Falls back to a conservative 0.62 em per character when the font file is not found.
    """
    metrics = _advances(bold)
    if metrics is None:
        return len(text) * size * 0.62
    widths, upem = metrics
    default = widths.get(ord("M"), upem)
    return sum(widths.get(ord(ch), default) for ch in text) * size / upem


def wrap(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap of ``text`` into lines no wider than ``width``.

    Breaks only at ordinary spaces (a no-break space keeps e.g. a date together); a single
    word longer than ``width`` is kept whole on its own line."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in [w for w in paragraph.split(" ") if w]:
            trial = f"{line} {word}" if line else word
            if line and text_width(trial, size, bold) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return [line.replace("\u00a0", " ") for line in lines]


@dataclass
class FlowStep:
    """One box of the chain: what people had to satisfy, how many remained, and (from the
    second step on) how many were excluded at this step and why."""

    label: str
    n: str
    excluded: str = ""
    reason: str = ""


@dataclass
class FlowCohort:
    title: str
    steps: list[FlowStep] = field(default_factory=list)
    final_label: str = ""   # bold line in the last box, e.g. "12 month cohort"


def _fmt(v: float) -> str:
    """Coordinates with at most 2 decimals, no trailing zeros: stable text output."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _main_lines(step: FlowStep, final: str, inner: float) -> list[tuple[str, bool]]:
    lines = [(t, False) for t in wrap(step.label, inner, MAIN_SIZE)]
    count = f"n = {grouped(step.n) if step.n else '–'}"
    if final:
        lines += [(t, True) for t in wrap(f"{final}: {count}", inner, MAIN_SIZE, True)]
    else:
        lines.append((count, True))
    return lines


def _side_lines(step: FlowStep, inner: float) -> list[tuple[str, bool]]:
    lines = [(f"Excluded: {grouped(step.excluded) if step.excluded else '–'}", True)]
    if step.reason:
        lines += [(t, False) for t in wrap(step.reason, inner, SIDE_SIZE)]
    return lines


def _widest(blocks: list[list[tuple[str, bool]]], size: float) -> float:
    """The width of the widest line of ``blocks`` (each a box's lines) set at ``size``; 0 for none."""
    return max((text_width(text, size, bold) for lines in blocks for text, bold in lines), default=0.0)


def _text_block(out: list[str], lines: list[tuple[str, bool]], x: float, top: float,
                size: float, lead: float, anchor: str, fill: str = "") -> None:
    # Baseline of the first line: the block is `len(lines) * lead` tall, and a line's
    # glyphs sit about 0.76 em above their baseline (DejaVu Sans ascent, caps height).
    y = top + (lead - size) / 2 + 0.76 * size
    for text, bold in lines:
        weight = ' font-weight="bold"' if bold else ""
        colour = f' fill="{fill}"' if fill else ""
        out.append(f'<text x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}"'
                   f' font-size="{_fmt(size)}"{weight}{colour}>{escape(text)}</text>')
        y += lead


def _arrow_head(out: list[str], x: float, y: float, direction: str) -> None:
    """A filled triangular arrow head whose tip is at (x, y)."""
    s = 3.2
    if direction == "down":
        pts = [(x, y), (x - s, y - 1.8 * s), (x + s, y - 1.8 * s)]
    else:  # right
        pts = [(x, y), (x - 1.8 * s, y - s), (x - 1.8 * s, y + s)]
    out.append('<polygon points="' + " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in pts)
               + f'" fill="{LINE}"/>')


def cohort_flow_svg(cohorts: list[FlowCohort], *, title: str = "Cohort flow") -> str:
    """The flow diagram of one or more cohorts side by side, as an SVG string.

    Each cohort is a vertical chain of boxes (one per step; the last one is the cohort),
    with a side box between consecutive boxes giving the number excluded at that step and
    why. Rows are aligned across cohorts so the same step sits at the same height.
    """
    cohorts = [c for c in cohorts if c.steps]
    if not cohorts:
        raise ValueError("a flow diagram needs at least one cohort with steps")
    k = len(cohorts)
    if k == 1:  # one cohort: a narrower chain, centred
        col_w = (WIDTH - 2 * EDGE) * 0.75
    else:
        col_w = (WIDTH - 2 * EDGE - COLUMN_GAP * (k - 1)) / k

    n_rows = max(len(c.steps) for c in cohorts)
    # Main boxes: the text wrapped to fit the widest box allowed, and every main box as wide as the widest line of
    # them all plus the margin (one width, so the chains line up). Side boxes: the text wrapped to the room left
    # beside the main box, and every side box as wide as the widest of their lines plus the margin.
    main_inner = col_w * MAIN_SHARE - 2 * PAD_X
    main_lines = [[(_main_lines(c.steps[i], c.final_label if i == len(c.steps) - 1 else "",
                                main_inner) if i < len(c.steps) else None)
                   for i in range(n_rows)] for c in cohorts]
    main_w = min(_widest([ml for col in main_lines for ml in col if ml is not None], MAIN_SIZE) + 2 * PAD_X,
                 col_w * MAIN_SHARE)
    side_inner = col_w - main_w - ARROW - 2 * PAD_X
    side_lines = [[(_side_lines(c.steps[i], side_inner) if 0 < i < len(c.steps) else None)
                   for i in range(n_rows)] for c in cohorts]
    side_w = min(_widest([sl for col in side_lines for sl in col if sl is not None], SIDE_SIZE) + 2 * PAD_X,
                 col_w - main_w - ARROW)

    row_h = [max(len(ml[i]) * MAIN_LEAD + 2 * PAD_Y for ml in main_lines if ml[i] is not None)
             for i in range(n_rows)]
    side_h = [max([len(sl[i]) * SIDE_LEAD + 2 * PAD_Y for sl in side_lines if sl[i] is not None],
                  default=0.0) for i in range(n_rows)]
    # Each side box is centred on the connector between two main boxes, to the right of the chain: it may reach up
    # and down beside the main boxes (never over them), so the gap between two main boxes is only as tall as it
    # must be for the side box not to come within SIDE_MARGIN of the side box above it, nor above the first main box.
    tops, gaps, y = [], [0.0] * n_rows, EDGE + HEAD_ROOM + HEAD_GAP
    side_bottom = None
    for i in range(n_rows):
        if i:
            gap = MIN_GAP
            if side_h[i]:
                ceiling = tops[0] if side_bottom is None else side_bottom + SIDE_MARGIN
                gap = max(gap, 2 * (ceiling + side_h[i] / 2 - y))
                side_bottom = y + gap / 2 + side_h[i] / 2
            gaps[i] = gap
        y += gaps[i]
        tops.append(y)
        y += row_h[i]
    height = max(y, side_bottom or 0.0) + EDGE

    if k == 1:
        col_x = [(WIDTH - (main_w + ARROW + side_w)) / 2]
    else:
        col_x = [EDGE + j * (col_w + COLUMN_GAP) for j in range(k)]

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_fmt(WIDTH)} {_fmt(height)}"'
           f' width="{_fmt(WIDTH)}" height="{_fmt(height)}" role="img"'
           f' aria-label="{escape(title, {chr(34): "&quot;"})}"'
           f' font-family="{FONT_FAMILY}" fill="{TEXT}">',
           f"<title>{escape(title)}</title>"]
    for j, c in enumerate(cohorts):
        x0 = col_x[j]
        cx = x0 + main_w / 2
        out.append('<g class="cohort">')
        # Cohort heading, centred over the main chain.
        _text_block(out, [(c.title, True)], cx, EDGE, HEAD_SIZE, HEAD_ROOM, "middle", HEAD)
        last = len(c.steps) - 1
        for i, step in enumerate(c.steps):
            top, h = tops[i], row_h[i]
            final = i == last
            fill, stroke, sw = (FINAL_FILL, FINAL_STROKE, 1.2) if final else ("#FFFFFF", BOX_STROKE, 0.8)
            out.append(f'<rect x="{_fmt(x0)}" y="{_fmt(top)}" width="{_fmt(main_w)}"'
                       f' height="{_fmt(h)}" rx="2" fill="{fill}" stroke="{stroke}"'
                       f' stroke-width="{_fmt(sw)}"/>')
            lines = main_lines[j][i]
            block = len(lines) * MAIN_LEAD
            _text_block(out, lines, cx, top + (h - block) / 2, MAIN_SIZE, MAIN_LEAD, "middle")
            if i == 0:
                continue
            # Connector from the previous box down to this one.
            prev_bottom = tops[i - 1] + row_h[i - 1]
            out.append(f'<line x1="{_fmt(cx)}" y1="{_fmt(prev_bottom)}" x2="{_fmt(cx)}"'
                       f' y2="{_fmt(top - 0.6)}" stroke="{LINE}" stroke-width="0.8"/>')
            _arrow_head(out, cx, top - 0.4, "down")
            # Side box with the exclusions, centred in the gap.
            slines = side_lines[j][i]
            sh = len(slines) * SIDE_LEAD + 2 * PAD_Y
            mid = prev_bottom + gaps[i] / 2
            sx = x0 + main_w + ARROW
            out.append(f'<line x1="{_fmt(cx)}" y1="{_fmt(mid)}" x2="{_fmt(sx - 0.6)}"'
                       f' y2="{_fmt(mid)}" stroke="{LINE}" stroke-width="0.8"/>')
            _arrow_head(out, sx - 0.4, mid, "right")
            out.append(f'<rect x="{_fmt(sx)}" y="{_fmt(mid - sh / 2)}" width="{_fmt(side_w)}"'
                       f' height="{_fmt(sh)}" rx="2" fill="{SIDE_FILL}" stroke="{SIDE_STROKE}"'
                       f' stroke-width="0.7"/>')
            _text_block(out, slines, sx + PAD_X, mid - sh / 2 + PAD_Y, SIDE_SIZE, SIDE_LEAD,
                        "start")
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
