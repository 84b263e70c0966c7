"""How each year's exports are laid out: file names, sheets, headers (aliases of exports.md),
column order and the forms of their cells."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class Sheet:
    """One table: which rows, under which headers (aliases of exports.md), in which cell forms.

    A cell form is a name and, for dates and amounts, weights of their variants, e.g.
    `date excel=6 dmy=3 serial=1` (real Excel dates, dd/mm/yyyy text, serial numbers).
    """

    name: str
    kind: str | None  # export type of the rows; None for a sheet that is no export
    columns: list[tuple[str, str, str]]  # (row key, header, cell form)
    titles: list[list[str]] = field(default_factory=list)
    total: str | None = None  # e.g. "Total : {n} jeunes"


@dataclass
class ExportFile:
    name: str
    sheets: list[Sheet]


def export_files(year: int, extraction: dt.date) -> list[ExportFile]:
    """The files of one year: names, sheets, headers (aliases), column order, cell forms."""
    title = [f"Extraction du {extraction:%d/%m/%Y} – ML MNO"]
    d = "date excel=6 dmy=3 iso=1 serial=1"
    if year == 2024:
        return [
            ExportFile(
                "jeunes_MNO_2024.xlsx",
                [
                    Sheet(
                        "Jeunes 2024",
                        "jeunes",
                        [
                            ("id", "N° dossier", "id_num"),
                            ("nom", "Nom", "text"),
                            ("prenom", "Prénom", "text"),
                            ("sexe", "Genre", "text"),
                            ("naissance", "Né(e) le", "date excel=6 dmy=3 serial=1 dmy2=1"),
                            ("adresse", "Adresse", "text"),
                            ("commune", "Ville", "commune plain"),
                            ("insee", "Code INSEE", "insee"),
                            ("qpv", "Nom QPV", "text"),
                            ("niveau", "Niveau validé", "text"),
                            ("premier_accueil", "Date 1er accueil", "date excel=6 dmy=2 iso=2"),
                            ("rqth", "Reconnaissance TH", "text"),
                            ("permis", "Permis", "text"),
                            ("hebergement", "Logement", "text"),
                            ("telephone", "Téléphone", "text"),
                            ("email", "E-mail", "text"),
                            ("conseiller", "Conseiller", "text"),
                            ("antenne", "Antenne", "text"),
                        ],
                        [title, []],
                        "Total : {n} jeunes",
                    )
                ],
            ),
            ExportFile(
                "evenements_2024.xlsx",
                [
                    Sheet(
                        "Evenements",
                        "evenements",
                        [
                            ("date", "Date", "date excel=3 dmy=7"),
                            ("id", "N° dossier", "id_text"),
                            ("type", "Nature du contact", "text"),
                            ("statut", "Présence", "text"),
                            ("theme_evt", "Thème", "text"),
                            ("conseiller", "Conseiller", "text"),
                        ],
                        [title, ["Période du 01/01/2024 au 31/12/2024"], []],
                        "Total : {n} événements",
                    )
                ],
            ),
            ExportFile(
                "propositions_2024.xlsx",
                [
                    Sheet(
                        "Propositions",
                        "propositions",
                        [
                            ("id", "Identifiant jeune", "id_num"),
                            ("date", "Date proposition", "date excel=3 dmy=7"),
                            ("theme", "Thème de la proposition", "text"),
                            ("etat", "Statut", "text"),
                        ],
                    )
                ],
            ),
            ExportFile(
                "situations_2024.xlsx",
                [
                    Sheet(
                        "Situations",
                        "situations",
                        [
                            ("id_sit", "Identifiant situation", "id_num"),
                            ("id", "Identifiant", "id_num"),
                            ("categorie", "Type de situation", "text"),
                            ("nature", "Type de contrat", "text"),
                            ("debut", "Début", "date excel=5 dmy=3 serial=2"),
                            ("fin", "Fin", "date excel=5 dmy=3 serial=2"),
                            ("secteur", "Domaine ROME", "text"),
                            ("etat", "Etat", "text"),
                            ("ml", "Porté par la ML", "text"),
                            ("niveau_prepare", "Niveau de la formation préparée", "text"),
                            ("commentaire", "Commentaire", "text"),
                        ],
                        [title],
                    )
                ],
            ),
            ExportFile(
                "dispositifs_2024.xlsx",
                [
                    Sheet(
                        "Accompagnements",
                        "dispositifs",
                        [
                            ("id", "Numéro i-milo", "id_num"),
                            ("dispositif", "Programme", "text"),
                            ("entree", "Date entrée", "date excel=5 iso=2"),
                            ("sortie", "Date sortie", "date excel=5 iso=2"),
                            ("motif", "Motif de sortie", "text"),
                        ],
                        [],
                        "Total : {n}",
                    )
                ],
            ),
            ExportFile(
                "aides_2024.xlsx",
                [
                    Sheet(
                        "Aides financières",
                        "aides",
                        [
                            ("ref", "N° dossier aide", "text"),
                            ("id", "N° dossier", "id_num"),
                            ("type", "Nature de l'aide", "text"),
                            ("date", "Date de décision", "date excel=6 dmy=4"),
                            ("montant", "Montant accordé", "amount num=8 euro=2"),
                            ("statut", "Décision", "text"),
                            ("objet", "Objet", "text"),
                        ],
                        [title, []],
                    )
                ],
            ),
        ]
    return [
        ExportFile(
            "Export_jeunes_2025.xlsx",
            [
                Sheet(
                    "Liste des jeunes",
                    "jeunes",
                    [
                        ("id", "Identifiant jeune", "id_text"),
                        ("sexe", "Sexe", "text"),
                        ("nom", "Nom", "text"),
                        ("prenom", "Prénom", "text"),
                        ("naissance", "Date de naissance", d + " dmy2=1"),
                        ("commune", "Commune de résidence", "commune varied"),
                        ("qpv", "QPV", "text"),
                        ("niveau", "Niveau de qualification", "text"),
                        ("premier_accueil", "Date de premier accueil", "date excel=6 dmy=3 iso=1"),
                        ("rqth", "RQTH", "text"),
                        ("permis", "Permis B", "text"),
                        ("hebergement", "Hébergement", "text"),
                        ("telephone", "Téléphone", "text"),
                        ("email", "E-mail", "text"),
                        ("adresse", "Adresse", "text"),
                        ("conseiller", "Conseiller", "text"),
                        ("antenne", "Antenne", "text"),
                    ],
                    [title, [f"Jeunes référencés en {year}"], []],
                    "Total : {n} jeunes",
                )
            ],
        ),
        ExportFile(
            f"Extraction evenements {year}.xlsx",
            [
                Sheet(
                    "Evenements",
                    "evenements",
                    [
                        ("id_evt", "ID événement", "id_num"),
                        ("id", "Identifiant jeune", "id_num"),
                        ("date", "Date de l'événement", "date dt=3 dmy=5 iso=1 serial=1"),
                        ("type", "Type d'événement", "text"),
                        ("statut", "Statut du rendez-vous", "text"),
                    ],
                    [title, []],
                    "Total : {n}",
                )
            ],
        ),
        ExportFile(
            f"propositions-{year}.xlsx",
            [
                Sheet(
                    f"Propositions {year}",
                    "propositions",
                    [
                        ("id", "N° dossier", "id_text"),
                        ("date", "Date de la proposition", "date excel=3 dmy=6 serial=1"),
                        ("theme", "Thème", "text"),
                        ("etat", "État", "text"),
                    ],
                )
            ],
        ),
        ExportFile(
            f"parcours_{year}.xlsx",
            [
                Sheet(
                    "Lisez-moi",
                    None,
                    [],
                    [
                        ["Export parcours : situations et dispositifs"],
                        [f"Extraction du {extraction:%d/%m/%Y}"],
                    ],
                ),
                Sheet(
                    "Situations",
                    "situations",
                    [
                        ("id", "Identifiant jeune", "id_num"),
                        ("id_sit", "Identifiant situation", "id_text"),
                        ("categorie", "Catégorie", "text"),
                        ("nature", "Nature", "text"),
                        ("debut", "Date de début", d),
                        ("fin", "Date de fin", d),
                        ("secteur", "Secteur", "text"),
                        ("etat", "État", "text"),
                        ("ml", "Mise en œuvre par la ML", "text"),
                        ("niveau_prepare", "Niveau préparé", "text"),
                    ],
                    [title],
                ),
                Sheet(
                    "Dispositifs",
                    "dispositifs",
                    [
                        ("id", "Identifiant jeune", "id_text"),
                        ("dispositif", "Dispositif", "text"),
                        ("entree", "Date d'entrée", "date excel=6 dmy=3 iso=1"),
                        ("sortie", "Date de sortie", "date excel=6 dmy=3 iso=1"),
                        ("motif", "Motif de sortie", "text"),
                    ],
                    [],
                    "Total : {n}",
                ),
            ],
        ),
        ExportFile(
            f"aides_{year}.csv",
            [
                Sheet(
                    "aides",
                    "aides",
                    [
                        ("ref", "Référence de l'aide", "text"),
                        ("id", "Identifiant jeune", "id_text"),
                        ("type", "Type d'aide", "text"),
                        ("date", "Date", "date dmy=7 iso=3"),
                        ("montant", "Montant (€)", "amount euro=6 plain=2 comma=2"),
                        ("statut", "Statut", "text"),
                        ("objet", "Objet", "text"),
                    ],
                    [title],
                    "Total : {n} aides",
                )
            ],
        ),
    ]


def exported_columns(year: int, kind: str) -> dict[str, str]:
    """Row key -> header of the columns a year's export of `kind` carries."""
    return {
        key: header
        for spec in export_files(year, dt.date(year + 1, 1, 6))
        for sheet in spec.sheets
        if sheet.kind == kind
        for key, header, _ in sheet.columns
    }
