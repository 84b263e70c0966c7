"""The configuration pieces of pipelines/sql/views.sql, filled in before the views are made.

views.sql stays plain SQL; where a view needs configuration (the dimensions' French labels
of config/dimension_labels.yaml, the indicators counted in euros of config/indicators.yaml)
it says `{{ dimension_label(column) }}` or `{{ amount_indicators() }}`. The text made is
what the fingerprint of `replace_changed` covers, so a changed label replaces the view at
the next run, and an unchanged one leaves it alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from pipelines.compute import catalogue
from pipelines.config import CONFIG_DIR
from pipelines.config_files import read_yaml

LABELS_FILE = "dimension_labels.yaml"
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\(([^)]*)\)\s*\}\}")


def dimension_labels(config_dir: Path = CONFIG_DIR) -> dict[str, str]:
    """dimension code -> French label (config/dimension_labels.yaml); a label that is not
    text is refused naming its dimension."""
    doc = read_yaml(config_dir / LABELS_FILE)
    if doc.value is None:  # an empty file: every dimension shown by its code
        return {}
    return {
        code: label.strict_text("un libellé (texte) est attendu")
        for code, label in doc.items("une table dimension -> libellé est attendue")
    }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _dimension_label(column: str) -> str:
    labels = dimension_labels()
    if not labels:
        return column
    cases = " ".join(
        f"WHEN {_literal(code)} THEN {_literal(label)}" for code, label in sorted(labels.items())
    )
    return f"CASE {column} {cases} ELSE {column} END"


def _amount_indicators(_: str = "") -> str:
    codes = sorted(i.code for i in catalogue().indicators if i.measure == "amount")
    # an impossible code keeps `IN (...)` valid SQL when no indicator counts euros
    return ", ".join(_literal(c) for c in codes) or "''"


_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "dimension_label": _dimension_label,
    "amount_indicators": _amount_indicators,
}


def render(text: str) -> str:
    """views.sql with its placeholders replaced by SQL made from the configuration."""

    def fill(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2).strip()
        if name not in _FUNCTIONS:
            raise ValueError(f"pipelines/sql/views.sql : espace réservé inconnu {{{{ {name}() }}}}")
        return _FUNCTIONS[name](argument)

    return _PLACEHOLDER.sub(fill, text)
