"""Finding a file's header row and recognising its export type.

Implements `shared/contract/exports.md`, *Recognising a file* and *Headers*: a header row
is looked for among the first non-empty rows (up to 10 title lines above it) and
recognised as one of the export types of `config/exports.yaml` by its columns' names and
aliases (folded: case, accents and spacing do not count).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.config import ExportSpec, export_specs, fold

MAX_TITLE_LINES = 10
HEADER_SCAN_ROWS = MAX_TITLE_LINES + 1  # non-empty rows looked at for the header

WHAT_TO_DO_HEADER = (
    "vérifiez que c'est bien un export i-milo ; si c'est le cas, ajoutez les en-têtes qu'il "
    "emploie comme alias dans config/exports.yaml et relancez"
)


def type_name(spec: ExportSpec) -> str:
    """An export type as a person reads it: its label, then the name config/exports.yaml
    gives it (where aliases are added)."""
    return f"« {spec.label} » ({spec.name})"


def _columns(headers: tuple[str, ...]) -> str:
    """Missing required columns, singular or plural."""
    quoted = ", ".join(f"« {h} »" for h in headers)
    return (
        f"la colonne obligatoire {quoted}"
        if len(headers) == 1
        else f"les colonnes obligatoires {quoted}"
    )


@dataclass(frozen=True)
class _TypeMatch:
    spec: ExportSpec
    columns: dict[str, int]  # canonical column -> index in the row
    missing: tuple[str, ...]  # contract header names of the missing required columns

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class _Recognition:
    export_type: str | None
    columns: dict[str, int]
    explanation: str
    tied: tuple[str, ...] = ()
    nearest: _TypeMatch | None = None  # when no type matches

    @property
    def found_type(self) -> bool:
        """A row holding every required column of some type (even if tied)."""
        return self.export_type is not None or bool(self.tied)

    def closeness(self) -> tuple[int, int]:
        """Sort key of a non-matching row: fewest required columns missing, most found."""
        if self.nearest is None:
            return (0, 0)
        return (len(self.nearest.missing), -len(self.nearest.columns))


def _match_type(spec: ExportSpec, folded: list[str]) -> _TypeMatch:
    used: set[int] = set()
    columns: dict[str, int] = {}
    for col in spec.columns:
        for name in col.folded_names:
            index = next((i for i, f in enumerate(folded) if f == name and i not in used), None)
            if index is not None:
                columns[col.name] = index
                used.add(index)
                break
    missing = tuple(c.header for c in spec.required if c.name not in columns)
    return _TypeMatch(spec=spec, columns=columns, missing=missing)


def _recognise(headers: Iterable[object]) -> _Recognition:
    folded = [fold(h) if h is not None else "" for h in headers]
    matches = [_match_type(spec, folded) for spec in export_specs().values()]
    complete = [m for m in matches if m.complete]
    if complete:
        best = max(len(m.columns) for m in complete)
        winners = [m for m in complete if len(m.columns) == best]
        if len(winners) > 1:
            names = tuple(m.spec.name for m in winners)
            return _Recognition(
                export_type=None,
                columns={},
                explanation=(
                    f"la ligne d'en-tête correspond autant à plusieurs types d'export, avec "
                    f"{best} colonnes chacun : {', '.join(type_name(m.spec) for m in winners)} ; "
                    "impossible de savoir lequel ; supprimez ou renommez les colonnes ambiguës "
                    "dans le fichier, ou rendez les alias de config/exports.yaml plus précis, "
                    "puis relancez"
                ),
                tied=names,
            )
        win = winners[0]
        others = [f"{type_name(m.spec)} ({len(m.columns)})" for m in complete if m is not win]
        explanation = (
            f"reconnu comme {type_name(win.spec)} : {len(win.columns)} de ses "
            f"{len(win.spec.columns)} colonnes trouvées"
        )
        if others:
            explanation += (
                f" ; aurait aussi pu être {', '.join(others)}, avec moins de colonnes trouvées"
            )
        return _Recognition(win.spec.name, dict(win.columns), explanation)
    nearest = min(matches, key=lambda m: (len(m.missing), -len(m.columns)))
    return _Recognition(
        export_type=None,
        columns={},
        explanation=(
            f"aucun type d'export reconnu ; le plus proche est {type_name(nearest.spec)}, "
            f"auquel il manque {_columns(nearest.missing)}"
        ),
        nearest=nearest,
    )


def recognise(headers: list[str]) -> tuple[str | None, dict[str, int], str]:
    """Recognise the export type of a header row (exports.md, *Recognising a file*).

    Returns (export type or None, canonical column -> index in `headers`, explanation).
    A type matches when every one of its required columns is found; among several, the
    one with the most of its listed columns found wins (personal and text columns count);
    a tie gives None and names the tied types; no match gives None and names the nearest
    type (fewest required columns missing) with its missing columns' contract headers.
    The mapping holds every column found, personal ones included.
    """
    r = _recognise(headers)
    return r.export_type, r.columns, r.explanation


@dataclass(frozen=True)
class Header:
    index: int  # index of the row in the table's columns
    cells: list[str | None]
    recognition: _Recognition


def find_header(rows: Iterable[tuple[int, list[str | None]]]) -> Header | None:
    """The first of the first 11 non-empty rows that holds a type's required columns.

    Without one, the row closest to a type (to explain what is missing). None when every
    row is empty.
    """
    best: Header | None = None
    seen = 0
    for index, cells in rows:
        if not any(c is not None and str(c).strip() for c in cells):
            continue
        seen += 1
        header = Header(index, cells, _recognise(cells))
        if header.recognition.found_type:
            return header
        if best is None or header.recognition.closeness() < best.recognition.closeness():
            best = header
        if seen >= HEADER_SCAN_ROWS:
            break
    return best


def describe_nearest(header: Header, sheet: str | None, row_number: int) -> str:
    """What the row closest to a type lacks, and where it is."""
    nearest = header.recognition.nearest
    assert nearest is not None
    return (
        f"{where(sheet, row_number)} : le type le plus proche est {type_name(nearest.spec)}, "
        f"auquel il manque {_columns(nearest.missing)}"
    )


def where(sheet: str | None, row_number: int) -> str:
    """A place in a file as a person reads it (a CSV has no sheet)."""
    if sheet is None:
        return f"ligne {row_number}"
    return f"feuille « {sheet} », ligne {row_number}"
