"""Reading a configuration file into typed values, refusing a mistyped one at start.

Every file of `config/` is read through `Node`: each value knows its file and its key path,
so a value of the wrong form stops the load with a French sentence that names the file, the
key and the form expected (« config/codes.yaml, event_type.Autres : une liste de libellés
est attendue, trouvé un nombre »). The typed models themselves sit beside the code that
uses them (`config.Codes`, `compute.Catalogue`, …); `check_configuration` loads them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent

MAPPING = "une table (clé : valeur) est attendue"
TEXT = "un texte est attendu"
LABELS = "une liste de libellés est attendue"
FLAG = "vrai ou faux (true/false) est attendu"
INTEGER = "un nombre entier est attendu"


class ConfigError(ValueError):
    """A configuration file that cannot be read or whose values are not of the expected form."""


def shown_path(path: Path) -> str:
    """The file as a person finds it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _found(value: object) -> str:
    if value is None:
        return "rien (valeur vide)"
    if isinstance(value, bool):
        return f"un booléen ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"un nombre ({value})"
    if isinstance(value, str):
        return f"un texte (« {value[:40]} »)"
    if isinstance(value, list):
        return "une liste"
    if isinstance(value, dict):
        return "une table (clé : valeur)"
    return type(value).__name__


@dataclass(frozen=True)
class Node:
    """One value of a configuration file, with where it sits (file, key path)."""

    file: str
    path: str
    value: object

    def fail(self, expected: str) -> NoReturn:
        where = f"{self.file}, {self.path}" if self.path else self.file
        raise ConfigError(f"{where} : {expected}, trouvé {_found(self.value)}")

    def _child(self, key: object, value: object) -> Node:
        return Node(self.file, f"{self.path}.{key}" if self.path else str(key), value)

    def mapping(self, expected: str = MAPPING) -> dict[str, Node]:
        """The entries of a mapping, in file order (keys read as text)."""
        if not isinstance(self.value, dict):
            self.fail(expected)
        return {str(k): self._child(k, v) for k, v in self.value.items()}

    def items(self, expected: str = MAPPING) -> Iterator[tuple[str, Node]]:
        return iter(self.mapping(expected).items())

    def key(self, name: str, expected: str) -> Node:
        """A key the file must have."""
        body = self.mapping()
        if name not in body:
            where = f"{self.file}, {self._child(name, None).path}"
            raise ConfigError(f"{where} : clé manquante, {expected}")
        return body[name]

    def get(self, name: str) -> Node | None:
        """An optional key (None when absent or empty)."""
        node = self.mapping().get(name)
        return None if node is None or node.value is None else node

    def entries(self, expected: str = "une liste est attendue") -> list[Node]:
        if not isinstance(self.value, list):
            self.fail(expected)
        return [self._child(i, v) for i, v in enumerate(self.value, start=1)]

    def text(self, expected: str = TEXT) -> str:
        """A label: text, or a number YAML read as one (`"5"` or 5 are the same code)."""
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            self.fail(expected)
        return str(self.value)

    def strict_text(self, expected: str = TEXT) -> str:
        """Text only (a sentence, a title): a number here is a mistake."""
        if not isinstance(self.value, str):
            self.fail(expected)
        return self.value

    def labels(self, expected: str = LABELS) -> tuple[str, ...]:
        return tuple(n.text(expected) for n in self.entries(expected))

    def flag(self, expected: str = FLAG) -> bool:
        if not isinstance(self.value, bool):
            self.fail(expected)
        return self.value

    def integer(self, expected: str = INTEGER) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            self.fail(expected)
        return self.value


# libyaml's loader when PyYAML was built with it: the same documents, ≈ 8× faster to parse
# (the configuration is parsed at start-up and by every step that needs it)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """A YAML document's value, safe constructs only (raises yaml.YAMLError)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python


def read_yaml(path: Path) -> Node:
    """A YAML file's top level; unreadable or invalid YAML is refused with its file named."""
    shown = shown_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{shown} : fichier illisible ({exc.strerror or exc})") from exc
    try:
        value = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown} : ce n'est pas du YAML valide ({exc})") from exc
    return Node(shown, "", value)


def check_configuration(config_dir: Path | None = None) -> None:
    """Load every file of `config/` into its typed model: a mistyped file stops here, at
    start, rather than in the middle of a run."""
    # late imports: each model lives beside the code that uses it, and those modules import
    # this one
    from pipelines.compute import catalogue
    from pipelines.config import CONFIG_DIR, celery_settings, codes, export_specs, report_layout
    from pipelines.dictionary import meanings
    from pipelines.view_sql import dimension_labels

    where = config_dir or CONFIG_DIR
    export_specs(where)
    codes(where)
    catalogue(where)
    report_layout(where)
    meanings(where)
    dimension_labels(where)
    celery_settings(where / "celery.yaml")
