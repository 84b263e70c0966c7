"""Configuration read from data files: export layouts, code lists, structures.

Everything a Mission Locale may need to adapt (header aliases, code spellings, its
territory) lives in YAML under `config/` or `raw/<STRUCTURE>/structure.yaml`, never in code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.config_files import TEXT, Node, parse_yaml, read_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"

HORS_TERRITOIRE = ("99999", "Hors territoire")
NON_RENSEIGNEE = ("00000", "Non renseignée")
NON_RENSEIGNE = "Non renseigné"

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(value: object) -> str:
    """Fold a header or code for comparison (exports.md, *Headers*).

    Lower case, accents removed, œ→oe, æ→ae, every run of characters that are not
    letters or digits into one space, trimmed.
    """
    if value is None:
        return ""
    return _fold_text(str(value))


@lru_cache(maxsize=1 << 16)
def _fold_text(text: str) -> str:
    # The same headers and codes come back on every file and row: ≈ 20 k calls a partition.
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", text).strip()


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    header: str
    kind: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    codes: str | None = None
    # the value as typed is kept beside its code (`<name>_as_typed`): conformed tables show it
    as_typed: bool = False
    # an unknown value counts as `Non renseigné` with a warning instead of rejecting the row
    unknown_is_missing: bool = False

    @property
    def folded_names(self) -> tuple[str, ...]:
        """Header then aliases, folded, in priority order."""
        seen: list[str] = []
        for name in (self.header, *self.aliases):
            f = fold(name)
            if f not in seen:
                seen.append(f)
        return tuple(seen)

    @property
    def personal(self) -> bool:
        return self.kind == "personal"


@dataclass(frozen=True)
class ExportSpec:
    name: str
    label: str
    columns: tuple[ColumnSpec, ...]
    own_id: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


KINDS = ("id", "young_id", "text", "date", "code", "yesno", "amount", "insee", "personal", "label")
_COLUMN = "une colonne {header, kind, …} est attendue"


@cache
def export_specs(config_dir: Path = CONFIG_DIR) -> dict[str, ExportSpec]:
    """The export types of `config/exports.yaml`, in file order."""
    doc = read_yaml(config_dir / "exports.yaml")
    specs: dict[str, ExportSpec] = {}
    for name, body in doc.items("une table des types d'export est attendue"):
        cols = []
        for col, c in body.key("columns", "une table des colonnes est attendue").items():
            c.mapping(_COLUMN)
            kind = c.key("kind", f"un genre parmi {', '.join(KINDS)} est attendu")
            if kind.value not in KINDS:
                kind.fail(f"un genre parmi {', '.join(KINDS)} est attendu")
            required, aliases, codes, as_typed, missing = (
                c.get(k) for k in ("required", "aliases", "codes", "as_typed", "unknown_is_missing")
            )
            cols.append(
                ColumnSpec(
                    name=col,
                    header=c.key("header", "l'en-tête de la colonne (un texte) est attendu").text(),
                    kind=kind.text(),
                    required=required.flag() if required else False,
                    aliases=aliases.labels("une liste d'en-têtes est attendue") if aliases else (),
                    codes=codes.text("le nom d'une liste de config/codes.yaml est attendu")
                    if codes
                    else None,
                    as_typed=as_typed.flag() if as_typed else False,
                    unknown_is_missing=missing.flag() if missing else False,
                )
            )
        label, own = body.get("label"), body.get("own_id")
        own_id: tuple[str, ...] = ()
        if own is not None:
            own_id = (
                (own.text(),)
                if isinstance(own.value, str)
                else own.labels("un nom de colonne ou une liste de noms est attendu")
            )
        specs[name] = ExportSpec(
            name=name, label=label.text() if label else name, columns=tuple(cols), own_id=own_id
        )
    return specs


@dataclass(frozen=True)
class Nature:
    """One situation nature: the spellings accepted, its breakdown value (`detail`: contract
    or training type) and whether it is a PEC contract."""

    values: tuple[str, ...]
    detail: str | None = None
    pec: bool = False


@dataclass(frozen=True)
class Rewrite:
    """A situation category rewritten before its nature is read (exports.md, Catégorie):
    either always to `category` with nature `nature`, or to `category_by_nature` when the
    nature is one of that category's natures, else to `otherwise`."""

    category: str | None = None
    nature: str | None = None
    category_by_nature: str | None = None
    otherwise: str | None = None


@dataclass(frozen=True)
class Codes:
    """`config/codes.yaml`, typed."""

    # every code list: category (the label stored) -> spellings accepted
    lists: dict[str, dict[str, tuple[str, ...]]]
    # per situation category: its natures (None: any label, kept as typed)
    situation_nature: dict[str, dict[str, Nature] | None]
    situation_category_rewrite: dict[str, Rewrite]
    # the values of a list that set a flag (indicators.md, "Words used in the rules")
    interview_contact_types: tuple[str, ...]
    event_status_contact: tuple[str, ...]
    situation_state_not_counted: tuple[str, ...]
    situation_category_not_counted: tuple[str, ...]
    aid_status_granted: tuple[str, ...]
    # lists whose unknown labels are kept as typed (programme, aid_type)
    open_lists: frozenset[str]
    # list -> a regular expression whose captured group is read as the code (K2111 -> K)
    code_patterns: dict[str, str]


# keys of codes.yaml that are not code lists, and the list their values must belong to
_FLAG_LISTS = {
    "interview_contact_types": "event_type",
    "event_status_contact": "event_status",
    "situation_state_not_counted": "situation_state",
    "situation_category_not_counted": "situation_category",
    "aid_status_granted": "aid_status",
}
_CATEGORIES = "une liste de catégories de la liste {} est attendue"


def _natures(node: Node) -> dict[str, dict[str, Nature] | None]:
    out: dict[str, dict[str, Nature] | None] = {}
    for category, body in node.items("une table catégorie -> natures est attendue"):
        any_label = body.get("any_label")
        if any_label is not None and any_label.flag():
            out[category] = None
            continue
        natures = {}
        for name, n in body.items("une table nature -> {detail, values} est attendue"):
            n.mapping("une table {detail, values, pec} est attendue")
            detail, pec = n.get("detail"), n.get("pec")
            natures[name] = Nature(
                values=n.key("values", "une liste de libellés est attendue").labels(),
                detail=detail.text() if detail else None,
                pec=pec.flag() if pec else False,
            )
        out[category] = natures
    return out


def _rewrites(node: Node) -> dict[str, Rewrite]:
    out = {}
    expected = "une table {category, nature} ou {category_by_nature, otherwise} est attendue"
    for category, body in node.items():
        parts = {k: v.text() for k, v in body.items(expected)}
        unknown = set(parts) - {"category", "nature", "category_by_nature", "otherwise"}
        fixed = {"category", "nature"} <= set(parts)
        by_nature = {"category_by_nature", "otherwise"} <= set(parts)
        if unknown or fixed == by_nature:
            body.fail(expected)
        out[category] = Rewrite(**parts)
    return out


@cache
def codes(config_dir: Path = CONFIG_DIR) -> Codes:
    """`config/codes.yaml`, typed; a mistyped entry is refused naming its key."""
    doc = read_yaml(config_dir / "codes.yaml")
    lists: dict[str, dict[str, tuple[str, ...]]] = {}
    flags: dict[str, tuple[str, ...]] = {}
    special = {"situation_nature", "situation_category_rewrite", "code_patterns"}
    for name, node in doc.items("une table des listes de codes est attendue"):
        if name in special:
            continue
        if name in _FLAG_LISTS:
            flags[name] = node.labels(_CATEGORIES.format(_FLAG_LISTS[name]))
        elif name.endswith("_open"):
            node.flag()
        else:
            lists[name] = {
                category: spellings.labels()
                for category, spellings in node.items(
                    "une table catégorie -> libellés acceptés est attendue"
                )
            }
    for name, of_list in _FLAG_LISTS.items():
        node = doc.key(name, _CATEGORIES.format(of_list))
        for value, entry in zip(flags[name], node.entries(), strict=True):
            if value not in lists.get(of_list, {}):
                entry.fail(f"une catégorie de la liste {of_list} est attendue")
    natures = _natures(doc.key("situation_nature", "une table catégorie -> natures est attendue"))
    rewrites = _rewrites(
        doc.key("situation_category_rewrite", "une table catégorie -> réécriture est attendue")
    )
    rewrites_node = doc.key("situation_category_rewrite", "")
    for source, rewrite in rewrites.items():
        target = rewrite.category or rewrite.category_by_nature
        natures_of = natures.get(str(target))
        if (
            target not in natures
            or (rewrite.category_by_nature and natures_of is None)
            or (rewrite.nature is not None and rewrite.nature not in (natures_of or {}))
        ):
            rewrites_node.mapping()[source].fail(
                "une catégorie de situation_nature (et l'une de ses natures) est attendue"
            )
    patterns = doc.get("code_patterns")
    return Codes(
        lists=lists,
        situation_nature=natures,
        situation_category_rewrite=rewrites,
        interview_contact_types=flags["interview_contact_types"],
        event_status_contact=flags["event_status_contact"],
        situation_state_not_counted=flags["situation_state_not_counted"],
        situation_category_not_counted=flags["situation_category_not_counted"],
        aid_status_granted=flags["aid_status_granted"],
        open_lists=frozenset(
            name.removesuffix("_open")
            for name, node in doc.items()
            if name.endswith("_open") and node.flag()
        ),
        code_patterns={
            k: v.strict_text("une expression régulière (texte) est attendue")
            for k, v in patterns.items()
        }
        if patterns
        else {},
    )


def code_lists(config_dir: Path = CONFIG_DIR) -> dict[str, dict[str, tuple[str, ...]]]:
    """Every code list of `config/codes.yaml`: category -> the spellings accepted for it."""
    return codes(config_dir).lists


@dataclass(frozen=True)
class ReportBlock:
    """One block of a report section: its kind and its settings (a sentence for `text`)."""

    kind: str
    body: str | dict[str, object]


@dataclass(frozen=True)
class ReportSection:
    name: str
    blocks: tuple[ReportBlock, ...]


@dataclass(frozen=True)
class ReportLayout:
    """`config/report.yaml`, checked: the report's titles and its sections' blocks."""

    title: str
    published_suffix: str
    mask_note: str
    zero_mark: str
    amounts_follow_counts: dict[str, tuple[str, ...]]
    sections: tuple[ReportSection, ...]
    dimension_headers: dict[str, str] = field(default_factory=dict)


# each table block's settings that must be there (the others are optional)
_BLOCK_KEYS = {
    "communes": ("title", "columns"),
    "breakdown": ("title", "indicator", "dimension"),
    "grid": ("title", "indicator", "rows", "columns"),
    "commune_grid": ("title", "indicator", "dimension"),
}
_CHARTS = ("bar", "col", "stacked", "pie")


def _report_block(node: Node) -> ReportBlock:
    kinds = ", ".join(["text", *_BLOCK_KEYS])
    expected = f"un bloc {{genre: réglages}} est attendu (genres : {kinds})"
    entries = node.mapping(expected)
    if len(entries) != 1 or next(iter(entries)) not in ("text", *_BLOCK_KEYS):
        node.fail(expected)
    ((kind, body),) = entries.items()
    if kind == "text":
        return ReportBlock(kind, body.strict_text("une phrase (texte) est attendue"))
    settings = body.mapping(f"une table des réglages du bloc {kind} est attendue")
    for key in _BLOCK_KEYS[kind]:
        body.key(key, f"un réglage {key} est attendu")
    settings["title"].strict_text("un titre (texte) est attendu")
    if (chart := body.get("chart")) is not None:
        chart_kind = chart.key(
            "kind", f"un genre de graphique parmi {', '.join(_CHARTS)} est attendu"
        )
        if chart_kind.value not in _CHARTS:
            chart_kind.fail(f"un genre de graphique parmi {', '.join(_CHARTS)} est attendu")
        chart.key("title", "un titre (texte) est attendu").strict_text()
    if kind == "communes":
        for column in settings["columns"].entries("une liste de colonnes est attendue"):
            column.key("indicator", "un code d'indicateur est attendu").text()
            column.key("title", "un titre (texte) est attendu").strict_text()
    assert isinstance(body.value, dict)  # checked by body.mapping above
    return ReportBlock(kind, {str(k): v for k, v in body.value.items()})


@cache
def report_layout(config_dir: Path = CONFIG_DIR) -> ReportLayout:
    """`config/report.yaml`, checked and typed."""
    doc = read_yaml(config_dir / "report.yaml")
    follow = doc.get("amounts_follow_counts")
    headers = doc.get("dimension_headers")
    sections = []
    for section in doc.key("sections", "une liste de sections est attendue").entries(
        "une liste de sections est attendue"
    ):
        section.mapping("une section {name, blocks} est attendue")
        blocks = section.get("blocks")
        sections.append(
            ReportSection(
                name=section.key("name", "le nom de la section (texte) est attendu").strict_text(),
                blocks=tuple(
                    _report_block(b) for b in blocks.entries("une liste de blocs est attendue")
                )
                if blocks
                else (),
            )
        )
    return ReportLayout(
        title=doc.key("title", TEXT).strict_text(),
        published_suffix=doc.key("published_suffix", TEXT).strict_text(),
        mask_note=doc.key("mask_note", TEXT).strict_text(),
        zero_mark=doc.key("zero_mark", TEXT).strict_text(),
        amounts_follow_counts={
            k: v.labels("une liste de codes d'indicateurs est attendue") for k, v in follow.items()
        }
        if follow
        else {},
        sections=tuple(sections),
        dimension_headers={str(k): v.strict_text() for k, v in headers.items()} if headers else {},
    )


def celery_settings(path: Path) -> dict[str, Any]:
    """`execution.config` of a Celery configuration file (config/celery.yaml), checked: the
    broker and the backend are text, `config_source` a table of Celery settings; a mistyped
    file is refused naming its key. Dagster's executor takes the rest as written."""
    doc = read_yaml(path)
    settings = doc.key("execution", "une table {config: …} est attendue").key(
        "config", "une table {broker, backend, config_source} est attendue"
    )
    entries = settings.mapping("une table {broker, backend, config_source} est attendue")
    for key in ("broker", "backend"):
        if key in entries:
            entries[key].strict_text("une adresse (texte) est attendue")
    if "config_source" in entries:
        entries["config_source"].mapping("une table de réglages Celery est attendue")
    return {key: node.value for key, node in entries.items()}


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str


@dataclass(frozen=True)
class Structure:
    code: str
    name: str
    territory: tuple[Commune, ...] = field(default_factory=tuple)
    # Declared by the seeded demo only: its pseudonyms may use the public demo key.
    synthetic: bool = False


STRUCTURE_CODE = re.compile(r"^[A-Za-z0-9_-]+$")

STRUCTURE_YAML_EXAMPLE = """name: Mission Locale Métropole Nord-Ouest
territory:            # les communes que sert la structure, dans l'ordre du rapport
  - {insee: "59368", name: La Madeleine}
  - {insee: "59328", name: Lambersart}
"""


class StructureConfigError(ValueError):
    """A structure folder whose structure.yaml is missing or wrong."""


def load_structure(structure_dir: Path) -> Structure:
    """Read `raw/<STRUCTURE>/structure.yaml`; refuse a folder without one."""
    path = structure_dir / "structure.yaml"
    if not path.is_file():
        raise StructureConfigError(
            f"{path} : fichier absent. Chaque dossier de structure a un structure.yaml qui donne "
            f"son nom et son territoire, par exemple :\n{STRUCTURE_YAML_EXAMPLE}"
        )
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StructureConfigError(
            f"{path} : ce n'est pas du YAML valide ({exc}) ; corrigez-le sur le modèle :\n"
            f"{STRUCTURE_YAML_EXAMPLE}"
        ) from exc
    if not isinstance(raw, dict):
        raise StructureConfigError(
            f"{path} : attendu des clés `name` et `territory`, trouvé {type(raw).__name__} ; "
            f"par exemple :\n{STRUCTURE_YAML_EXAMPLE}"
        )
    territory = raw.get("territory") or []
    if not raw.get("name") or not territory:
        raise StructureConfigError(
            f"{path} : il faut un `name` et une liste `territory` non vide, par exemple :\n"
            f"{STRUCTURE_YAML_EXAMPLE}"
        )
    communes = []
    for i, entry in enumerate(territory, start=1):
        if not isinstance(entry, dict) or not entry.get("insee") or not entry.get("name"):
            raise StructureConfigError(
                f"{path} : l'entrée {i} de `territory` demande `insee` et `name` ({entry!r})"
            )
        communes.append(Commune(insee=normalise_insee(entry["insee"]), name=str(entry["name"])))
    synthetic = raw.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise StructureConfigError(f"{path} : `synthetic` vaut true ou false ({synthetic!r})")
    return Structure(
        code=structure_dir.name,
        name=str(raw["name"]),
        territory=tuple(communes),
        synthetic=synthetic,
    )


def normalise_insee(value: object) -> str:
    """INSEE code as 5 characters: digits padded with leading zeros, 2A/2B kept."""
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.0+)?", text):
        text = text.split(".")[0].zfill(5)
    return text.upper()
