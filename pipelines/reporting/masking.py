"""Small-cell masking of a published report (warehouse.md, *Personal data*: `min_cell_size`).

Primary masking: every printed count from 1 to `min_cell_size - 1` is replaced by the mark
(zeros stay: a zero describes nobody). Amounts follow their counts: the euros of a commune ×
aid type whose number of young people (or files) is masked, or small, are masked.

Secondary masking: a masked cell must not be recoverable by subtraction. Every table declares
its *lines*, the groups of cells that add up to a printed total (each value column of a
table with a total line, each row and column of a grid). A line with exactly one masked cell
gets a second one, the smallest other cell of the line (a non-zero one first); this repeats
until no line has exactly one masked cell. Totals and margins are never masked, nor is a
figure printed as a total in another table (it is public there: masking it would hide nothing).

Masking is decided per warehouse row, not per printed cell: a row masked in one table is
masked wherever it is printed (and its sentences are left out), and the lines of every table
are checked again, so a figure printed twice cannot be read in its other table.
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.reporting.figures import Figures, Key
from pipelines.reporting.model import Cell, Paragraph, Report, Table


def apply_masking(
    report: Report, figures: Figures, min_cell_size: int, follow: dict[str, list[str]]
) -> int:
    """Mask the report's cells in place; returns the number of masked cells."""
    if min_cell_size <= 0:
        return 0
    every = [c for t in report.tables for r in t.rows for c in r.cells]
    # a figure printed as a total somewhere is public: masking it elsewhere would hide nothing
    # (a margin adds several rows: it makes none of them public)
    public = {c.keys[0] for c in every if c.total and len(c.keys) == 1}

    def hideable(cell: Cell) -> bool:
        return cell.maskable and not public.issuperset(cell.keys)

    cells = [c for c in every if hideable(c)]
    masked: set[Key] = {k for c in cells if _small(c, min_cell_size) for k in c.keys} - public
    lines = [[c for c in line if hideable(c)] for t in report.tables for line in t.lines]
    while _follow_counts(cells, masked, figures, min_cell_size, follow, public) | _secondary(
        lines, masked, public
    ):
        pass
    for table in report.tables:
        _mark(table, masked, hideable)
    for section in report.sections:
        section.blocks = [
            b for b in section.blocks if not (isinstance(b, Paragraph) and b.keys & masked)
        ]
    return sum(c.masked for c in cells)


def _small(cell: Cell, min_cell_size: int) -> bool:
    return cell.kind == "count" and 0 < (cell.value or 0) < min_cell_size


def _is_masked(cell: Cell, masked: set[Key]) -> bool:
    return not masked.isdisjoint(cell.keys)


def _follow_counts(
    cells: list[Cell],
    masked: set[Key],
    figures: Figures,
    min_cell_size: int,
    follow: dict[str, list[str]],
    public: set[Key],
) -> bool:
    """Mask the amounts whose counts (same commune and categories) are masked or small."""
    grown = False
    for cell in cells:
        if cell.kind != "amount" or _is_masked(cell, masked):
            continue
        for key in cell.keys:
            counts = [(code, *key[1:]) for code in follow.get(key[0], [])]
            if any(k in masked or 0 < figures.values.get(k, 0) < min_cell_size for k in counts):
                masked.update(set(cell.keys) - public)
                grown = True
                break
    return grown


def _secondary(lines: list[list[Cell]], masked: set[Key], public: set[Key]) -> bool:
    """Give every line with exactly one masked cell a second one."""
    grown = False
    for line in lines:
        hidden = [c for c in line if _is_masked(c, masked)]
        if len(hidden) != 1:
            continue
        candidates = [c for c in line if not _is_masked(c, masked)]
        if not candidates:
            continue  # a line of one cell equals its total: nothing can protect it
        # the smallest non-zero cell costs the least information; a zero only if no other
        pick = min(candidates, key=lambda c: (c.value == 0, c.value or 0))
        masked.update(set(pick.keys) - public)
        grown = True
    return grown


def _mark(table: Table, masked: set[Key], hideable: Callable[[Cell], bool]) -> None:
    for row in table.rows:
        for cell in row.cells:
            if hideable(cell):
                cell.masked = _is_masked(cell, masked)
        for cell in row.cells:
            if cell.share_of is not None:
                cell.masked = cell.share_of.masked
    if table.sort_desc:
        # sorted by value, a masked row's place would tell its size: masked rows go last
        body = [r for r in table.body if not r.cells[0].masked]
        hidden = [r for r in table.body if r.cells[0].masked]
        totals = [r for r in table.rows if r.total]
        table.rows = body + sorted(hidden, key=lambda r: r.label) + totals
