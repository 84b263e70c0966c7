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

import yaml

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


@cache
def export_specs(config_dir: Path = CONFIG_DIR) -> dict[str, ExportSpec]:
    """The export types of `config/exports.yaml`, in file order."""
    raw = yaml.safe_load((config_dir / "exports.yaml").read_text(encoding="utf-8"))
    specs: dict[str, ExportSpec] = {}
    for name, body in raw.items():
        cols = tuple(
            ColumnSpec(
                name=col,
                header=str(c["header"]),
                kind=c["kind"],
                required=bool(c.get("required", False)),
                aliases=tuple(str(a) for a in c.get("aliases", ())),
                codes=c.get("codes"),
            )
            for col, c in body["columns"].items()
        )
        own = body.get("own_id") or ()
        specs[name] = ExportSpec(
            name=name,
            label=body.get("label", name),
            columns=cols,
            own_id=(own,) if isinstance(own, str) else tuple(own),
        )
    return specs


@cache
def code_lists(config_dir: Path = CONFIG_DIR) -> dict:
    """The raw content of `config/codes.yaml`."""
    return yaml.safe_load((config_dir / "codes.yaml").read_text(encoding="utf-8"))


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
territory:            # the communes the structure serves, in report order
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
            f"{path}: missing. Every structure folder needs a structure.yaml with its name "
            f"and territory, for example:\n{STRUCTURE_YAML_EXAMPLE}"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise StructureConfigError(f"{path}: not valid YAML ({exc})") from exc
    territory = raw.get("territory") or []
    if not raw.get("name") or not territory:
        raise StructureConfigError(
            f"{path}: needs `name` and a non-empty `territory` list, for example:\n"
            f"{STRUCTURE_YAML_EXAMPLE}"
        )
    communes = []
    for i, entry in enumerate(territory, start=1):
        if not isinstance(entry, dict) or not entry.get("insee") or not entry.get("name"):
            raise StructureConfigError(
                f"{path}: territory entry {i} needs `insee` and `name` ({entry!r})"
            )
        communes.append(Commune(insee=normalise_insee(entry["insee"]), name=str(entry["name"])))
    synthetic = raw.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise StructureConfigError(f"{path}: `synthetic` is true or false ({synthetic!r})")
    return Structure(code=structure_dir.name, name=str(raw["name"]), territory=tuple(communes),
                     synthetic=synthetic)


def normalise_insee(value: object) -> str:
    """INSEE code as 5 characters: digits padded with leading zeros, 2A/2B kept."""
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.0+)?", text):
        text = text.split(".")[0].zfill(5)
    return text.upper()
