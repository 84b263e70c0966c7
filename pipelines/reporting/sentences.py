"""The report's sentences: templates of config/report.yaml filled from the warehouse.

A placeholder without a value (no Y-1 figures, a change from zero, a cell below the masking
threshold) leaves out its optional `[ … ]` part, or the whole sentence when it is outside
one: the report never prints "a progressé de ∞ %" nor a small count in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from pipelines.reporting.figures import Figures, Key, Source
from pipelines.reporting.model import Paragraph
from pipelines.reporting.numbers import (
    change_pct,
    fr_amount,
    fr_change,
    fr_count,
    fr_pct,
    has_cents,
    share_pct,
)

PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
MERGED = " + "


class Unavailable(Exception):
    """A placeholder has no value to print."""


@dataclass
class _Context:
    figures: Figures
    min_cell_size: int
    keys: set[Key] = field(default_factory=set)


def fill_title(template: str, figures: Figures) -> str:
    """Titles only know the year and the structure (its code, or its name)."""
    return (
        template.replace("{year}", str(figures.year))
        .replace("{previous_year}", str(figures.year - 1))
        .replace("{structure_name}", figures.structure_name)
        .replace("{structure}", figures.structure)
    )


def render(template: str, figures: Figures, min_cell_size: int = 0) -> Paragraph | None:
    """The sentence, or None when a placeholder outside an optional part has no value."""
    ctx = _Context(figures, min_cell_size)
    try:
        text = OPTIONAL.sub(lambda m: _optional(m.group(1), ctx), template)
        text = PLACEHOLDER.sub(lambda m: _value(m.group(1), ctx), text)
    except Unavailable:
        return None
    return Paragraph(text=text, keys=frozenset(ctx.keys))


def _optional(part: str, ctx: _Context) -> str:
    local = _Context(ctx.figures, ctx.min_cell_size)
    try:
        text = PLACEHOLDER.sub(lambda m: _value(m.group(1), local), part)
    except Unavailable:
        return ""
    ctx.keys |= local.keys
    return text


def parse_source(body: str) -> Source:
    """`code|dim=Cat|dim2=A + B` -> Source (`*`: every category)."""
    code, *pairs = body.split("|")
    dims: list[tuple[str, tuple[str, ...]]] = []
    for pair in pairs:
        dim, _, cats = pair.partition("=")
        dims.append(
            (
                dim.strip(),
                () if cats.strip() == "*" else tuple(c.strip() for c in cats.split(MERGED)),
            )
        )
    (d1, c1), (d2, c2) = (dims + [(None, ()), (None, ())])[:2]
    return Source(code.strip(), None, d1, c1, d2, c2)


def _value(spec: str, ctx: _Context) -> str:
    figures = ctx.figures
    simple = {
        "year": str(figures.year),
        "previous_year": str(figures.year - 1),
        "structure": figures.structure,
    }
    if spec in simple:
        return simple[spec]
    previous = spec.endswith("@prev")
    spec = spec.removesuffix("@prev")
    if spec.startswith("list:"):
        return _list(parse_source(spec.removeprefix("list:")), ctx)
    if spec.startswith("%"):
        return fr_pct(_share(parse_source(spec[1:]), ctx, previous))
    if spec.startswith("+"):
        return fr_change(_change(parse_source(spec[1:]), ctx))
    if "/" in spec and "|" not in spec:
        return _ratio(spec, ctx)
    source = parse_source(spec)
    value = _figure(source, ctx, previous)
    if figures.entry(source.indicator).is_amount:
        return fr_amount(value, cents=has_cents(value))
    return fr_count(value)


def _is_margin(source: Source) -> bool:
    return bool(
        source.dimension_1
        and not source.categories_1
        or source.dimension_2
        and not source.categories_2
    )


def _figure(source: Source, ctx: _Context, previous: bool = False) -> Decimal:
    """A figure of Y (or Y-1); unavailable when absent or below the masking threshold."""
    figures = ctx.figures
    if previous and not figures.has_previous(source):
        raise Unavailable
    if not previous and (source.is_total or _is_margin(source)) and not figures.keys(source):
        raise Unavailable
    value = figures.sum(source, previous=previous)
    if source.is_total or _is_margin(source):
        return value
    if (
        ctx.min_cell_size
        and not figures.entry(source.indicator).is_amount
        and 0 < value < ctx.min_cell_size
    ):
        raise Unavailable
    if not previous:
        ctx.keys.update(figures.keys(source))
    return value


def _share(source: Source, ctx: _Context, previous: bool) -> int:
    part = _figure(source, ctx, previous)
    total = ctx.figures.total(source.indicator, previous=previous)
    pct = share_pct(part, total) if total is not None else None
    if pct is None:
        raise Unavailable
    return pct


def _change(source: Source, ctx: _Context) -> int:
    trend = ctx.figures.trend(source)
    if trend is None:
        raise Unavailable
    value, previous = trend
    if not source.is_total:
        _figure(source, ctx)  # records the cell (masking) or refuses it
        if ctx.min_cell_size and 0 < previous < ctx.min_cell_size:
            raise Unavailable
    pct = change_pct(value, previous)
    if pct is None:
        raise Unavailable
    return pct


def _ratio(spec: str, ctx: _Context) -> str:
    top, bottom = (ctx.figures.total(code.strip()) for code in spec.split("/", 1))
    if top is None or not bottom:
        raise Unavailable
    return fr_count((top / bottom).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _list(source: Source, ctx: _Context) -> str:
    """'Pacot-Vandracq : 69, Briqueterie : 68' over the source's categories."""
    keys = ctx.figures.keys(source)
    if not keys or source.dimension_1 is None:
        raise Unavailable
    order = ctx.figures.categories(source.indicator, source.dimension_1)
    keys.sort(key=lambda k: order.index(k[3]) if k[3] in order else len(order))
    parts = []
    for key in keys:
        single = Source(
            key[0], key[1], key[2], (key[3],) if key[3] else (), key[4], (key[5],) if key[5] else ()
        )
        parts.append(f"{key[3]}\u00a0: {fr_count(_figure(single, ctx))}")
    return ", ".join(parts)
