"""Helpers for tests: write real export workbooks and drop zones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from demo.workbook import export_lines, write_workbook

TERRITORY = [
    {"insee": "59368", "name": "La Madeleine"},
    {"insee": "59328", "name": "Lambersart"},
    {"insee": "59378", "name": "Marcq-en-Barœul"},
]

JEUNES_HEADERS = ["Identifiant jeune", "Nom", "Prénom", "Sexe", "Date de naissance", "Commune",
                  "QPV", "Niveau de qualification", "Date de premier accueil", "RQTH",
                  "Permis B", "Hébergement", "Téléphone", "E-mail"]

# Contract headers of the other export types, for tests that write them.
EVENTS = ["Identifiant jeune", "Date de l'événement", "Type d'événement", "Statut"]
SITUATIONS = ["Identifiant jeune", "Catégorie", "Nature", "Date de début", "Date de fin",
              "Secteur", "État", "Mise en œuvre par la ML", "Niveau préparé"]
PROGRAMMES = ["Identifiant jeune", "Dispositif", "Date d'entrée", "Date de sortie"]
AIDS = ["Identifiant jeune", "Type d'aide", "Date", "Montant", "Statut"]
PROPOSALS = ["Identifiant jeune", "Date de la proposition", "Thème", "État"]


def write_xlsx(path: Path, headers: Sequence[str], rows: Sequence[Sequence[object]],
               title_lines: Sequence[str] = (), sheet: str = "Export",
               total_line: bool = False) -> Path:
    """A workbook with optional title lines above the header and a Total line below (the
    demo's and the benchmark's writer, demo/workbook.py)."""
    lines = export_lines(headers, rows, [[line] for line in title_lines],
                         f"Total : {len(rows)}" if total_line else None)
    return write_workbook(path, [(sheet, lines)])


def write_structure(raw: Path, code: str = "TST", territory: list[dict] | None = None,
                    name: str = "Mission Locale de Test") -> Path:
    folder = raw / code
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "structure.yaml").write_text(
        yaml.safe_dump({"name": name, "territory": territory or TERRITORY},
                       allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def young(id_: str, sex: str = "F", birth: str = "15/03/2004", commune: str = "Lambersart",
          qpv: str | None = None, level: str = "Niveau 4", first: str | None = "10/02/2025",
          rqth: str = "Non", licence: str = "Oui", housing: str = "Chez les parents") -> list:
    """One `jeunes` row in JEUNES_HEADERS order, with fake personal data."""
    return [id_, "TESTNOM", "Prénom", sex, birth, commune, qpv, level, first, rqth, licence,
            housing, "06 00 00 00 00", f"jeune{id_}@example.invalid"]
