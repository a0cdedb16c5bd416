"""Server-rendered SVG charts for the admin's audit pages (no JavaScript, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 420, 260, 44
COLORS = ("#d9480f", "#364fc7", "#2b8a3e", "#862e9c", "#e67700", "#0b7285")


def _frame(title: str, x_label: str, y_label: str, body: str, legend: Sequence[str] = ()) -> SafeString:
    keys = "".join(
        f'<rect x="{PAD + 8 + i * 110}" y="8" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
        f'<text x="{PAD + 22 + i * 110}" y="17" font-size="11">{escape(name)}</text>'
        for i, name in enumerate(legend)
    )
    return mark_safe(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" stroke="#555"/>'
        f'<line x1="{PAD}" y1="24" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#555"/>'
        f'<text x="{(WIDTH + PAD) / 2}" y="{HEIGHT - 8}" font-size="11" text-anchor="middle">{escape(x_label)}</text>'
        f'<text x="12" y="{HEIGHT / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {HEIGHT / 2})">{escape(y_label)}</text>{keys}{body}</svg>'
    )


def _scale(value: float, lo: float, hi: float, out_lo: float, out_hi: float) -> float:
    return out_lo + (value - lo) / (hi - lo) * (out_hi - out_lo) if hi > lo else (out_lo + out_hi) / 2


def _ticks(lo: float, hi: float, axis: str) -> str:
    marks = []
    for n in range(5):
        value = lo + (hi - lo) * n / 4
        if axis == "x":
            x = _scale(value, lo, hi, PAD, WIDTH - 10)
            marks.append(f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" font-size="10" '
                         f'text-anchor="middle">{value:.2g}</text>')
        else:
            y = _scale(value, lo, hi, HEIGHT - PAD, 24)
            marks.append(f'<text x="{PAD - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{value:.2g}</text>'
                         f'<line x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" stroke="#eee"/>')
    return "".join(marks)


def line_chart(title: str, series: dict[str, Sequence[tuple[float, float]]], *, x_label: str, y_label: str,
               diagonal: bool = False, bounds: tuple[float, float, float, float] | None = None) -> SafeString:
    """Lines (with dots) for each named series of (x, y) points."""
    points = [p for values in series.values() for p in values]
    if not points:
        return _frame(title, x_label, y_label, '<text x="200" y="130" font-size="12">no data yet</text>')
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = bounds or (min(xs), max(xs), min(ys), max(ys))
    body = _ticks(x0, x1, "x") + _ticks(y0, y1, "y")
    if diagonal:
        body += (f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="24" stroke="#999" '
                 'stroke-dasharray="4 3"/>')
    for n, values in enumerate(series.values()):
        color = COLORS[n % len(COLORS)]
        coords = [(_scale(x, x0, x1, PAD, WIDTH - 10), _scale(y, y0, y1, HEIGHT - PAD, 24)) for x, y in values]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body += f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>'
        body += "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in coords)
    return _frame(title, x_label, y_label, body, legend=list(series) if len(series) > 1 else ())


def bar_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float]], *, y_label: str,
              x_label: str = "") -> SafeString:
    """Grouped vertical bars: one group per label, one bar per series."""
    values = [v for vs in series.values() for v in vs]
    if not labels or not values:
        return _frame(title, x_label, y_label, '<text x="200" y="130" font-size="12">no data yet</text>')
    top = max(max(values), 1e-9)
    group_w = (WIDTH - 10 - PAD) / len(labels)
    bar_w = max(group_w * 0.8 / len(series), 1)
    body = _ticks(0, top, "y")
    for g, label in enumerate(labels):
        for n, vs in enumerate(series.values()):
            height = _scale(vs[g], 0, top, 0, HEIGHT - PAD - 24)
            x = PAD + g * group_w + group_w * 0.1 + n * bar_w
            body += (f'<rect x="{x:.1f}" y="{HEIGHT - PAD - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                     f'fill="{COLORS[n % len(COLORS)]}"><title>{escape(label)}: {vs[g]:.3g}</title></rect>')
        if len(labels) <= 12:
            body += (f'<text x="{PAD + (g + 0.5) * group_w:.1f}" y="{HEIGHT - PAD + 14}" font-size="9" '
                     f'text-anchor="middle">{escape(str(label)[:10])}</text>')
    return _frame(title, x_label, y_label, body, legend=list(series) if len(series) > 1 else ())
