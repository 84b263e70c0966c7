"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from string import Template

from pipelines.reporting import svg
from pipelines.reporting.model import (
    MASK,
    Cell,
    Comparison,
    Paragraph,
    Report,
    Row,
    Section,
    Table,
    chart_kind,
)
from pipelines.reporting.numbers import fr_amount, fr_count, fr_pct, fr_signed_pct
from pipelines.reporting.safe import html_text as escape  # and control chars made visible

TEMPLATES = Path(__file__).resolve().parent / "templates"
ZERO = "/"
WIDE_TABLE_COLUMNS = 3  # more columns than this do not fit a phone's width
SCROLL_HINT = "Tableau large : faites-le défiler vers la droite →"


def write_html(reports: list[Report], path: Path, comparison: Comparison | None = None) -> Path:
    """The reports (one, or every structure's after the regional comparison) as one page."""
    regional = comparison is not None
    sections: list[tuple[str, str]] = []  # (anchor, heading)
    parts: list[str] = []
    if comparison is not None:
        sections.append(("comparaison", "Comparaison des structures"))
        parts.append(_comparison(comparison))
    for report in reports:
        for i, section in enumerate(report.sections, start=1):
            anchor = f"{report.structure}-{i}".lower()
            heading = (
                f"{report.name or report.structure} · {section.name}" if regional else section.name
            )
            sections.append((anchor, heading))
            parts.append(_section(section, anchor, heading, report))
    first = reports[0] if reports else None
    title = (
        f"Rapport d'activité {comparison.year} — vue régionale"
        if comparison
        else first.title
        if first
        else "Rapport d'activité"
    )
    page = Template((TEMPLATES / "page.html").read_text(encoding="utf-8")).substitute(
        title=escape(title),
        kicker="Observatoire des Missions Locales",
        css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        header_notes=_header_notes(reports),
        toc="\n".join(f'<li><a href="#{escape(a)}">{escape(h)}</a></li>' for a, h in sections),
        body="\n".join(parts),
        footer=escape(
            f"Chiffres lus dans l'entrepôt Observatoire (indicator_values, "
            f"indicator_trends) ; page produite le {date.today():%d/%m/%Y}."
        ),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _header_notes(reports: list[Report]) -> str:
    notes = {r.mask_note for r in reports if r.min_cell_size}
    return "".join(f'<p class="mask-note">{escape(n)}</p>' for n in sorted(notes))


# --- a section --------------------------------------------------------------------------------


def _section(section: Section, anchor: str, heading: str, report: Report) -> str:
    out = [f'<section class="report-section" id="{escape(anchor)}">', f"<h2>{escape(heading)}</h2>"]
    for block in section.blocks:
        if isinstance(block, Paragraph):
            out.append(f'<p class="sentence">{escape(block.text)}</p>')
        elif block.key_figures:
            out.append(_key_figures(block, report))
        else:
            out.append(_block(block))
    out.append("</section>")
    return "\n".join(out)


def _key_figures(table: Table, report: Report) -> str:
    """The section's totals as cards: value, label, Y-1 and change."""
    cards = []
    for row in table.rows:
        value, *rest = row.cells
        text = [
            f'<span class="kf-value">{_format(value)}</span>',
            f'<span class="kf-label">{escape(row.label)}</span>',
        ]
        if len(rest) == 2 and rest[0].value is not None:
            change = rest[1].value
            trend = (
                ""
                if change is None
                else (
                    f' · <span class="{"up" if change > 0 else "down" if change < 0 else ""}">'
                    f"{fr_signed_pct(int(change))}</span>"
                )
            )
            text.append(
                f'<span class="kf-previous">{report.year - 1} : {_format(rest[0])}{trend}</span>'
            )
        cards.append(f'<li class="kf">{"".join(text)}</li>')
    return f'<h3>Chiffres clés</h3><ul class="key-figures">{"".join(cards)}</ul>'


def _block(table: Table) -> str:
    chart = _chart(table)
    # a wide table takes the full width, its chart below it; a narrow one sits beside it
    side_by_side = chart and len(table.columns) <= 5
    classes = "block with-chart" if side_by_side else "block wide" if chart else "block"
    return f'<div class="{classes}">{_table(table)}{chart}</div>'


def _table(table: Table) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in table.columns)
    rows = []
    for row in table.rows:
        cells = "".join(_td(c) for c in row.cells)
        css = ' class="total"' if row.total else ""
        rows.append(f'<tr{css}><th scope="row">{escape(row.label)}</th>{cells}</tr>')
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    # wider than a phone: the page says it scrolls sideways (shown on narrow screens only)
    wide = len(table.columns) > WIDE_TABLE_COLUMNS
    hint = f'<p class="scroll-hint" aria-hidden="true">{SCROLL_HINT}</p>' if wide else ""
    wrap = "table-wrap wide-table" if wide else "table-wrap"
    return (
        f'<figure class="table-box"><div class="{wrap}"><table>'
        f"<caption>{escape(table.title)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>{hint}{note}</figure>"
    )


def _td(cell: Cell) -> str:
    if cell.masked:
        return f'<td class="masked" title="secret statistique">{MASK}</td>'
    return f"<td>{_format(cell)}</td>"


def _format(cell: Cell) -> str:
    """A cell as the report prints it: '3 750', '/', '2 120,15 €', '52 %', '+9 %'."""
    if cell.masked:
        return MASK
    if cell.value is None:
        return ""
    if cell.kind == "share":
        return fr_pct(int(cell.value))
    if cell.kind == "change":
        return fr_signed_pct(int(cell.value))
    if Decimal(cell.value) == 0:
        return ZERO
    if cell.kind == "amount":
        return fr_amount(cell.value, cents=cell.cents)
    return fr_count(cell.value)


# --- charts -----------------------------------------------------------------------------------


def _chart(table: Table) -> str:
    """The table's chart, every number printed as the table prints it (the mask included)."""
    spec = table.chart
    if spec is None or not table.body or not spec.columns:
        return ""
    body = table.body
    labels = [r.label for r in body]
    series = [
        svg.Series(
            table.columns[j],
            [_number(r.cells[j - 1]) for r in body],
            [_format(r.cells[j - 1]) for r in body],
        )
        for j in spec.columns
    ]
    kind = chart_kind(table)
    if kind == "pie":
        shares = [next((_format(c) for c in r.cells if c.kind == "share"), None) for r in body]
        drawing = svg.donut_chart(spec.title, labels, series[0], shares)
    elif kind == "bar":
        drawing = svg.bar_chart(spec.title, labels, series[0])
    elif kind == "stacked":
        drawing = svg.stacked_chart(spec.title, labels, series, [_row_total(r) for r in body])
    else:
        drawing = svg.column_chart(spec.title, labels, series)
    return (
        f'<figure class="chart-box"><figcaption>{escape(spec.title)}</figcaption>{drawing}</figure>'
    )


def _row_total(row: Row) -> tuple[float | None, str]:
    """A row's total as its table prints it (a margin is never masked), for a stacked bar."""
    total = next((c for c in reversed(row.cells) if c.total), None)
    if total is not None:
        return _number(total), _format(total)
    if any(c.masked for c in row.cells):
        return None, MASK
    value = sum(float(c.value or 0) for c in row.cells if c.kind in ("count", "amount"))
    return value, _format(
        Cell(value=Decimal(str(value)), kind=row.cells[0].kind, cents=row.cells[0].cents)
    )


def _number(cell: Cell) -> float | None:
    return None if cell.masked or cell.value is None else float(cell.value)


# --- the regional comparison ------------------------------------------------------------------


def _comparison(comparison: Comparison) -> str:
    return (
        '<section class="report-section" id="comparaison">'
        "<h2>Comparaison des structures</h2>"
        f'<p class="sentence">Principaux chiffres {comparison.year} de chaque structure '
        "présente dans l'entrepôt, et leur somme.</p>"
        f"{_block(comparison.table)}</section>"
    )
