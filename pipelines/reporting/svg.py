"""Charts as inline SVG, drawn here (no JavaScript, no network): horizontal bars with the
label above each bar (readable on a phone), grouped columns, stacked bars, a donut.

Every chart scales with its container (viewBox, width 100 %); a masked value draws no bar and
prints the mask instead of a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal

from pipelines.reporting.numbers import fr_pct, share_pct
from pipelines.reporting.safe import html_text as escape  # and control chars made visible

PALETTE = ["#1f4e79", "#f28e2b", "#59a14f", "#9c6ade", "#e15759", "#76b7b2", "#b07aa1",
           "#edc948", "#9c755f", "#4e79a7"]
WIDTH = 480
MASK = "*"

Value = float | None          # None: masked
Series = tuple[str, list[Value]]
Formatter = Callable[[float], str]


def _svg(height: float, title: str, body: list[str]) -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {math.ceil(height)}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def _text(x: float, y: float, text: str, size: int = 13, anchor: str = "start",
          weight: str = "normal", fill: str = "#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(text)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    tip_xml = f"<title>{escape(tip)}</title>" if tip else ""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
            f'fill="{fill}" rx="2">{tip_xml}</rect>')


def _short(label: str, limit: int = 58) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def _legend(names: Sequence[str], y: float) -> tuple[list[str], float]:
    """Legend entries flowing over lines; returns the elements and the next free y."""
    parts, x = [], 0.0
    for i, name in enumerate(names):
        width = 22 + 7 * len(name)
        if x + width > WIDTH and x > 0:
            x, y = 0.0, y + 20
        parts.append(_rect(x, y - 10, 12, 12, PALETTE[i % len(PALETTE)]))
        parts.append(_text(x + 16, y, name, size=12))
        x += width + 10
    return parts, y + 22


def bar_chart(title: str, labels: Sequence[str], values: Sequence[Value],
              fmt: Formatter) -> str:
    """One horizontal bar per category, its label above it and its value at its end."""
    top = max((v for v in values if v is not None), default=0) or 1
    body, y = [], 4.0
    for label, value in zip(labels, values, strict=True):
        body.append(_text(0, y + 13, _short(label)))
        width = 0 if value is None else (WIDTH - 90) * value / top
        body.append(_rect(0, y + 19, width, 14, PALETTE[0], f"{label} : "
                          f"{MASK if value is None else fmt(value)}"))
        shown = MASK if value is None else fmt(value) if value else "/"
        body.append(_text(width + 6, y + 31, shown, size=12))
        y += 42
    return _svg(y, title, body)


def stacked_chart(title: str, labels: Sequence[str], series: Sequence[Series],
                  fmt: Formatter) -> str:
    """One horizontal bar per category, its segments the series (masked segments left out,
    the bar's total then marked)."""
    totals = [sum(v or 0 for _, values in series for v in [values[i]])
              for i in range(len(labels))]
    top = max(totals, default=0) or 1
    body, y = _legend([name for name, _ in series], 14)
    for i, label in enumerate(labels):
        body.append(_text(0, y + 13, _short(label)))
        x, hidden = 0.0, False
        for k, (name, values) in enumerate(series):
            value = values[i]
            hidden |= value is None
            width = 0 if value is None else (WIDTH - 110) * value / top
            body.append(_rect(x, y + 19, width, 14, PALETTE[k % len(PALETTE)],
                              f"{label}, {name} : {MASK if value is None else fmt(value)}"))
            x += width
        body.append(_text(x + 6, y + 31, fmt(totals[i]) + (f" ({MASK})" if hidden else ""),
                          size=12))
        y += 42
    return _svg(y, title, body)


def column_chart(title: str, groups: Sequence[str], series: Sequence[Series],
                 fmt: Formatter) -> str:
    """Grouped vertical columns: one group per category of the rows, one column per series."""
    top = max((v for _, values in series for v in values if v is not None), default=0) or 1
    plot_top, plot_h = 24.0, 190.0
    group_w = WIDTH / max(len(groups), 1)
    bar_w = min(38.0, (group_w - 16) / max(len(series), 1))
    body = [f'<line x1="0" y1="{plot_top + plot_h}" x2="{WIDTH}" y2="{plot_top + plot_h}" '
            f'stroke="#999"/>']
    for g, group in enumerate(groups):
        x0 = g * group_w + (group_w - bar_w * len(series)) / 2
        for k, (name, values) in enumerate(series):
            value = values[g]
            h = 0 if value is None else plot_h * value / top
            x = x0 + k * bar_w
            body.append(_rect(x + 1, plot_top + plot_h - h, bar_w - 2, h,
                              PALETTE[k % len(PALETTE)],
                              f"{group}, {name} : {MASK if value is None else fmt(value)}"))
            if value != 0:                      # a zero draws nothing, as the tables' "/"
                body.append(_text(x + bar_w / 2, plot_top + plot_h - h - 4,
                                  MASK if value is None else fmt(value), size=11,
                                  anchor="middle"))
        body.append(_text(g * group_w + group_w / 2, plot_top + plot_h + 18, _short(group, 24),
                          anchor="middle", weight="bold"))
    legend, y = _legend([name for name, _ in series], plot_top + plot_h + 44)
    return _svg(y, title, body + legend)


def donut_chart(title: str, labels: Sequence[str], values: Sequence[Value],
                fmt: Formatter) -> str:
    """A donut and its legend (label, value, share); masked slices are left out."""
    total = sum(v for v in values if v is not None) or 1
    cx, cy, r, inner = 90.0, 95.0, 85.0, 50.0
    body, angle = [], -math.pi / 2
    for i, value in enumerate(values):
        if not value:
            continue
        sweep = 2 * math.pi * value / total
        body.append(_slice(cx, cy, r, inner, angle, sweep, PALETTE[i % len(PALETTE)],
                           f"{labels[i]} : {fmt(value)}"))
        angle += sweep
    y = 20.0
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        body.append(_rect(200, y - 11, 12, 12, PALETTE[i % len(PALETTE)]))
        pct = share_pct(Decimal(str(value)), Decimal(str(total))) if value is not None else 0
        shown = MASK if value is None else f"{fmt(value)} ({fr_pct(pct or 0)})"
        body.append(_text(218, y, _short(label, 30), size=13))
        body.append(_text(WIDTH, y, shown, size=13, anchor="end"))
        y += 22
    return _svg(max(y, 2 * cy + 10), title, body)


def _slice(cx: float, cy: float, r: float, inner: float, start: float, sweep: float,
           fill: str, tip: str) -> str:
    if sweep >= 2 * math.pi - 1e-9:       # a full ring: two half arcs
        sweep = 2 * math.pi - 1e-6
    end = start + sweep
    large = 1 if sweep > math.pi else 0
    p = [(cx + r * math.cos(start), cy + r * math.sin(start)),
         (cx + r * math.cos(end), cy + r * math.sin(end)),
         (cx + inner * math.cos(end), cy + inner * math.sin(end)),
         (cx + inner * math.cos(start), cy + inner * math.sin(start))]
    d = (f"M{p[0][0]:.2f},{p[0][1]:.2f} A{r},{r} 0 {large} 1 {p[1][0]:.2f},{p[1][1]:.2f} "
         f"L{p[2][0]:.2f},{p[2][1]:.2f} A{inner},{inner} 0 {large} 0 {p[3][0]:.2f},"
         f"{p[3][1]:.2f} Z")
    return f'<path d="{d}" fill="{fill}"><title>{escape(tip)}</title></path>'
