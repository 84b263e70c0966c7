"""Synthetic i-milo exports at a realistic size, for the scale benchmark (bench/run_bench.py).

One structure's six exports are generated (about 100 000 rows by default), with the shapes
real extractions have: title lines above the header, a `Total` line below, personal columns
(names, phones, comments) the pipeline must drop, dates as real Excel dates mixed with
`dd/mm/yyyy`, `dd/mm/yy` and ISO text, ids as number cells or text, amounts as numbers or
`1 234,56 €` text, code spellings with their aliases, and about 1 % of bad values (unknown
codes, unparsable dates, rows of another year) so quarantine is exercised. The region is made
by copying these files under N structure codes, each with its own `structure.yaml` (name,
territory): the structure code enters every pseudonym, so the partitions do not share ids.

Files are written by the demo's workbook writer (demo/workbook.py, openpyxl's write-only
mode), the one the tests use too.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
from pathlib import Path

import yaml

from demo.workbook import export_lines, write_workbook
from pipelines.config import code_lists

TERRITORY = [
    ("59368", "La Madeleine"),
    ("59328", "Lambersart"),
    ("59356", "Lompret"),
    ("59378", "Marcq-en-Barœul"),
    ("59386", "Marquette-lez-Lille"),
    ("59457", "Pérenchies"),
    ("59482", "Quesnoy-sur-Deûle"),
    ("59527", "Saint-André-lez-Lille"),
    ("59611", "Verlinghem"),
    ("59636", "Wambrechies"),
]
# rows per young person of the year, by export (≈ 25 rows per young person in all)
PER_YOUNG = {
    "evenements": 15.0,
    "propositions": 3.5,
    "situations": 3.0,
    "dispositifs": 1.0,
    "aides": 1.5,
}

HEADERS = {
    "jeunes": [
        "Identifiant jeune",
        "Nom",
        "Prénom",
        "Sexe",
        "Date de naissance",
        "Commune",
        "Code INSEE",
        "QPV",
        "Niveau de qualification",
        "Date de premier accueil",
        "RQTH",
        "Permis B",
        "Hébergement",
        "Téléphone",
        "E-mail",
        "Adresse",
        "Conseiller",
    ],
    "evenements": [
        "Identifiant événement",
        "Identifiant jeune",
        "Date de l'événement",
        "Type d'événement",
        "Statut",
        "Thème",
        "Lieu",
        "Conseiller",
        "Commentaire",
    ],
    "propositions": [
        "Identifiant proposition",
        "Identifiant jeune",
        "Date de la proposition",
        "Thème",
        "État",
        "Code action",
        "Libellé",
        "Commentaire",
    ],
    "situations": [
        "Identifiant situation",
        "Identifiant jeune",
        "Catégorie",
        "Nature",
        "Date de début",
        "Date de fin",
        "Secteur",
        "État",
        "Mise en œuvre par la ML",
        "Niveau préparé",
        "Commentaire",
    ],
    "dispositifs": [
        "Identifiant jeune",
        "Dispositif",
        "Date d'entrée",
        "Date de sortie",
        "Motif de sortie",
    ],
    "aides": [
        "Référence de l'aide",
        "Identifiant jeune",
        "Type d'aide",
        "Date",
        "Montant",
        "Statut",
        "Objet",
    ],
}
FILE_NAMES = {
    "jeunes": "Liste des jeunes",
    "evenements": "Evenements",
    "propositions": "Propositions",
    "situations": "Situations",
    "dispositifs": "Dispositifs",
    "aides": "Aides financieres",
}


def _spellings(name: str) -> list[str]:
    return [v for category, values in code_lists()[name].items() for v in [category, *values]]


def _amount_text(cents: int) -> str:
    """`1 234,56 €` with a narrow no-break space between thousands, as i-milo writes it."""
    units = f"{cents // 100:,}".replace(",", "\u202f")
    return f"{units},{cents % 100:02d} €"


class _Gen:
    def __init__(self, year: int, seed: int) -> None:
        self.r = random.Random(seed)
        self.year = year
        self.start = dt.date(year, 1, 1)

    def day(self, year: int | None = None) -> dt.date:
        base = dt.date(year or self.year, 1, 1)
        return base + dt.timedelta(days=self.r.randrange(365))

    def date_cell(self, d: dt.date) -> object:
        """Mostly real Excel dates; some text in the contract's other forms."""
        x = self.r.random()
        if x < 0.80:
            return d
        if x < 0.93:
            return f"{d:%d/%m/%Y}"
        if x < 0.97:
            return f"{d:%Y-%m-%d}"
        if x < 0.99:
            return f"{d:%d/%m/%y}"
        return (d - dt.date(1899, 12, 30)).days  # an Excel serial number in a number cell

    def young_id_cell(self, number: int) -> object:
        return number if self.r.random() < 0.6 else str(number)

    def pick(self, values: list, bad: str | None = None, bad_rate: float = 0.004) -> object:
        if bad is not None and self.r.random() < bad_rate:
            return bad
        return self.r.choice(values)


def generate_structure(
    folder: Path, code: str, year: int, young: int = 4000, seed: int = 2025
) -> dict[str, int]:
    """The six exports of one structure for `year` in `folder`; returns data rows per file."""
    g = _Gen(year, seed)
    r = g.r
    folder.mkdir(parents=True, exist_ok=True)
    ids = [1_000_000 + 37 * i for i in range(young)]
    sexes = _spellings("sex")
    levels = _spellings("qualification") + ["Niveau 5 (BTS, DUT)", "Niveau 3 (CAP, BEP)"]
    housing = _spellings("housing")
    yes_no = ["Oui", "Non", "O", "N", None]
    event_types = _spellings("event_type") + ["Entretien individuel - suivi"] * 20
    statuses = [None] * 6 + ["Réalisé", "Présent", "Absent", "Annulé", "Planifié"]
    themes = _spellings("proposal_theme")
    states = [None, "Prescrit", "Réalisé", "Refus jeune", "Abandon"]
    natures = {
        "Emploi": ["CDD", "CDI", "Intérim", "PEC", "Saisonnier"],
        "Alternance": ["Contrat d'apprentissage", "Contrat de professionnalisation"],
        "Formation": ["Conseil Régional", "Autre formation", "AFPA"],
        "Immersion": ["PMSMP"],
        "Service civique": ["Service civique"],
        "Autre": ["Bénévolat", "Mobilité internationale"],
        "Scolarité": [None],
    }
    rome = list("ABCDEFGHIJKLMN")
    programmes = ["CEJ", "PACEA", "Contrat d'Engagement Jeune", "PAO", "Parrainage", "FSE+"]
    aid_types = [
        "FAJ",
        "Allocation CEJ",
        "Allocation PACEA",
        "Aide mobilité",
        "Fonds ML - aide directe",
        "Fonds d'Aide aux Jeunes",
        "Aide au permis",
    ]
    rows: dict[str, list[list]] = {name: [] for name in HEADERS}

    for i, n in enumerate(ids):
        commune, insee = r.choice(TERRITORY + [("59350", "LILLE")])[::-1]
        rows["jeunes"].append(
            [
                g.young_id_cell(n),
                f"NOM{i}",
                f"Prénom{i}",
                r.choice(sexes),
                g.date_cell(dt.date(year - r.randint(16, 26), r.randint(1, 12), r.randint(1, 28))),
                commune.upper() if r.random() < 0.3 else commune,
                insee if r.random() < 0.5 else None,
                r.choice([None] * 8 + ["Briqueterie", "Le Pont"]),
                r.choice(levels),
                g.date_cell(g.day(r.choice([year, year, year - 1, year - 2]))),
                r.choice(yes_no),
                r.choice(yes_no),
                r.choice(housing + [None]),
                f"06 {i % 100:02d} 00 00 00",
                f"jeune{i}@example.invalid",
                f"{i} rue des Tests",
                "Mme Conseillère",
            ]
        )
    counters = {name: 0 for name in HEADERS}

    def own_id(prefix: str) -> str:
        counters[prefix] += 1
        return f"{prefix[:2].upper()}{counters[prefix]:07d}"

    for n in ids:
        for _ in range(int(r.expovariate(1 / PER_YOUNG["evenements"]))):
            year_of = year if r.random() > 0.003 else year - 1  # a few from another year
            rows["evenements"].append(
                [
                    own_id("evenements"),
                    g.young_id_cell(n),
                    g.date_cell(g.day(year_of)),
                    g.pick(event_types, bad="Visio"),
                    r.choice(statuses),
                    r.choice([None, "Emploi"]),
                    r.choice([None, "Siège", "Antenne Lambersart"]),
                    "M. Conseiller",
                    "RDV de suivi, point sur la recherche d'emploi" if r.random() < 0.3 else None,
                ]
            )
        for _ in range(int(r.expovariate(1 / PER_YOUNG["propositions"]))):
            rows["propositions"].append(
                [
                    own_id("propositions"),
                    g.young_id_cell(n),
                    g.date_cell(g.day()),
                    g.pick(themes, bad="Divers"),
                    r.choice(states),
                    f"A{r.randint(100, 999)}",
                    "Atelier CV",
                    None,
                ]
            )
        for _ in range(int(r.expovariate(1 / PER_YOUNG["situations"]))):
            category = r.choice(list(natures))
            start = g.day(r.choice([year, year, year - 1]))
            end = start + dt.timedelta(days=r.randint(5, 400)) if r.random() < 0.7 else None
            if end and end.year < year and r.random() > 0.01:  # the extraction's filter
                end = dt.date(year, end.month, min(end.day, 28))
            rows["situations"].append(
                [
                    own_id("situations"),
                    g.young_id_cell(n),
                    category,
                    r.choice(natures[category]),
                    g.date_cell(start),
                    g.date_cell(end) if end else g.pick([None], bad="bientôt", bad_rate=0.01),
                    r.choice(rome + [None]),
                    r.choice([None, "En cours", "Terminé", "Prévu"]),
                    r.choice(yes_no),
                    r.choice([None, "Niveau 4", "CAP"]),
                    None,
                ]
            )
        for _ in range(int(r.expovariate(1 / PER_YOUNG["dispositifs"]))):
            entry = g.day(r.choice([year, year - 1]))
            exit_ = entry + dt.timedelta(days=r.randint(30, 500)) if r.random() < 0.5 else None
            if exit_ and exit_.year < year and r.random() > 0.01:
                exit_ = dt.date(year, exit_.month, min(exit_.day, 28))
            rows["dispositifs"].append(
                [
                    g.young_id_cell(n),
                    r.choice(programmes),
                    g.date_cell(entry),
                    g.date_cell(exit_) if exit_ else None,
                    r.choice([None, "Emploi durable", "Abandon"]),
                ]
            )
        for _ in range(int(r.expovariate(1 / PER_YOUNG["aides"]))):
            cents = r.randint(1000, 250000)
            amount = cents / 100 if r.random() < 0.6 else _amount_text(cents)
            rows["aides"].append(
                [
                    own_id("aides"),
                    g.young_id_cell(n),
                    r.choice(aid_types),
                    g.date_cell(g.day()),
                    g.pick([amount], bad="NC"),
                    r.choice([None, "Payé", "Accordé", "Refusé"]),
                    "Loyer" if r.random() < 0.2 else None,
                ]
            )

    counts = {}
    for name, data in rows.items():
        r.shuffle(data) if name != "jeunes" else None
        title = [
            [f"Extraction du 06/01/{year + 1} – Mission Locale {code}"],
            [f"{FILE_NAMES[name]} – année {year}"],
            [],
        ]
        write_workbook(
            folder / f"{FILE_NAMES[name]} {year}.xlsx",
            [("Export", export_lines(HEADERS[name], data, title, f"Total : {len(data)} lignes"))],
        )
        counts[name] = len(data)
    return counts


def structure_yaml(folder: Path, code: str, index: int) -> None:
    """A distinct structure.yaml: its own name and a territory of 6 to 10 communes."""
    territory = [{"insee": c, "name": n} for c, n in TERRITORY[: 6 + index % 5]]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "structure.yaml").write_text(
        # generated data: the public demo key is allowed for it (pipelines/pseudonym.py)
        yaml.safe_dump(
            {"name": f"Mission Locale de test {code}", "territory": territory, "synthetic": True},
            allow_unicode=True,
            sort_keys=False,
        ),
        encoding="utf-8",
    )


def generate_region(raw: Path, structures: int, year: int, young: int = 4000) -> dict[str, int]:
    """`structures` structures S01..SNN for `year`: one structure generated, copied under the
    other codes (each with its own structure.yaml). Returns data rows per export type, for
    the whole region."""
    codes = [f"S{i:02d}" for i in range(1, structures + 1)]
    first = raw / codes[0] / str(year)
    counts = generate_structure(first, codes[0], year, young)
    structure_yaml(raw / codes[0], codes[0], 0)
    for i, code in enumerate(codes[1:], start=1):
        target = raw / code / str(year)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(first, target)
        structure_yaml(raw / code, code, i)
    return {name: n * structures for name, n in counts.items()}
