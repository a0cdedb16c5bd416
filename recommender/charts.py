"""Server-rendered SVG charts for the admin's audit pages (no JavaScript, no CDN)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 420, 260, 44
# The plot's left and right edges: room for five-character tick labels ("0.335") beside the
# rotated y label (at PAD they overlapped it), and for half of the last x tick label.
LEFT, RIGHT = 58, WIDTH - 16
TITLE_CHARS, TITLE_LINE = 52, 15  # a 12 px bold line holds about 55 characters in 420 px
COLORS = ("#d9480f", "#364fc7", "#2b8a3e", "#862e9c", "#e67700", "#0b7285")


def _frame(title: str, x_label: str, y_label: str, body: str, legend: Sequence[str] = (),
           extra_bottom: float = 0) -> SafeString:
    """The title (visible above the plot, wrapped to two lines or more when long), axes, labels
    and legend around ``body``; ``extra_bottom`` px more below the plot for long (rotated) x
    labels. The title sits at negative y (the viewBox starts above 0), so the plot's coordinates
    do not depend on its length."""
    height = HEIGHT + extra_bottom
    title_lines = textwrap.wrap(title, TITLE_CHARS) or [""]
    top = 8 + TITLE_LINE * len(title_lines)
    heading = "".join(f'<text class="chart-title" x="4" y="{TITLE_LINE * (n + 1) - top:.0f}" font-size="12" '
                      f'font-weight="600">{escape(line)}</text>' for n, line in enumerate(title_lines))
    keys = "".join(
        f'<rect x="{LEFT + 8 + i * 110}" y="8" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
        f'<text x="{LEFT + 22 + i * 110}" y="17" font-size="11">{escape(name)}</text>'
        for i, name in enumerate(legend)
    )
    return mark_safe(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 {-top} {WIDTH} {height + top:.0f}" '
        f'width="{WIDTH}" height="{height + top:.0f}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{heading}"
        f'<line x1="{LEFT}" y1="{HEIGHT - PAD}" x2="{RIGHT}" y2="{HEIGHT - PAD}" stroke="#555"/>'
        f'<line x1="{LEFT}" y1="24" x2="{LEFT}" y2="{HEIGHT - PAD}" stroke="#555"/>'
        f'<text x="{(RIGHT + LEFT) / 2}" y="{height - 8:.0f}" font-size="11" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="12" y="{HEIGHT / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {HEIGHT / 2})">{escape(y_label)}</text>{keys}{body}</svg>'
    )


def empty_chart(title: str, x_label: str, y_label: str, message: str = "no data yet") -> SafeString:
    """The frame with ``message`` (one line per ``\n``) where the plot would be."""
    lines = message.split("\n")
    body = "".join(f'<text x="{(RIGHT + LEFT) / 2:.0f}" y="{120 + 20 * n}" font-size="12" text-anchor="middle">'
                   f"{escape(line)}</text>" for n, line in enumerate(lines))
    return _frame(title, x_label, y_label, body)


def _scale(value: float, lo: float, hi: float, out_lo: float, out_hi: float) -> float:
    return out_lo + (value - lo) / (hi - lo) * (out_hi - out_lo) if hi > lo else (out_lo + out_hi) / 2


@dataclass(frozen=True)
class Axis:
    """An axis range with round, distinct tick values and the decimals that tell them apart."""

    lo: float
    hi: float
    ticks: tuple[float, ...]
    decimals: int

    def label(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"


def axis(lo: float, hi: float, *, integer: bool = False, fixed: bool = False) -> Axis:
    """About five ticks at a step of 1, 2, 2.5 or 5 times a power of ten (a whole number when
    ``integer``); unless ``fixed``, the range widens to the ticks around the data."""
    if not hi > lo:  # one value (or none): a range around it
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / 4
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    if integer:
        step = float(max(1, math.ceil(step)))
    if not fixed:
        lo, hi = min(lo, math.floor(lo / step + 1e-9) * step), max(hi, math.ceil(hi / step - 1e-9) * step)
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    decimals = next(d for d in range(12) if abs(round(step, d) - step) <= step * 1e-6)
    return Axis(lo, hi, tuple(n * step for n in range(first, last + 1)), decimals)


def _ticks(ax: Axis, direction: str) -> str:
    marks = []
    for value in ax.ticks:
        if direction == "x":
            x = _scale(value, ax.lo, ax.hi, LEFT, RIGHT)
            marks.append(f'<text class="tick-x" x="{x:.1f}" y="{HEIGHT - PAD + 14}" font-size="10" '
                         f'text-anchor="middle">{ax.label(value)}</text>')
        else:
            y = _scale(value, ax.lo, ax.hi, HEIGHT - PAD, 24)
            marks.append(f'<text class="tick-y" x="{LEFT - 4}" y="{y + 3:.1f}" font-size="10" '
                         f'text-anchor="end">{ax.label(value)}</text>'
                         f'<line x1="{LEFT}" y1="{y:.1f}" x2="{RIGHT}" y2="{y:.1f}" stroke="#eee"/>')
    return "".join(marks)


def _end_labels(labels: tuple[str, str], coords: list[tuple[float, float]], color: str) -> str:
    """``labels`` at the first and the last point: inside the plot horizontally, below the
    point when the line leaves it upwards (above otherwise, or level when there is no room), on
    a white halo so a line crossing them leaves them legible."""
    marks = []
    neighbours = (coords[min(1, len(coords) - 1)], coords[max(len(coords) - 2, 0)])
    for label, (x, y), (_, next_y) in zip(labels, (coords[0], coords[-1]), neighbours, strict=True):
        anchor = "end" if x > (LEFT + RIGHT) / 2 else "start"
        dx = -7 if anchor == "end" else 7
        # below the point when the line goes up from it, else above; level when that leaves the plot
        ty = y + 14 if next_y < y else y - 7
        if not 34 <= ty <= HEIGHT - PAD - 3:
            ty = y + 4
        marks.append(f'<text class="end-label" x="{x + dx:.1f}" y="{ty:.1f}" font-size="10" fill="{color}" '
                     f'stroke="#fff" stroke-width="3" paint-order="stroke" text-anchor="{anchor}">'
                     f"{escape(label)}</text>")
    return "".join(marks)


def line_chart(title: str, series: dict[str, Sequence[tuple[float, float]]], *, x_label: str, y_label: str,
               diagonal: bool = False, bounds: tuple[float, float, float, float] | None = None,
               integer_x: bool = False, end_labels: tuple[str, str] | None = None) -> SafeString:
    """Lines (with dots) for each named series of (x, y) points; ``bounds`` fixes the axes'
    ranges (else they follow the data), ``integer_x`` keeps x ticks whole numbers, ``end_labels``
    name the first and the last point of each line (where a curve runs from and to)."""
    points = [p for values in series.values() for p in values]
    if not points:
        return empty_chart(title, x_label, y_label)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = bounds or (min(xs), max(xs), min(ys), max(ys))
    x_axis, y_axis = axis(x0, x1, integer=integer_x, fixed=bool(bounds)), axis(y0, y1, fixed=bool(bounds))
    body = _ticks(x_axis, "x") + _ticks(y_axis, "y")
    if diagonal:
        body += (f'<line x1="{LEFT}" y1="{HEIGHT - PAD}" x2="{RIGHT}" y2="24" stroke="#999" '
                 'stroke-dasharray="4 3"/>')
    for n, values in enumerate(series.values()):
        color = COLORS[n % len(COLORS)]
        coords = [(_scale(x, x_axis.lo, x_axis.hi, LEFT, RIGHT), _scale(y, y_axis.lo, y_axis.hi, HEIGHT - PAD, 24))
                  for x, y in values]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body += f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>'
        body += "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in coords)
        if end_labels and coords:
            body += _end_labels(end_labels, coords, color)
    return _frame(title, x_label, y_label, body, legend=list(series) if len(series) > 1 else ())


LABEL_CHAR_WIDTH = 5.5  # px per character of a 9 px label (a generous sans-serif average)


def bar_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float]], *, y_label: str,
              x_label: str = "") -> SafeString:
    """Grouped vertical bars: one group per label, one bar per series. Every label is shown in
    full: level when they fit under their group, else rotated 45 degrees with the chart made
    taller to hold them."""
    values = [v for vs in series.values() for v in vs]
    if not labels or not values:
        return empty_chart(title, x_label, y_label)
    y_axis = axis(0, max(max(values), 1e-9))
    group_w = (RIGHT - LEFT) / len(labels)
    bar_w = max(group_w * 0.8 / len(series), 1)
    longest = max(len(str(label)) for label in labels) * LABEL_CHAR_WIDTH
    rotate = longest > group_w - 2
    label_room = longest * math.sqrt(0.5) + 14 if rotate else 16  # below the x axis
    extra_bottom = max(0.0, label_room + (18 if x_label else 4) - PAD)
    body = _ticks(y_axis, "y")
    for g, label in enumerate(labels):
        for n, vs in enumerate(series.values()):
            height = _scale(vs[g], 0, y_axis.hi, 0, HEIGHT - PAD - 24)
            x = LEFT + g * group_w + group_w * 0.1 + n * bar_w
            body += (f'<rect x="{x:.1f}" y="{HEIGHT - PAD - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                     f'fill="{COLORS[n % len(COLORS)]}"><title>{escape(label)}: {vs[g]:.3g}</title></rect>')
        x, y = LEFT + (g + 0.5) * group_w, HEIGHT - PAD + (10 if rotate else 14)
        turn = f' transform="rotate(-45 {x:.1f} {y})"' if rotate else ""
        body += (f'<text class="label-x" x="{x:.1f}" y="{y}" font-size="9" '
                 f'text-anchor="{"end" if rotate else "middle"}"{turn}>{escape(str(label))}</text>')
    return _frame(title, x_label, y_label, body, legend=list(series) if len(series) > 1 else (),
                  extra_bottom=extra_bottom)
