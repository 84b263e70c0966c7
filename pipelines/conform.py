"""Conform stage: validated rows -> the clean tables analysts read (schema `conformed`).

Resolves each young person's commune against the structure's territory, writes labels kept
as typed in their most frequent spelling, derives the flags the counting rules use (an event
that is a contact, an interview, a situation that counts, a granted aid) and keeps where
every row came from (`source_file`, `source_sheet`, `source_row`, `row_key`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import pandas as pd

from pipelines.cells import most_frequent_spelling
from pipelines.config import (
    HORS_TERRITOIRE,
    NON_RENSEIGNEE,
    Structure,
    codes,
    fold,
)
from pipelines.frames import none_where_not
from pipelines.tables import conformed_tables, ingested_files
from pipelines.validate import SOURCE, TypeResult


def resolve_communes(structure: Structure, insee: pd.Series, name: pd.Series) -> pd.DataFrame:
    """commune_insee and commune label of each young person (exports.md, *Folder layout*).

    The INSEE code wins when present; else the folded name is compared with the territory's
    names. Outside the territory: `Hors territoire` (99999); code and name both empty:
    `Non renseignée` (00000).
    """
    by_code = {c.insee: c for c in structure.territory}
    by_name = {fold(c.name): c for c in structure.territory}

    def resolve(code: object, typed: object) -> tuple[str, str]:
        if isinstance(code, str) and code:
            c = by_code.get(code)
            return (c.insee, c.name) if c else HORS_TERRITOIRE
        folded = fold(typed) if isinstance(typed, str) else ""
        if not folded:
            return NON_RENSEIGNEE
        c = by_name.get(folded)
        return (c.insee, c.name) if c else HORS_TERRITOIRE

    pairs = pd.DataFrame({"insee": insee, "name": name}).astype(object)
    pairs = none_where_not(pairs, pairs.notna())
    keys = list(zip(pairs["insee"], pairs["name"], strict=True))
    cache = {k: resolve(*k) for k in set(keys)}
    resolved = [cache[k] for k in keys]
    return pd.DataFrame(resolved, columns=["commune_insee", "commune"], index=insee.index)


def row_keys(frame: pd.DataFrame) -> pd.Series:
    """A readable key of the source row: `file#sheet!row` (lineage from a unit to its row)."""
    sheet = frame["source_sheet"].fillna("")
    return frame["source_file"] + "#" + sheet + "!" + frame["source_row"].astype(str)


def _columns_of(name: str) -> list[str]:
    return [c.name for c in conformed_tables[name].columns]


def _partition(frame: pd.DataFrame, structure: str, year: int) -> pd.DataFrame:
    frame.insert(0, "structure", structure)
    frame.insert(1, "year", year)
    return frame


def conform_jeunes(result: TypeResult, structure: Structure, year: int) -> pd.DataFrame:
    v = result.valid.copy()
    insee = v["commune_insee"] if "commune_insee" in v else pd.Series(None, index=v.index)
    communes = resolve_communes(structure, insee, v["commune_name"])
    out = pd.DataFrame(
        {
            "young_id": v["young_id"],
            "sex": v["sex"],
            "birth_date": v["birth_date"].dt.date,
            "commune_insee": communes["commune_insee"],
            "commune": communes["commune"],
            "commune_as_typed": v["commune_name"],
            "qpv": most_frequent_spelling(v["qpv"]),
            "qualification": v["qualification"],
            "first_reception_date": v["first_reception_date"].dt.date,
            "rqth": v["rqth"].astype(bool),
            "driving_licence": v["driving_licence"].astype(bool),
            "housing": v["housing"],
        }
    )
    out[SOURCE] = v[SOURCE]
    out = none_where_not(out.astype(object), out.notna())
    return _partition(out, structure.code, year)[_columns_of("jeunes")]


def conform_evenements(result: TypeResult, structure: str, year: int) -> pd.DataFrame:
    v = result.valid
    rules = codes()
    out = pd.DataFrame(
        {
            "row_key": row_keys(v),
            "event_id": v["event_id"],
            "young_id": v["young_id"],
            "event_date": v["event_date"].dt.date,
            "event_type": v["event_type_as_typed"].astype(str).str.strip(),
            "contact_type": v["event_type"],
            "is_interview": v["event_type"].isin(rules.interview_contact_types),
            "status": v["status"],
            # an empty status counts as a contact (indicators.md, "event")
            "is_contact": v["status"].isna() | v["status"].isin(rules.event_status_contact),
            "theme": v["theme"],
            "place": v["place"],
        }
    )
    out[SOURCE] = v[SOURCE]
    return _partition(out, structure, year)[_columns_of("evenements")]


def conform_propositions(result: TypeResult, structure: str, year: int) -> pd.DataFrame:
    v = result.valid
    out = pd.DataFrame(
        {
            "row_key": row_keys(v),
            "proposal_id": v["proposal_id"],
            "young_id": v["young_id"],
            "proposal_date": v["proposal_date"].dt.date,
            "theme": v["theme"],
            "theme_as_typed": v["theme_as_typed"].astype(str).str.strip(),
            "state": v["state"],
            "action_code": v["action_code"],
            "action_label": v["action_label"],
        }
    )
    out[SOURCE] = v[SOURCE]
    return _partition(out, structure, year)[_columns_of("propositions")]


def conform_situations(result: TypeResult, structure: str, year: int) -> pd.DataFrame:
    v = result.valid
    rules = codes()
    out = pd.DataFrame(
        {
            "row_key": row_keys(v),
            "situation_id": v["situation_id"],
            "young_id": v["young_id"],
            "category": v["category"],
            "category_as_typed": v["category_as_typed"].astype(str).str.strip(),
            "nature": v["nature"],
            "nature_as_typed": v["nature_as_typed"],
            "detail": v["detail"],
            "is_pec": v["is_pec"].astype(bool),
            "start_date": v["start_date"].dt.date,
            "end_date": v["end_date"].dt.date,
            "rome_domain": v["rome_domain"],
            "state": v["state"],
            "is_counted": (
                ~v["state"].isin(rules.situation_state_not_counted)
                & ~v["category"].isin(rules.situation_category_not_counted)
            ),
            "ml_implemented": v["ml_implemented"].map(lambda x: x is True),
            "prepared_level": v["prepared_level"],
        }
    )
    out[SOURCE] = v[SOURCE]
    out = none_where_not(out.astype(object), out.notna())
    return _partition(out, structure, year)[_columns_of("situations")]


def conform_dispositifs(result: TypeResult, structure: str, year: int) -> pd.DataFrame:
    v = result.valid
    out = pd.DataFrame(
        {
            "row_key": row_keys(v),
            "young_id": v["young_id"],
            "programme": most_frequent_spelling(v["programme"]),
            "entry_date": v["entry_date"].dt.date,
            "exit_date": v["exit_date"].dt.date,
            "exit_reason": v["exit_reason"],
        }
    )
    out[SOURCE] = v[SOURCE]
    out = none_where_not(out.astype(object), out.notna())
    return _partition(out, structure, year)[_columns_of("dispositifs")]


def conform_aides(result: TypeResult, structure: str, year: int) -> pd.DataFrame:
    v = result.valid
    out = pd.DataFrame(
        {
            "row_key": row_keys(v),
            "aid_id": v["aid_id"],
            "young_id": v["young_id"],
            "aid_type": most_frequent_spelling(v["aid_type"]),
            "aid_date": v["aid_date"].dt.date,
            # cents -> exact decimal euros (never a float: totals must be right to the cent)
            "amount": v["amount"].map(lambda cents: Decimal(int(cents)) / 100),
            "status": v["status"],
            # an empty status counts as granted (indicators.md, "granted aid")
            "is_granted": v["status"].isna() | v["status"].isin(codes().aid_status_granted),
        }
    )
    out[SOURCE] = v[SOURCE]
    return _partition(out, structure, year)[_columns_of("aides")]


CONFORMERS = {
    "evenements": conform_evenements,
    "propositions": conform_propositions,
    "situations": conform_situations,
    "dispositifs": conform_dispositifs,
    "aides": conform_aides,
}


def conform_partition(
    results: dict[str, TypeResult], structure: Structure, year: int
) -> dict[str, pd.DataFrame]:
    """Every conformed table of a partition (empty frames for types the partition lacks)."""
    tables = {"jeunes": conform_jeunes(results["jeunes"], structure, year)}
    for name, conform in CONFORMERS.items():
        if name in results:
            tables[name] = conform(results[name], structure.code, year)
        else:
            tables[name] = pd.DataFrame(columns=_columns_of(name))
    return tables


def communes_frame(structure: Structure) -> pd.DataFrame:
    """The structure's territory in report order (conformed.communes)."""
    return pd.DataFrame(
        [(structure.code, c.insee, c.name, i) for i, c in enumerate(structure.territory, 1)],
        columns=["structure", "commune_insee", "commune", "position"],
    )


def ingested_files_frame(
    results: dict[str, TypeResult],
    sheets: pd.DataFrame,
    files: pd.DataFrame,
    structure: str,
    year: int,
    loaded_at: pd.Timestamp,
) -> pd.DataFrame:
    """One row per file and export type: rows read = loaded + rejected + merged repeats."""
    sha = dict(zip(files["file"], files["sha256"], strict=True))
    read = sheets.groupby(["file", "export_type"])["rows_read"].sum()
    outcomes = (
        pd.concat(
            [
                pd.DataFrame({"file": r.row_files, "export_type": name, "status": r.row_status})
                for name, r in results.items()
            ],
            ignore_index=True,
        )
        if results
        else pd.DataFrame(columns=["file", "export_type", "status"])
    )
    counts = outcomes.groupby(["file", "export_type", "status"]).size()
    rows = []
    for key, rows_read in read.items():
        file, export_type = cast(tuple[str, str], key)

        def count(status: str, file: str = file, export_type: str = export_type) -> int:
            return int(counts.get((file, export_type, status), 0))

        rows.append(
            {
                "structure": structure,
                "year": year,
                "file": file,
                "sha256": sha.get(file, ""),
                "export_type": export_type,
                "rows_read": int(rows_read),
                "rows_loaded": count("loaded"),
                "rows_rejected": count("rejected"),
                "loaded_at": loaded_at,
            }
        )
    return pd.DataFrame(rows, columns=[c.name for c in ingested_files.columns])
