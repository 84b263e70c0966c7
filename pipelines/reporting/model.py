"""What a report says, independent of how it is written (Excel workbook, HTML page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pipelines.reporting.figures import Key, Source

MASK = "*"  # printed in place of a masked cell, in every format


@dataclass(eq=False)
class Cell:
    """One printed figure. `kind`: count, amount, share (a whole percent), change (a whole
    percent). Totals and margins are never masked; a share is masked with its count."""

    value: Decimal | int | None
    kind: str = "count"
    source: Source | None = None
    keys: tuple[Key, ...] = ()
    total: bool = False
    cents: bool = False
    share_of: Cell | None = None
    masked: bool = False
    structure: str | None = None  # set on the regional comparison's cells

    @property
    def maskable(self) -> bool:
        return not self.total and self.kind in ("count", "amount") and bool(self.keys)


@dataclass(eq=False)
class Row:
    label: str
    cells: list[Cell]
    total: bool = False


@dataclass
class Chart:
    """A chart of a table's body rows. `kind`: bar (horizontal), col (vertical), stacked
    (horizontal, stacked), pie. `columns`: the value columns drawn (1-based, after labels)."""

    kind: str
    title: str
    columns: list[int]


@dataclass(eq=False)
class Table:
    title: str
    columns: list[str]  # headers, the label column first
    rows: list[Row]
    lines: list[list[Cell]] = field(default_factory=list)  # groups that add up to a total
    chart: Chart | None = None
    note: str | None = None
    sort_desc: bool = False  # body rows by decreasing value (masked rows last)
    key_figures: bool = False  # a section's totals (cards in HTML)

    @property
    def body(self) -> list[Row]:
        return [r for r in self.rows if not r.total]


def chart_kind(table: Table) -> str:
    """The chart's kind; a pie with a masked slice becomes bars (the slices shown would fill
    the whole pie and overstate their shares), in the workbook as on the page."""
    spec = table.chart
    assert spec is not None
    if spec.kind == "pie" and any(r.cells[j - 1].masked for r in table.body for j in spec.columns):
        return "bar"
    return spec.kind


@dataclass(eq=False)
class Paragraph:
    """A sentence of the report; dropped when it would reveal a masked cell."""

    text: str
    keys: frozenset[Key] = frozenset()
    headline: bool = False


Block = Table | Paragraph


@dataclass
class Section:
    name: str
    blocks: list[Block]

    @property
    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]


@dataclass
class Report:
    """One structure's report for one year."""

    structure: str
    year: int
    title: str
    sections: list[Section]
    min_cell_size: int = 0
    masked_cells: int = 0
    mask_note: str = ""
    name: str = ""  # the structure's name (structure.yaml), else its code

    @property
    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]


@dataclass
class Comparison:
    """The regional view: main totals per indicator, one column per structure."""

    year: int
    structures: list[str]
    table: Table
    reports: list[Report]
