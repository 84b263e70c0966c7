"""A seeded drop zone for the report tests: two years of one structure (so trends and Y-1
shares exist), a second structure for the regional view, and a small commune whose cells are
small (so masking has work to do)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from tests.builders import (
    AIDS,
    EVENTS,
    JEUNES_HEADERS,
    PROGRAMMES,
    PROPOSALS,
    SITUATIONS,
    TERRITORY,
    write_structure,
    write_xlsx,
    young,
)

OTHER_TERRITORY = [
    {"insee": "59350", "name": "Lille"},
    {"insee": "59009", "name": "Villeneuve-d'Ascq"},
]
# La Madeleine is small on purpose: its cells fall under a masking threshold of 3.
COMMUNE_WEIGHTS = {"La Madeleine": 1, "Lambersart": 10, "Marcq-en-Barœul": 8, "Lille": 1, None: 0.3}
QPV = {"Lambersart": "Pacot-Vandracq", "Marcq-en-Barœul": "Briqueterie"}
LEVELS = ["Niveau 5", "Niveau 4", "CAP", "Sans diplôme"]
HOUSING = ["Chez les parents", "Locataire", "Foyer"]
EVENT_TYPES = ["Entretien individuel", "Atelier", "SMS", "E-mail", "Téléphone", "Courrier"]
THEMES = ["Emploi", "Formation", "Orientation", "Santé", "Logement"]
JOBS = [
    ("Emploi", "CDD"),
    ("Emploi", "CDD"),
    ("Emploi", "Intérim"),
    ("Emploi", "CDI"),
    ("Emploi", "PEC"),
    ("Emploi", "Création d'entreprise"),
    ("Alternance", "Apprentissage"),
    ("Alternance", "Professionnalisation"),
    ("Formation", "Conseil Régional"),
    ("Formation", "Formation initiale"),
    ("Formation", "AFPA"),
    ("Immersion", "PMSMP"),
    ("Service civique", "Service civique"),
]
SECTORS = "ADFGHKMN"


def _day(rng: random.Random, year: int, start: int = 1, end: int = 360) -> date:
    return date(year, 1, 1) + timedelta(days=rng.randint(start - 1, end - 1))


def _fmt(d: date | None) -> str | None:
    return d.strftime("%d/%m/%Y") if d else None


def write_partition(
    raw: Path,
    code: str,
    year: int,
    people: int,
    seed: int,
    communes: dict[str | None, float] | None = None,
) -> None:
    """One partition raw/<code>/<year>/ with `people` young people and their exports."""
    rng = random.Random(seed)
    communes = communes or COMMUNE_WEIGHTS
    names, weights = list(communes), list(communes.values())
    d = raw / code / str(year)
    jeunes, events, situations, programmes, aids, proposals = [], [], [], [], [], []
    for i in range(people):
        yid = f"{code}{i:04d}"
        commune = rng.choices(names, weights)[0]
        new = rng.random() < 0.55
        first = _day(rng, year) if new else _day(rng, year - 2)
        birth = date(year - rng.randint(16, 26), rng.randint(1, 12), rng.randint(1, 28))
        qpv = QPV.get(commune) if rng.random() < 0.25 else None
        jeunes.append(
            young(
                yid,
                sex=rng.choice("FH"),
                birth=_fmt(birth),
                commune=commune,
                qpv=qpv,
                level=rng.choice(LEVELS),
                first=_fmt(first),
                rqth="Oui" if rng.random() < 0.08 else "Non",
                licence=rng.choice(["Oui", "Non"]),
                housing=rng.choice(HOUSING),
            )
        )
        for _ in range(rng.randint(0, 7)):
            events.append(
                [
                    yid,
                    _fmt(_day(rng, year)),
                    rng.choice(EVENT_TYPES),
                    rng.choice([None, None, "Réalisé", "Absent"]),
                ]
            )
        for _ in range(rng.randint(0, 3)):
            proposals.append([yid, _fmt(_day(rng, year)), rng.choice(THEMES), None])
        _situations(rng, yid, year, situations)
        _programmes_and_aids(rng, yid, year, programmes, aids)
    write_xlsx(d / "jeunes.xlsx", JEUNES_HEADERS, jeunes)
    write_xlsx(d / "evenements.xlsx", EVENTS, events)
    write_xlsx(d / "situations.xlsx", SITUATIONS, situations)
    write_xlsx(d / "dispositifs.xlsx", PROGRAMMES, programmes)
    write_xlsx(d / "aides.xlsx", AIDS, aids)
    write_xlsx(d / "propositions.xlsx", PROPOSALS, proposals)


def _situations(rng: random.Random, yid: str, year: int, out: list) -> None:
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        category, nature = rng.choice(JOBS)
        start = _day(rng, year, 1, 300)
        end = start + timedelta(days=rng.randint(20, 200)) if rng.random() < 0.6 else None
        out.append(
            [
                yid,
                category,
                nature,
                _fmt(start),
                _fmt(end),
                rng.choice(SECTORS) if category in ("Emploi", "Alternance") else None,
                None,
                "Oui" if nature == "PEC" else None,
                rng.choice(["CAP", "Niveau 4", "BTS"]) if category == "Alternance" else None,
            ]
        )


def _programmes_and_aids(
    rng: random.Random, yid: str, year: int, programmes: list, aids: list
) -> None:
    draw = rng.random()
    if draw < 0.35:
        entry = _day(rng, year, 1, 200)
        programmes.append([yid, "CEJ", _fmt(entry), _fmt(entry + timedelta(days=180))])
        for month in range(rng.randint(1, 4)):
            aids.append(
                [
                    yid,
                    "Allocation CEJ",
                    _fmt(entry + timedelta(days=30 * month + 5)),
                    str(rng.choice([300, 450, 528])),
                    "Versé",
                ]
            )
    elif draw < 0.5:
        programmes.append([yid, "PACEA", _fmt(_day(rng, year)), None])
        aids.append(
            [yid, "Allocation PACEA", _fmt(_day(rng, year)), str(rng.choice([100, 250, 500])), None]
        )
    elif draw < 0.55:
        programmes.append([yid, "Parrainage", _fmt(_day(rng, year)), None])
    if rng.random() < 0.15:
        aids.append(
            [yid, "FAJ", _fmt(_day(rng, year)), str(rng.choice([150, 210, 300])), "Accordé"]
        )
    if rng.random() < 0.15:
        cents = rng.choice(["12,40", "25,70", "8,05", "31,50"])
        aids.append([yid, "Aide mobilité", _fmt(_day(rng, year)), cents, None])
    if rng.random() < 0.06:
        aids.append(
            [
                yid,
                rng.choice(["Fonds ML - aide directe", "Fonds ML - aide indirecte"]),
                _fmt(_day(rng, year)),
                str(rng.choice([100, 200])),
                "Payé",
            ]
        )


def write_drop_zone(raw: Path) -> Path:
    """TST 2024 and 2025 (three communes, La Madeleine small) and ML2 2025."""
    write_structure(raw, "TST", TERRITORY)
    write_partition(raw, "TST", 2024, people=150, seed=2024)
    write_partition(raw, "TST", 2025, people=170, seed=2025)
    write_structure(raw, "ML2", OTHER_TERRITORY, name="Mission Locale Deux")
    write_partition(
        raw,
        "ML2",
        2025,
        people=60,
        seed=7,
        communes={"Lille": 5, "Villeneuve-d'Ascq": 3, "Lambersart": 0.3},
    )
    return raw
