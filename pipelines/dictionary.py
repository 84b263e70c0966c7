"""The data dictionary: every column of every warehouse table, its meaning and an example.

Built from the tables (pipelines/tables.py), the export layouts (config/exports.yaml), the
indicator catalogue (config/indicators.yaml) and the meanings of config/dictionary.yaml.
`python -m pipelines.dictionary` writes docs/data-dictionary.md; the `data_dictionary` asset
writes the same rows to the warehouse table `data_dictionary` at each run.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from pipelines import tables as t
from pipelines.compute import catalogue
from pipelines.config import CONFIG_DIR, PROJECT_ROOT, export_specs
from pipelines.config_files import TEXT, Node, read_yaml
from pipelines.warehouse import Warehouse

DOC_PATH = PROJECT_ROOT / "docs" / "data-dictionary.md"
LAYERS = {
    None: "Tables du contrat (schéma par défaut : main / public)",
    t.MARTS: "marts : le détail derrière les chiffres",
    t.CONFORMED: "conformed : tables propres et typées",
    t.STAGING: "staging : les exports tels que lus",
}


@dataclass(frozen=True)
class Entry:
    table_name: str
    position: int
    column_name: str
    data_type: str
    nullable: bool
    meaning: str
    example: str | None


class UndocumentedError(ValueError):
    """Tables or columns without a meaning in config/dictionary.yaml."""


@dataclass(frozen=True)
class Meaning:
    meaning: str
    example: str | None = None


@dataclass(frozen=True)
class Meanings:
    """config/dictionary.yaml, typed (its header says how a column finds its meaning)."""

    tables: dict[str, str]
    columns: dict[str, Meaning]
    table_columns: dict[str, Meaning]
    staging_examples: dict[str, str]
    dimensions: dict[str, Meaning]  # meaning: the dimension's label


_MEANING = "une table {meaning, example} est attendue"


def _meanings_of(node: Node | None) -> dict[str, Meaning]:
    out = {}
    for name, entry in (
        node.items("une table colonne -> {meaning, example} est attendue") if node else []
    ):
        example = entry.mapping(_MEANING).get("example")
        out[name] = Meaning(
            entry.key("meaning", "le sens de la colonne (texte) est attendu").strict_text(),
            example.text() if example else None,
        )
    return out


@cache
def meanings(config_dir: Path = CONFIG_DIR) -> Meanings:
    """config/dictionary.yaml, typed; a mistyped entry is refused naming its key."""
    doc = read_yaml(config_dir / "dictionary.yaml")
    dimensions = {}
    examples, dims = doc.get("staging_examples"), doc.get("dimensions")
    for name, node in dims.items() if dims else []:
        if isinstance(node.value, dict):
            example = node.get("example")
            dimensions[name] = Meaning(
                node.key("label", TEXT).strict_text(), example.text() if example else None
            )
        else:
            dimensions[name] = Meaning(
                node.strict_text("un libellé ou une table {label, example} est attendu")
            )
    return Meanings(
        tables={
            name: node.strict_text()
            for name, node in doc.key("tables", "une table nom -> description est attendue").items()
        },
        columns=_meanings_of(doc.get("columns")),
        table_columns=_meanings_of(doc.get("table_columns")),
        staging_examples={name: node.text() for name, node in examples.items()} if examples else {},
        dimensions=dimensions,
    )


def tables() -> list[sa.Table]:
    """Every warehouse table, by layer (contract tables first), then as dictionary.yaml lists
    them."""
    order = list(meanings().tables)
    rank = {schema: i for i, schema in enumerate(LAYERS)}
    return sorted(
        t.metadata.sorted_tables,
        key=lambda tb: (
            rank.get(tb.schema, len(rank)),
            order.index(tb.fullname) if tb.fullname in order else len(order),
            tb.fullname,
        ),
    )


def data_type(column: sa.Column) -> str:
    text = str(column.type).lower().replace(", ", ",")
    return {"datetime": "timestamp", "float": "double"}.get(text, text)


def describe(table: sa.Table, column: sa.Column) -> tuple[str, str | None] | None:
    """(meaning, example) of a column, None when nothing documents it."""
    cfg = meanings()
    own = cfg.table_columns.get(f"{table.fullname}.{column.name}")
    if own:
        return own.meaning, own.example
    if table.schema == t.STAGING and table.name in export_specs():
        spec = export_specs()[table.name]
        col = next((c for c in spec.columns if c.name == column.name), None)
        if col is not None:
            how = (
                "remplacé par son pseudonyme (HMAC-SHA256)"
                if col.kind == "young_id"
                else "tel que saisi (texte)"
            )
            return (
                f"Colonne « {col.header} » de l'export {spec.label}, {how}.",
                cfg.staging_examples.get(column.name),
            )
    if table is t.indicator_units and column.name in t.DIMENSIONS:
        dimension = cfg.dimensions.get(column.name)
        if dimension:
            label = dimension.meaning
            categories = catalogue().dimensions.get(column.name)
            example = (
                categories[0] if isinstance(categories, list) and categories else dimension.example
            )
            return (
                f"Catégorie de l'unité pour la dimension {column.name} ({label}) ; vide "
                f"quand l'indicateur ne ventile pas par cette dimension.",
                example,
            )
    shared = cfg.columns.get(column.name)
    if shared:
        return shared.meaning, shared.example
    return None


def entries() -> list[Entry]:
    """The dictionary's rows; raises UndocumentedError naming every table or column that
    config/dictionary.yaml does not document."""
    missing = [f"table {tb.fullname}" for tb in tables() if tb.fullname not in meanings().tables]
    rows = []
    for table in tables():
        for position, column in enumerate(table.columns, start=1):
            found = describe(table, column)
            if found is None:
                missing.append(f"{table.fullname}.{column.name}")
                continue
            rows.append(
                Entry(
                    table.fullname,
                    position,
                    column.name,
                    data_type(column),
                    bool(column.nullable),
                    *found,
                )
            )
    if missing:
        raise UndocumentedError(
            "sans description dans config/dictionary.yaml (ajoutez-y "
            "leur sens, puis lancez `python -m pipelines.dictionary`) : " + ", ".join(missing)
        )
    return rows


def frame() -> pd.DataFrame:
    return pd.DataFrame([asdict(e) for e in entries()])


def write_dictionary(warehouse: Warehouse) -> int:
    """Replace the `data_dictionary` table's rows (one transaction)."""
    with warehouse.transaction() as conn:
        conn.execute(t.data_dictionary.delete())
        return warehouse.insert_frame(conn, t.data_dictionary, frame())


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    rows = entries()
    by_table: dict[str, list[Entry]] = {}
    for e in rows:
        by_table.setdefault(e.table_name, []).append(e)
    described = meanings().tables
    lines = [
        "# Dictionnaire des données",
        "",
        "<!-- Generated by `python -m pipelines.dictionary` from pipelines/tables.py,",
        "     config/dictionary.yaml, config/exports.yaml and config/indicators.yaml:",
        "     edit those, not this page. -->",
        "",
        "Chaque table et chaque colonne de l'entrepôt publié (`warehouse/observatoire.duckdb`",
        "ou la base PostgreSQL), avec son sens et un exemple (illustratif, jamais une donnée",
        "réelle). La même information est dans l'entrepôt, table `data_dictionary` :",
        "",
        "```sql",
        "SELECT column_name, data_type, meaning, example FROM data_dictionary",
        "WHERE table_name = 'indicator_values' ORDER BY position;",
        "```",
        "",
        "Les chiffres sont dans `indicator_values` (un chiffre par ligne), leurs évolutions",
        "dans `indicator_trends`, les indicateurs dans `indicator_catalogue`. Les vues",
        "`conformed.young_people`, `conformed.contact_events`, `conformed.counted_situations`",
        "et `conformed.granted_aids` donnent les mots des règles de comptage (indicators.md).",
        "",
    ]
    for schema, title in LAYERS.items():
        names = [tb.fullname for tb in tables() if tb.schema == schema]
        if not names:
            continue
        lines += [f"## {title}", ""]
        lines += [f"- [`{n}`](#{n.replace('.', '')}) : {described[n]}" for n in names]
        lines.append("")
        for name in names:
            lines += [
                f"### {name}",
                "",
                described[name],
                "",
                "| colonne | type | vide possible | sens | exemple |",
                "|---|---|---|---|---|",
            ]
            for e in by_table[name]:
                example = f"`{_cell(e.example)}`" if e.example else ""
                lines.append(
                    f"| `{e.column_name}` | {e.data_type} | "
                    f"{'oui' if e.nullable else 'non'} | {_cell(e.meaning)} | "
                    f"{example} |"
                )
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Write docs/data-dictionary.md (or the path given)."""
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else DOC_PATH
    path.write_text(render_markdown(), encoding="utf-8")
    print(f"{path} : {len(entries())} colonnes décrites")
    return 0


if __name__ == "__main__":
    sys.exit(main())
