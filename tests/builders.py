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

JEUNES_HEADERS = [
    "Identifiant jeune",
    "Nom",
    "Prénom",
    "Sexe",
    "Date de naissance",
    "Commune",
    "QPV",
    "Niveau de qualification",
    "Date de premier accueil",
    "RQTH",
    "Permis B",
    "Hébergement",
    "Téléphone",
    "E-mail",
]

# Contract headers of the other export types, for tests that write them.
EVENTS = ["Identifiant jeune", "Date de l'événement", "Type d'événement", "Statut"]
SITUATIONS = [
    "Identifiant jeune",
    "Catégorie",
    "Nature",
    "Date de début",
    "Date de fin",
    "Secteur",
    "État",
    "Mise en œuvre par la ML",
    "Niveau préparé",
]
PROGRAMMES = ["Identifiant jeune", "Dispositif", "Date d'entrée", "Date de sortie"]
AIDS = ["Identifiant jeune", "Type d'aide", "Date", "Montant", "Statut"]
PROPOSALS = ["Identifiant jeune", "Date de la proposition", "Thème", "État"]


def write_xlsx(
    path: Path,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    title_lines: Sequence[str] = (),
    sheet: str = "Export",
    total_line: bool = False,
) -> Path:
    """A workbook with optional title lines above the header and a Total line below (the
    demo's and the benchmark's writer, demo/workbook.py)."""
    lines = export_lines(
        headers,
        rows,
        [[line] for line in title_lines],
        f"Total : {len(rows)}" if total_line else None,
    )
    return write_workbook(path, [(sheet, lines)])


def write_structure(
    raw: Path,
    code: str = "TST",
    territory: list[dict] | None = None,
    name: str = "Mission Locale de Test",
) -> Path:
    folder = raw / code
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "structure.yaml").write_text(
        yaml.safe_dump(
            {"name": name, "territory": territory or TERRITORY}, allow_unicode=True, sort_keys=False
        ),
        encoding="utf-8",
    )
    return folder


def young(
    id_: str,
    sex: str = "F",
    birth: str = "15/03/2004",
    commune: str = "Lambersart",
    qpv: str | None = None,
    level: str = "Niveau 4",
    first: str | None = "10/02/2025",
    rqth: str = "Non",
    licence: str = "Oui",
    housing: str = "Chez les parents",
) -> list:
    """One `jeunes` row in JEUNES_HEADERS order, with fake personal data."""
    return [
        id_,
        "TESTNOM",
        "Prénom",
        sex,
        birth,
        commune,
        qpv,
        level,
        first,
        rqth,
        licence,
        housing,
        "06 00 00 00 00",
        f"jeune{id_}@example.invalid",
    ]


# The partition of the end-to-end tests (test_pipeline, test_operations).
EVENT_HEADERS = ["N° dossier", "Date", "Nature du contact", "Statut", "Conseiller"]
SITUATION_HEADERS = SITUATIONS
AID_HEADERS = [
    "Identifiant jeune",
    "Référence de l'aide",
    "Type d'aide",
    "Date",
    "Montant",
    "Statut",
    "Objet",
]


def drop_zone(raw: Path) -> Path:
    """A small partition TST/2025 exercising every rejection reason of exports.md."""
    write_structure(raw)
    d = raw / "TST" / "2025"
    write_xlsx(
        d / "jeunes.xlsx",
        JEUNES_HEADERS,
        [
            young("1001"),  # row 4
            young("1002", sex="H", commune="MARCQ EN BAROEUL", qpv="Briqueterie", level="CAP"),
            young("1003", commune="Lille", first=None),  # outside the territory
            young("1003", commune="Lille", first=None),  # read twice: merged
            young("1004", sex="X"),  # unknown sex: kept
            young("1005", sex="F"),
            young("1005", sex="H"),  # conflicting: rejected
            young(None),  # empty id: rejected
        ],
        title_lines=["Extraction du 06/01/2026 – ML TST", ""],
        total_line=True,
    )
    write_xlsx(
        d / "evenements.xlsx",
        EVENT_HEADERS,
        [
            ["1001", "31/12/2025", "Entretien individuel - suivi", None, "Mme Conseillère"],  # 2
            ["1001", "01/01/2025", "SMS", None, "x"],
            ["1002", "2025-06-01", "Visio", None, "y"],  # unknown event type
            ["1002", "2025-06-02", "Atelier", "Absent", "y"],  # kept, not a contact
            ["9999", "2025-06-02", "SMS", None, "y"],  # unknown young person
            ["1002", "2024-12-31", "SMS", None, "y"],  # outside the year
            ["1002", "2027-01-01", "SMS", None, "y"],  # after the run day
            ["1002", "1989-12-31", "SMS", None, "y"],  # before 1990
            ["1002", "bientôt", "SMS", None, "y"],  # not a date
            ["1002", None, "SMS", None, "y"],  # empty required date
            ["1002", "2025-03-03", "SMS", "Peut-être", "y"],  # status not listed
            ["1005", "2025-03-03", "SMS", None, "y"],  # its young person rejected
        ],
    )
    write_xlsx(
        d / "situations.xlsx",
        SITUATION_HEADERS,
        [
            ["1001", "Emploi", "CDI", "01/03/2025", None, "N", None, None, None],  # 2
            ["1002", "Emploi", "PEC", "01/04/2025", "01/10/2025", "K", "En cours", "Oui", None],
            [
                "1002",
                "Emploi",
                "CDD",
                "01/04/2025",
                "01/03/2025",
                "K",
                None,
                None,
                None,
            ],  # end<start
            [
                "1001",
                "Alternance",
                "Contrat d'apprentissage",
                "01/09/2024",
                None,
                "D",
                None,
                None,
                "Niveau 4",
            ],
            ["1002", "Emploi", "Stage", "01/04/2025", None, None, None, None, None],  # nature
            [
                "1002",
                "Emploi",
                "CDD",
                "01/04/2023",
                "31/12/2024",
                None,
                None,
                None,
                None,
            ],  # not 2025
            ["1002", "Emploi", "CDD", "01/04/2025", None, None, None, "Peut-être", None],  # yes/no
            ["1002", "Emploi", "CDD", "01/05/2025", "nope", None, None, None, None],  # bad end
            ["1002", "Emploi", "CDD", "01/06/2025", None, "Z", None, None, None],  # Secteur Z
            ["1002", "Scolarité", None, "01/09/2025", None, None, None, None, None],  # kept
        ],
    )
    write_xlsx(
        d / "aides.xlsx",
        AID_HEADERS,
        [
            ["1001", "A-1", "Allocation CEJ", "01/03/2025", "1 234,56 €", "Payé", "loyer"],  # 2
            ["1002", "A-2", "FAJ", "2025-04-01", "-5", None, None],  # negative
            ["1002", "A-3", "FAJ", "2025-04-01", "100,10", "Refusé", None],  # kept, not counted
            ["1002", "A-4", "FAJ", "2025-04-02", "NC", None, None],  # not a number
            ["1002", "A-5", "FAJ", "2025-04-02", "10", None, None],
            ["1002", "A-5", "FAJ", "2025-04-02", "10", None, None],  # repeat: merged
            ["1002", "A-6", "FAJ", "2025-04-02", "10", None, None],
            ["1002", "A-6", "FAJ", "2025-04-03", "10", None, None],  # conflicting id
            ["1002", "A-7", "Aide au permis", "2025-04-03", "300", "Accordé", None],  # other type
        ],
    )
    write_xlsx(
        d / "suivi.xlsx",
        ["Identifiant jeune", "Programme", "Date entrée", "Date sortie", "Motif de sortie"],
        [
            ["1001", "Contrat d'Engagement Jeune", "01/02/2025", "30/06/2025", "Emploi"],
            ["1002", "pacea", "15/01/2025", None, None],
            ["1002", "Dispositif local", "15/01/2025", None, None],
        ],
        sheet="Dispositifs",
    )
    write_xlsx(
        d / "propositions.csv.xlsx",
        ["Identifiant jeune", "Date proposition", "Domaine", "Statut", "Libellé"],
        [
            ["1001", "02/02/2025", "Loisirs, sport, culture", "Réalisé", "Club"],
            ["1002", "03/02/2025", "Orientation", None, None],
        ],
    )
    return raw
