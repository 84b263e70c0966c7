"""Charts as inline SVG, drawn here (no JavaScript, no network): horizontal bars with the
label above each bar (readable on a phone), grouped columns, stacked bars, a donut.

Every chart scales with its container (viewBox, width 100 %). Numbers are printed as the table
beside the chart prints them (the caller gives the texts), so a chart never says what its
table does not: a masked value draws no bar and prints the mask, never a partial sum. Every
drawn value carries `data-categorie`, `data-serie` and `data-valeur` (the printed text), so
that a test can read a chart back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from pipelines.reporting.model import MASK
from pipelines.reporting.numbers import fr_pct, share_pct
from pipelines.reporting.safe import html_text as escape  # and control chars made visible

MASKED_FILL = "#bfbfbf"  # the masked part of a stacked bar
MASKED_LABEL = f"Masqué ({MASK})"
PALETTE = [
    "#1f4e79",
    "#f28e2b",
    "#59a14f",
    "#9c6ade",
    "#e15759",
    "#76b7b2",
    "#b07aa1",
    "#edc948",
    "#9c755f",
    "#4e79a7",
]
WIDTH = 480

Value = float | None  # None: masked


@dataclass
class Series:
    """One column of a table as a chart draws it: its header, its numbers (None when masked)
    and the texts the table prints for them."""

    name: str
    values: list[Value]
    texts: list[str]


def _svg(height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {math.ceil(height)}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    size: int = 13,
    anchor: str = "start",
    weight: str = "normal",
    fill: str = "#222",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{fill}">{escape(text)}</text>'
    )


def _rect(
    x: float,
    y: float,
    w: float,
    h: float,
    fill: str,
    tip: str = "",
    data: tuple[str, str, str] | None = None,
) -> str:
    """A bar; `data`: (category, series, printed value) of the figure it draws."""
    tip_xml = f"<title>{escape(tip)}</title>" if tip else ""
    attrs = ""
    if data is not None:
        attrs = (
            f' data-categorie="{escape(data[0])}" data-serie="{escape(data[1])}" '
            f'data-valeur="{escape(data[2])}"'
        )
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
        f'fill="{fill}" rx="2"{attrs}>{tip_xml}</rect>'
    )


def _short(label: str, limit: int = 58) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


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


def bar_chart(title: str, labels: Sequence[str], series: Series) -> str:
    """One horizontal bar per category, its label above it and its value at its end."""
    top = max((v for v in series.values if v is not None), default=0) or 1
    body, y = [], 4.0
    for label, value, text in zip(labels, series.values, series.texts, strict=True):
        body.append(_text(0, y + 13, _short(label)))
        width = 0 if value is None else (WIDTH - 90) * value / top
        body.append(
            _rect(0, y + 19, width, 14, PALETTE[0], f"{label} : {text}", (label, series.name, text))
        )
        body.append(_text(width + 6, y + 31, text, size=12))
        y += 42
    return _svg(y, title, body)


def stacked_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], totals: Sequence[tuple[Value, str]]
) -> str:
    """One horizontal bar per category, its segments the series; the bar ends with the row's
    total as the table prints it. Masked segments are drawn as one grey part (the total less
    the shown segments, which the table's figures give anyway), so the bar's length is its
    total and no partial sum is printed."""
    top = max((t for t, _ in totals if t is not None), default=0) or 1
    hidden_any = any(v is None for s in series for v in s.values)
    names = [s.name for s in series] + ([MASKED_LABEL] if hidden_any else [])
    body, y = _legend(names, 14)
    for i, label in enumerate(labels):
        body.append(_text(0, y + 13, _short(label)))
        x, shown = 0.0, 0.0
        for k, s in enumerate(series):
            value = s.values[i]
            width = 0 if value is None else (WIDTH - 110) * value / top
            body.append(
                _rect(
                    x,
                    y + 19,
                    width,
                    14,
                    PALETTE[k % len(PALETTE)],
                    f"{label}, {s.name} : {s.texts[i]}",
                    (label, s.name, s.texts[i]),
                )
            )
            x += width
            shown += value or 0
        total, text = totals[i]
        if any(s.values[i] is None for s in series) and total is not None and total > shown:
            width = (WIDTH - 110) * (total - shown) / top
            body.append(_rect(x, y + 19, width, 14, MASKED_FILL, f"{label} : {MASKED_LABEL}"))
            x += width
        body.append(_text(x + 6, y + 31, text, size=12))
        y += 42
    return _svg(y, title, body)


def column_chart(title: str, groups: Sequence[str], series: Sequence[Series]) -> str:
    """Grouped vertical columns: one group per category of the rows, one column per series."""
    top = max((v for s in series for v in s.values if v is not None), default=0) or 1
    plot_top, plot_h = 24.0, 190.0
    group_w = WIDTH / max(len(groups), 1)
    bar_w = min(38.0, (group_w - 16) / max(len(series), 1))
    body = [
        f'<line x1="0" y1="{plot_top + plot_h}" x2="{WIDTH}" y2="{plot_top + plot_h}" '
        f'stroke="#999"/>'
    ]
    for g, group in enumerate(groups):
        x0 = g * group_w + (group_w - bar_w * len(series)) / 2
        for k, s in enumerate(series):
            value, text = s.values[g], s.texts[g]
            h = 0 if value is None else plot_h * value / top
            x = x0 + k * bar_w
            body.append(
                _rect(
                    x + 1,
                    plot_top + plot_h - h,
                    bar_w - 2,
                    h,
                    PALETTE[k % len(PALETTE)],
                    f"{group}, {s.name} : {text}",
                    (group, s.name, text),
                )
            )
            if value != 0:  # a zero draws nothing, as the tables' "/"
                body.append(
                    _text(x + bar_w / 2, plot_top + plot_h - h - 4, text, size=11, anchor="middle")
                )
        body.append(
            _text(
                g * group_w + group_w / 2,
                plot_top + plot_h + 18,
                _short(group, 24),
                anchor="middle",
                weight="bold",
            )
        )
    legend, y = _legend([s.name for s in series], plot_top + plot_h + 44)
    return _svg(y, title, body + legend)


def donut_chart(
    title: str, labels: Sequence[str], series: Series, shares: Sequence[str | None]
) -> str:
    """A donut and its legend (label, value, share). Only for a column without a masked
    value (html.py draws bars otherwise: visible slices alone would overstate their share).
    `shares`: the table's printed share of each row, when it has one."""
    values = [v or 0 for v in series.values]
    total = sum(values) or 1
    cx, cy, r, inner = 90.0, 95.0, 85.0, 50.0
    body, angle = [], -math.pi / 2
    for i, value in enumerate(values):
        if not value:
            continue
        sweep = 2 * math.pi * value / total
        body.append(
            _slice(
                cx,
                cy,
                r,
                inner,
                angle,
                sweep,
                PALETTE[i % len(PALETTE)],
                f"{labels[i]} : {series.texts[i]}",
                (labels[i], series.name, series.texts[i]),
            )
        )
        angle += sweep
    y = 20.0
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        body.append(_rect(200, y - 11, 12, 12, PALETTE[i % len(PALETTE)]))
        share = (
            shares[i]
            if shares[i] is not None
            else fr_pct(share_pct(Decimal(str(value)), Decimal(str(total))) or 0)
        )
        body.append(_text(218, y, _short(label, 30), size=13))
        body.append(_text(WIDTH, y, f"{series.texts[i]} ({share})", size=13, anchor="end"))
        y += 22
    return _svg(max(y, 2 * cy + 10), title, body)


def _slice(
    cx: float,
    cy: float,
    r: float,
    inner: float,
    start: float,
    sweep: float,
    fill: str,
    tip: str,
    data: tuple[str, str, str],
) -> str:
    if sweep >= 2 * math.pi - 1e-9:  # a full ring: two half arcs
        sweep = 2 * math.pi - 1e-6
    end = start + sweep
    large = 1 if sweep > math.pi else 0
    p = [
        (cx + r * math.cos(start), cy + r * math.sin(start)),
        (cx + r * math.cos(end), cy + r * math.sin(end)),
        (cx + inner * math.cos(end), cy + inner * math.sin(end)),
        (cx + inner * math.cos(start), cy + inner * math.sin(start)),
    ]
    d = (
        f"M{p[0][0]:.2f},{p[0][1]:.2f} A{r},{r} 0 {large} 1 {p[1][0]:.2f},{p[1][1]:.2f} "
        f"L{p[2][0]:.2f},{p[2][1]:.2f} A{inner},{inner} 0 {large} 0 {p[3][0]:.2f},"
        f"{p[3][1]:.2f} Z"
    )
    return (
        f'<path d="{d}" fill="{fill}" data-categorie="{escape(data[0])}" '
        f'data-serie="{escape(data[1])}" data-valeur="{escape(data[2])}">'
        f"<title>{escape(tip)}</title></path>"
    )
