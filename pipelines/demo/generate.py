"""Seeded demo data: a synthetic i-milo drop zone whose figures are those of the 2025 report.

`write_demo(raw_dir)` writes `raw_dir/MNO/structure.yaml` and the 2024 and 2025 exports of a
fictitious population of young people. Applying the rules of `indicators.md` to the 2025
files gives every figure of `targets/report-2025-expected.csv` and every share of
`targets/report-2025-shares.csv`; the 2024 files give the figures of
`targets/targets-2024.yaml`, chosen so that the report's year-over-year statements hold.
No figure is written in this code: all come from the files under `targets/`.

The population is built constructively, not searched for. Each indicator family (CEJ,
employment, training, new arrivals, ...) has exact margins; people are created or reused
family by family, and a person is reused for another family only when their attributes fit
that family's remaining margins ("caps"). What no existing person can fill is filled by a
new person whose attributes are taken from the remaining margins, so every margin ends at
exactly zero. Dates come last, inside the windows each rule needs (a CEJ measure within the
CEJ period, an apprentice's follow-up event within the contract, ...).

Every personal value (names, phones, e-mails, addresses, advisers) is obviously fake.
The same seed writes the same bytes: every choice comes from seeded generators and the files
carry the extraction date, never the time they were written.

    python -m pipelines.demo.generate --raw raw --seed 2025 [--notes]

`--notes` lists the rows written to be rejected (quarantine) or kept without counting, with
their file, sheet and row number as Excel shows it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import math
import multiprocessing
import os
import random
import re
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook

TARGETS_DIR = Path(__file__).resolve().parent / "targets"
STRUCTURE = "MNO"
DEFAULT_TODAY = dt.date(2026, 1, 6)
OUT_KEY = "99999"  # "Hors territoire" in indicator rows
OUT_COMMUNE = ("59350", "LILLE")  # where out-of-territory young people live
DAY = dt.timedelta(days=1)
CEJ_MONTHLY_MAX = 561  # an allowance is paid at most once a month, up to ~561 € (report, CEJ)

# ---------------------------------------------------------------------------------------------
# Report categories (indicators.md) and the raw spellings i-milo uses for them (exports.md).
# The first spelling of each list is the most frequent one.
# ---------------------------------------------------------------------------------------------

BANDS = ("16-17 ans", "18-21 ans", "22-25 ans", "26 ans et +")
BAND_AGES = {
    "16-17 ans": (16, 17),
    "18-21 ans": (18, 21),
    "22-25 ans": (22, 25),
    "26 ans et +": (26, 29),
}
QUALS = ("Supérieur au BAC", "BAC", "BEP/CAP", "Aucun diplôme")
SEXES = ("Femmes", "Hommes")
CONTACT_TYPES = ("Entretien", "SMS", "E-mail", "Téléphone", "Autres")
MEASURES = (
    "Emploi",
    "Formation",
    "Immersion en entreprise",
    "Alternance",
    "Service Civique",
    "Autres",
)
MEASURE_KIND = {
    "Emploi": "emploi",
    "Formation": "form",
    "Immersion en entreprise": "imm",
    "Alternance": "alt",
    "Service Civique": "sc",
    "Autres": "autre",
}
ROME = {
    "A": "Agriculture et pêche, espaces naturels et espaces verts, soins aux animaux",
    "B": "Arts et façonnage d'ouvrages d'art",
    "C": "Banque, assurance, immobilier",
    "D": "Commerce, vente et grande distribution",
    "E": "Communication, média et multimédia",
    "F": "Construction, bâtiment et travaux publics",
    "G": "Hôtellerie-restauration, tourisme, loisirs et animation",
    "H": "Industrie",
    "I": "Installation et maintenance",
    "J": "Santé",
    "K": "Services à la personne et à la collectivité",
    "L": "Spectacle",
    "M": "Support à l'entreprise",
    "N": "Transport et logistique",
}
ROME_LETTER = {label: letter for letter, label in ROME.items()}
NR = "Non renseigné"

RAW_SEX = {"Femmes": ["F", "Femme", "Féminin"], "Hommes": ["H", "Homme", "M", "Masculin"]}
RAW_QUAL = {
    "Supérieur au BAC": [
        "Niveau 5 (BTS, DUT)",
        "Niveau 6 (Licence)",
        "Bac+2",
        "Niveau 7 (Master)",
        "BTS",
        "Licence",
        "III",
        "Niveau 5",
    ],
    "BAC": ["Niveau 4", "Niveau 4 (BAC)", "BAC", "Bac validé", "IV"],
    "BEP/CAP": ["Niveau 3 (CAP, BEP)", "Niveau 3", "CAP", "BEP", "CAP/BEP", "V"],
    "Aucun diplôme": [
        "Infra 3",
        "Sans diplôme",
        "Aucun diplôme",
        "Niveau 2",
        "Niveau 1",
        "V bis",
        "Vbis",
        "VI",
    ],
}
RAW_PREPARED = {
    "Supérieur au BAC": ["BTS", "Niveau 5 (BTS, DUT)", "Licence", "Bac+3", "Master"],
    "BAC": ["Niveau 4 (BAC pro)", "BAC", "Niveau 4"],
    "BEP/CAP": ["CAP", "Niveau 3 (CAP, BEP)", "BEP"],
}
RAW_HOUSING = {
    "Logement parents": ["Chez les parents", "Parents", "Famille"],
    "Logement autonome": ["Logement autonome", "Locataire", "Autonome", "Propriétaire"],
    "Logement précaire": [
        "Hébergé chez un tiers",
        "Foyer",
        "FJT",
        "Précaire",
        "CHRS",
        "Hôtel",
        "Sans domicile",
        "Logement précaire",
    ],
}
RAW_EVENT = {
    "Entretien": [
        "Entretien individuel",
        "Entretien individuel - suivi",
        "Atelier",
        "Information collective",
        "Entretien collectif",
        "Entretien",
    ],
    "SMS": ["SMS"],
    "E-mail": ["E-mail", "Mail", "Email", "Courriel"],
    "Téléphone": ["Appel téléphonique", "Téléphone", "Tel"],
    "Autres": ["Courrier", "Médiation", "Visite", "Entretien partenaire", "Autre"],
}
EVENT_DONE = ["", "Réalisé", "Présent", "Non précisé"]
EVENT_NOT_DONE = ["Absent", "Annulé", "Reporté", "Planifié"]
RAW_THEME = {
    "Accès à l'emploi": ["Emploi", "Accès à l'emploi"],
    "Formation": ["Formation"],
    "Projet professionnel / Orientation": ["Projet professionnel", "Orientation"],
    "Insertion sociale": [
        "Santé",
        "Logement",
        "Ressources",
        "Mobilité",
        "Justice",
        "Citoyenneté",
        "Loisirs, sport, culture",
        "Accès aux droits",
        "Insertion sociale",
    ],
}
PROPOSAL_STATES = ["Prescrit", "Réalisé", "", "Refus jeune", "Refus tiers", "Abandon"]
RAW_AID = {"FAJ": ["FAJ", "Fonds d'Aide aux Jeunes"]}
AID_GRANTED = ["", "Payé", "Accordé", "Versé"]
AID_NOT_GRANTED = ["Refusé", "Annulé", "En attente"]
RAW_PROGRAMME = {"CEJ": ["CEJ", "Contrat d'Engagement Jeune"]}
YES = ["Oui", "O", "1", "Vrai", "True"]
NO = ["Non", "N", "0", "Faux", "False"]

FAKE_LAST = ["EXEMPLE", "FICTIF", "DEMO", "FACTICE", "SPECIMEN", "TESTEUR", "MODELE", "IMAGINAIRE"]
FAKE_FIRST = [
    "Alex",
    "Camille",
    "Sacha",
    "Charlie",
    "Dominique",
    "Claude",
    "Noa",
    "Lou",
    "Eden",
    "Morgan",
]
FAKE_STREETS = [
    "rue de l'Exemple",
    "allée Fictive",
    "avenue du Test",
    "impasse Imaginaire",
    "place de la Démo",
]
FAKE_ADVISERS = [
    "Conseiller Démo 1",
    "Conseillère Démo 2",
    "Conseiller Test 3",
    "Conseillère Fictive 4",
    "Conseiller Exemple 5",
    "Conseillère Exemple 6",
]
SITES = [
    "Antenne La Madeleine",
    "Siège Lambersart",
    "Antenne Marcq-en-Barœul",
    "Permanence Wambrechies",
    "Permanence Pérenchies",
]


# ---------------------------------------------------------------------------------------------
# Exact arithmetic and small helpers
# ---------------------------------------------------------------------------------------------


def round_half_up(x: Fraction) -> int:
    """Round a non-negative or negative fraction half up (towards +infinity on ties)."""
    return math.floor(x + Fraction(1, 2))


def round_half_away(x: Fraction) -> int:
    """Round half away from zero, as the report prints year-over-year changes."""
    return int(math.copysign(math.floor(abs(x) + Fraction(1, 2)), x))


def share_pct(count: int, total: int) -> int:
    return round_half_up(Fraction(100 * count, total))


def change_pct(now: int | Decimal, before: int | Decimal) -> int:
    return round_half_away(
        Fraction(Decimal(now) - Decimal(before)) * 100 / Fraction(Decimal(before))
    )


def apportion(
    total: int,
    weights: Sequence[float | int],
    lo: Sequence[int] | None = None,
    hi: Sequence[int] | None = None,
) -> list[int]:
    """Split `total` proportionally to `weights` (largest remainder), each part within [lo, hi].

    Parts whose share falls outside their bounds are pinned to the bound and the rest is
    shared again among the others, so the final adjustment moves at most one unit per part.
    """
    n = len(weights)
    lo = list(lo) if lo is not None else [0] * n
    hi = list(hi) if hi is not None else [total] * n
    if not sum(lo) <= total <= sum(hi):
        raise ValueError(f"cannot split {total} within bounds {sum(lo)}..{sum(hi)}")
    w = [Fraction(x) for x in weights]
    pinned: dict[int, int] = {}
    while True:
        free = [i for i in range(n) if i not in pinned]
        rest = total - sum(pinned.values())
        wsum = sum(w[i] for i in free)
        quota = {
            i: (Fraction(rest) * w[i] / wsum if wsum else Fraction(rest, len(free))) for i in free
        }
        low = [i for i in free if quota[i] < lo[i]]
        high = [i for i in free if quota[i] > hi[i]]
        if not low and not high:
            break
        for i in (
            low
            if sum(lo[i] - quota[i] for i in low) >= sum(quota[i] - hi[i] for i in high)
            else high
        ):
            pinned[i] = lo[i] if i in low else hi[i]
    quota.update({i: Fraction(v) for i, v in pinned.items()})
    parts = [min(max(math.floor(quota[i]), lo[i]), hi[i]) for i in range(n)]
    while sum(parts) < total:
        i = max((i for i in range(n) if parts[i] < hi[i]), key=lambda i: (quota[i] - parts[i], -i))
        parts[i] += 1
    while sum(parts) > total:
        i = min((i for i in range(n) if parts[i] > lo[i]), key=lambda i: (quota[i] - parts[i], i))
        parts[i] -= 1
    return parts


def expand(counts: dict[Any, int]) -> list[Any]:
    """A multiset as a list: {"a": 2, "b": 1} -> ["a", "a", "b"]."""
    return [k for k, n in counts.items() for _ in range(n)]


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def age_at(birth: dt.date, ref: dt.date) -> int:
    return ref.year - birth.year - ((ref.month, ref.day) < (birth.month, birth.day))


def band_of(age: int) -> str:
    for band, (lo, hi) in BAND_AGES.items():
        if lo <= age <= hi:
            return band
    return BANDS[0] if age < 16 else BANDS[-1]


def prev_band(band: str) -> str | None:
    i = BANDS.index(band)
    return BANDS[i - 1] if i else None


def birth_bounds(constraints: Iterable[tuple[dt.date, int, int]]) -> tuple[dt.date, dt.date]:
    """Birth dates for which age at each ref date lies in [lo, hi] (inclusive interval)."""
    first, last = dt.date(1950, 1, 1), dt.date(2100, 1, 1)
    for ref, lo, hi in constraints:
        first = max(first, add_years(ref, -(hi + 1)) + DAY)
        last = min(last, add_years(ref, -lo))
    return first, last


def excel_serial(d: dt.date) -> int:
    return (d - dt.date(1899, 12, 30)).days


def fold(text: str) -> str:
    """The contract's folding (exports.md, Headers): used here to check commune spellings."""
    import unicodedata

    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    out, space = [], False
    for c in text:
        if c.isalnum():
            out.append(c)
            space = False
        elif not space:
            out.append(" ")
            space = True
    return "".join(out).strip()


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------


@dataclass
class Targets:
    """Every figure one year of demo data must produce, plus the reference data it needs."""

    year: int
    communes: list[tuple[str, str]]  # the territory, in report order
    totals: dict[str, Any] = field(default_factory=dict)
    by_commune: dict[str, dict[str, Any]] = field(default_factory=dict)
    breakdowns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    grids: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    by_type_commune: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    qpv_communes: dict[str, str] = field(default_factory=dict)

    def total(self, ind: str) -> int:
        return self.totals[ind]

    def com(self, ind: str, insee: str) -> int:
        return self.by_commune.get(ind, {}).get(insee, 0)

    def bd(self, ind: str, dim: str) -> dict[str, Any]:
        return self.breakdowns.get(ind, {}).get(dim, {})

    def grid(self, ind: str, dim1: str, dim2: str) -> dict[str, dict[str, Any]]:
        return self.grids.get(ind, {}).get(f"{dim1} x {dim2}", {})

    def aid(self, ind: str, aid_type: str, insee: str) -> Any:
        return self.by_type_commune.get(ind, {}).get(aid_type, {}).get(insee, 0)

    def rows(self) -> dict[tuple[str, str, str, str, str, str], Any]:
        """Every target as an `indicator_values` key (empty strings for nulls) -> value."""
        out: dict[tuple[str, str, str, str, str, str], Any] = {}
        for ind, v in self.totals.items():
            out[(ind, "", "", "", "", "")] = v
        for ind, per in self.by_commune.items():
            for insee, v in per.items():
                out[(ind, insee, "", "", "", "")] = v
        for ind, dims in self.breakdowns.items():
            for dim, cats in dims.items():
                for cat, v in cats.items():
                    out[(ind, "", dim, cat, "", "")] = v
        for ind, grids in self.grids.items():
            for key, rows in grids.items():
                d1, d2 = key.split(" x ")
                for c1, cols in rows.items():
                    for c2, v in cols.items():
                        out[(ind, "", d1, c1, d2, c2)] = v
        for ind, types in self.by_type_commune.items():
            for aid_type, per in types.items():
                for insee, v in per.items():
                    out[(ind, insee, "aid_type", aid_type, "", "")] = v
        return out


def _number(text: str) -> Any:
    return Decimal(text) if "." in text else int(text)


def _merge(base: dict, extra: dict) -> None:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def load_structure() -> dict[str, Any]:
    return yaml.safe_load((TARGETS_DIR / "structure.yaml").read_text(encoding="utf-8"))


def _territory() -> list[tuple[str, str]]:
    return [(c["insee"], c["name"]) for c in load_structure()["territory"]]


def _from_yaml(data: dict[str, Any], t: Targets) -> None:
    def numbers(node: Any) -> Any:
        if isinstance(node, dict):
            return {str(k): numbers(v) for k, v in node.items()}
        return _number(str(node))

    for key in ("totals", "by_commune", "breakdowns", "grids", "by_type_commune"):
        _merge(getattr(t, key), numbers(data.get(key) or {}))
    t.qpv_communes.update({k: str(v) for k, v in (data.get("qpv_communes") or {}).items()})


def _fill_missing_aid_cells(t: Targets) -> None:
    """README: a printed commune cell that contradicts its total is left out of the CSV; it is
    whatever makes the communes add up to the total."""
    totals = {
        "aid_amount": t.breakdowns.get("aid_amount", {}).get("aid_type", {}),
        "aid_recipients": t.breakdowns.get("aid_recipients", {}).get("aid_type", {}),
        "aid_files": t.breakdowns.get("aid_files", {}).get("aid_type", {}),
    }
    for ind, types in t.by_type_commune.items():
        for aid_type, per in types.items():
            missing = [insee for insee, _ in t.communes if insee not in per]
            if not missing:
                continue
            if len(missing) != 1 or aid_type not in totals[ind]:
                raise ValueError(f"{ind}/{aid_type}: cannot derive communes {missing}")
            per[missing[0]] = totals[ind][aid_type] - sum(per.values())


def load_targets(year: int) -> Targets:
    """The targets of 2025 (report CSV + choices) or 2024 (targets-2024.yaml)."""
    t = Targets(year=year, communes=_territory())
    if year == 2024:
        _from_yaml(yaml.safe_load((TARGETS_DIR / "targets-2024.yaml").read_text("utf-8")), t)
        return t
    if year != 2025:
        raise ValueError(f"no demo targets for {year}")
    with open(TARGETS_DIR / "report-2025-expected.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            ind, insee, d1, c1 = (
                row["indicator"],
                row["commune_insee"],
                row["dimension_1"],
                row["category_1"],
            )
            d2, c2, value = row["dimension_2"], row["category_2"], _number(row["value"])
            if insee and d1 == "aid_type":
                t.by_type_commune.setdefault(ind, {}).setdefault(c1, {})[insee] = value
            elif insee:
                t.by_commune.setdefault(ind, {})[insee] = value
            elif d2:
                t.grids.setdefault(ind, {}).setdefault(f"{d1} x {d2}", {}).setdefault(c1, {})[
                    c2
                ] = value
            elif d1:
                t.breakdowns.setdefault(ind, {}).setdefault(d1, {})[c1] = value
            else:
                t.totals[ind] = value
    _from_yaml(yaml.safe_load((TARGETS_DIR / "choices-2025.yaml").read_text("utf-8")), t)
    _fill_missing_aid_cells(t)
    return t


def statement_value(t: Targets, row: dict[str, str]) -> Any:
    """The count a row of report-2025-shares.csv speaks of (categories joined by ' + ' add up)."""
    ind, dim1, dim2 = row["indicator"], row["dimension_1"], row["dimension_2"]
    if not dim1:
        return t.total(ind)
    value = 0
    for cat in row["categories"].split(" + "):
        if dim2 and not row["category_2"]:
            value += sum(t.grid(ind, dim1, dim2)[cat].values())
        elif dim2:
            value += t.grid(ind, dim1, dim2)[cat][row["category_2"]]
        else:
            value += t.bd(ind, dim1)[cat]
    return value


def check_statements(t2025: Targets, t2024: Targets) -> list[str]:
    """Every row of report-2025-shares.csv, checked against the targets with exact arithmetic."""
    errors = []
    with open(TARGETS_DIR / "report-2025-shares.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            kind, want = row["kind"], int(row["value"])
            ind = row["indicator"]
            if kind == "share_pct":
                got = share_pct(statement_value(t2025, row), t2025.total(ind))
            elif kind == "share_pct_prev_year":
                got = share_pct(statement_value(t2024, row), t2024.total(ind))
            elif kind == "merged_count":
                got = statement_value(t2025, row)
            elif kind == "change_pct":
                got = change_pct(statement_value(t2025, row), statement_value(t2024, row))
            else:
                raise ValueError(f"unknown kind {kind}")
            if got != want:
                errors.append(
                    f"{ind} {row['dimension_1']} {row['categories']} {kind}: {got} != {want}"
                )
    return errors


# ---------------------------------------------------------------------------------------------
# The population
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Slot:
    """A situation to write: its kind and where in time its start may lie.

    `where`: `cej` a CEJ measure (within the CEJ period), `out` a CEJ young person's situation
    outside their CEJ period, `free` anywhere in the year, `prev` started the year before.
    """

    kind: str  # emploi, alt, form, imm, sc, autre
    where: str
    tag: str = ""  # pec / cui: the employment contracts of contract type CUI
    start: dt.date | None = None
    end: dt.date | None = None
    sid: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Person:
    """One young person in one year's exports (the same pid in both years is the same person)."""

    pid: str
    commune: str  # INSEE code of a territory commune, OUT_KEY outside, "" unknown
    seg: str  # A: CEJ youth; B: interviewed, not CEJ; C: in contact only; D: no contact
    sex: str | None = None
    qual: str | None = None
    band31: str | None = None  # age band at 31/12 of the year
    band_fr: str | None = None  # age band at first reception (new arrivals)
    band_entry: str | None = None  # age band at CEJ entry (CEJ entrants)
    qpv: str | None = None
    rqth: bool = False
    licence: bool | None = None
    housing: str | None = None
    is_na: bool = False  # first received during the year
    history: bool = False  # has a situation or programme started before the year
    prev: Person | None = None  # the same young person in the previous year's data
    entrant: bool = False  # entered CEJ during the year
    birth: dt.date | None = None
    fr: dt.date | None = None
    no_fr: bool = False  # first-reception date left empty in the export
    cej_entry: dt.date | None = None
    cej_true_exit: dt.date | None = None
    fam: set[str] = field(default_factory=set)
    slots: list[Slot] = field(default_factory=list)
    programmes: list[dict[str, Any]] = field(default_factory=list)
    weight: float = 1.0
    raw: dict[str, Any] = field(default_factory=dict)

    def count(self, kind: str, where: str | None = None) -> int:
        return sum(1 for s in self.slots if s.kind == kind and (where is None or s.where == where))


class Caps:
    """The remaining counts of a family's margins. A person joins a family only where every
    margin still has room, so that whatever is left can be filled by new people exactly."""

    def __init__(self, name: str, margins: dict[str, dict[Any, int]]) -> None:
        self.name = name
        self.rem = {
            dim: Counter({k: int(v) for k, v in cats.items()}) for dim, cats in margins.items()
        }
        sums = {dim: sum(c.values()) for dim, c in self.rem.items()}
        if len(set(sums.values())) > 1:
            raise ValueError(f"{name}: margins do not add up to one total: {sums}")

    def fits(self, attrs: dict[str, Any], w: int = 1) -> bool:
        return all(self.rem[d][v] >= w for d, v in attrs.items())

    def take(self, attrs: dict[str, Any], w: int = 1) -> None:
        for d, v in attrs.items():
            self.rem[d][v] -= w
            if self.rem[d][v] < 0:
                raise ValueError(f"{self.name}: {d}={v} is over its target")

    def pick(
        self, rng: random.Random, dim: str, allowed: Callable[[Any], bool] = lambda v: True
    ) -> Any:
        cats = [
            (k, n)
            for k, n in sorted(self.rem[dim].items(), key=lambda kv: str(kv[0]))
            if n > 0 and allowed(k)
        ]
        if not cats:
            raise ValueError(f"{self.name}: nothing left in {dim}")
        return rng.choices([k for k, _ in cats], [n for _, n in cats])[0]

    def left(self) -> int:
        return sum(next(iter(self.rem.values())).values()) if self.rem else 0

    def check_empty(self) -> None:
        for d, c in self.rem.items():
            if any(c.values()):
                raise ValueError(f"{self.name}: {d} not filled: {dict(+c)} {dict(-c)}")


class IdPool:
    """Seven-digit young-person ids, unique across every year of the demo."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.used = rng, set()

    def new(self) -> str:
        while True:
            pid = str(self.rng.randrange(1_000_000, 10_000_000))
            if pid not in self.used:
                self.used.add(pid)
                return pid


@dataclass
class YearData:
    """One year's exports as rows (contract column keys, values before formatting)."""

    year: int
    targets: Targets
    persons: list[Person]
    rows: dict[str, list[dict[str, Any]]]
    extraction: dt.date


def rand_date(rng: random.Random, lo: dt.date, hi: dt.date, weekday: bool = False) -> dt.date:
    span = (hi - lo).days
    if span < 0:
        raise ValueError(f"empty window {lo}..{hi}")
    for _ in range(6 if weekday else 1):
        d = lo + dt.timedelta(days=rng.randint(0, span))
        if not weekday or d.weekday() < 5:
            return d
    return d


def in_windows(
    rng: random.Random, windows: Sequence[tuple[dt.date, dt.date]], weekday: bool = True
) -> dt.date:
    windows = [(a, b) for a, b in windows if a <= b]
    a, b = rng.choices(windows, [(b - a).days + 1 for a, b in windows])[0]
    return rand_date(rng, a, b, weekday)


# ---------------------------------------------------------------------------------------------
# Building one year
# ---------------------------------------------------------------------------------------------


class YearBuilder:
    """Builds one year's population and rows from its targets (and the year before, if any)."""

    def __init__(
        self,
        t: Targets,
        rng: random.Random,
        ids: IdPool,
        today: dt.date,
        prev: YearData | None = None,
    ) -> None:
        self.t, self.rng, self.ids, self.today, self.prev = t, rng, ids, today, prev
        self.y = t.year
        self.jan1, self.dec31 = dt.date(self.y, 1, 1), dt.date(self.y, 12, 31)
        self.terr = [insee for insee, _ in t.communes]
        extra = [k for k in t.by_commune.get("youth_in_contact", {}) if k not in self.terr]
        self.keys = self.terr + extra  # per-commune keys with targets (OUT_KEY in 2024)
        self.persons: list[Person] = []
        self.c_free = {
            c: t.com("youth_in_contact", c) - t.com("youth_interviewed", c) for c in self.keys
        }
        self.carried: set[str] = set()
        self.caps = self._caps()
        self.extraction = min(today, dt.date(self.y + 1, 1, 7))

    # --- margins ------------------------------------------------------------------------------

    def _caps(self) -> dict[str, Caps]:
        """The margins of every family whose members' own attributes are counted."""
        t = self.t

        def qual_sex(ind: str) -> dict[str, dict[str, int]]:
            return {"qual": t.bd(ind, "qualification"), "sex": t.bd(ind, "sex")}

        yi_total, qpv = t.total("youth_interviewed"), t.bd("youth_interviewed", "qpv")
        rqth = t.total("rqth_youth")
        na_c = t.by_commune["new_arrivals"]
        na_qpv = {}
        for c, n in na_c.items():
            na_qpv[(c, True)] = t.com("new_arrivals_qpv", c)
            na_qpv[(c, False)] = n - t.com("new_arrivals_qpv", c)
        aq = {
            (b, q): n
            for b, row in t.grid("new_arrivals", "age_band", "qualification").items()
            for q, n in row.items()
        }
        sa = {
            (s, b): n
            for s, row in t.grid("new_arrivals", "sex", "age_band").items()
            for b, n in row.items()
        }
        return {
            "YI": Caps(
                "youth_interviewed",
                {
                    "qual": t.bd("youth_interviewed", "qualification"),
                    "sex": t.bd("youth_interviewed", "sex"),
                    "band": t.bd("youth_interviewed", "age_band"),
                    "qpv": {**qpv, "": yi_total - sum(qpv.values())},
                    "rqth": {True: rqth, False: yi_total - rqth},
                },
            ),
            "CE": Caps(
                "cej_entries",
                {
                    "qual": t.bd("cej_entries", "qualification"),
                    "sex": t.bd("cej_entries", "sex"),
                    "band": t.bd("cej_entries", "age_band"),
                    "qpv": {
                        True: t.bd("cej_entries", "qpv_status")["QPV"],
                        False: t.bd("cej_entries", "qpv_status")["Hors QPV"],
                    },
                },
            ),
            "EY": Caps(
                "employment_youth",
                {
                    "qual": t.bd("employment_youth", "qualification"),
                    "sex": t.bd("employment_youth", "sex"),
                    "band": t.bd("employment_youth", "age_band"),
                },
            ),
            "TY": Caps("training_youth", qual_sex("training_youth")),
            "IM": Caps("immersions", qual_sex("immersions")),
            "AP": Caps(
                "apprenticeship_contracts", {"sex": t.bd("apprenticeship_contracts", "sex")}
            ),
            "SP": Caps(
                "sponsorship_entries",
                {
                    "qual": t.bd("sponsorship_entries", "qualification"),
                    "sex": t.bd("sponsorship_entries", "sex"),
                    "commune": t.by_commune["sponsorship_entries"],
                },
            ),
            "NA": Caps("new_arrivals", {"commune": na_c, "qpv": na_qpv, "aq": aq, "sa": sa}),
        }

    # --- people -------------------------------------------------------------------------------

    def _new(self, commune: str, seg: str, **attrs: Any) -> Person:
        p = Person(pid=self.ids.new(), commune=commune, seg=seg, **attrs)
        p.weight = min(self.rng.lognormvariate(0, 0.7), 4.0)  # how much contact a person gets
        self.persons.append(p)
        return p

    def _filler_seg(self, commune: str, must_contact: bool = False) -> str:
        """New people of a family live in contact (C) while the commune has room, else without
        contact (D); a few are left without contact on purpose."""
        if self.c_free.get(commune, 0) > 0 and (must_contact or self.rng.random() > 0.06):
            self.c_free[commune] -= 1
            return "C"
        if must_contact:
            raise ValueError(f"no room left in contact for commune {commune}")
        return "D"

    def _carry(self, donor: Person, seg: str) -> Person:
        """The previous year's young person, again this year (same id, same facts)."""
        self.carried.add(donor.pid)
        p = Person(
            pid=donor.pid,
            commune=donor.commune,
            seg=seg,
            sex=donor.sex,
            qual=donor.qual,
            band31=band_of(age_at(donor.birth, self.dec31)),
            qpv=donor.qpv,
            rqth=donor.rqth,
            licence=donor.licence,
            housing=donor.housing,
            prev=donor,
            birth=donor.birth,
            fr=donor.fr,
            no_fr=donor.no_fr,
            history=True,
            raw=dict(donor.raw),
        )
        p.weight = donor.weight
        self.persons.append(p)
        return p

    def _donors(self, role: str, commune: str | None) -> list[Person]:
        """People of the previous year who go on into this year in the given role."""
        if self.prev is None:
            return []
        out = []
        for d in self.prev.persons:
            if d.pid in self.carried or d.commune not in self.terr or d.birth is None:
                continue
            if commune is not None and d.commune != commune:
                continue
            if role == "cej" and not (d.cej_true_exit and d.cej_true_exit >= self.jan1):
                continue
            if role in ("alt", "sc") and not self._running_slot(d, role):
                continue
            if role == "any" and d.no_fr:
                continue
            if age_at(d.birth, self.dec31) > BAND_AGES[BANDS[-1]][1]:  # too old to be followed
                continue
            out.append(d)
        self.rng.shuffle(out)
        return out

    def _running_slot(self, d: Person, kind: str) -> Slot | None:
        """A situation of last year's person still running a month into this year."""
        for s in d.slots:
            if (
                s.kind == kind
                and s.start < self.jan1
                and (s.end is None or s.end > self.jan1 + 30 * DAY)
            ):
                return s
        return None

    def by_commune(self, commune: str, segs: str = "ABCD") -> list[Person]:
        return [p for p in self.persons if p.commune == commune and p.seg in segs]

    def _prefer(self, people: list[Person], order: str = "BCDA") -> list[Person]:
        """Shuffle, then put the preferred segments first (B: the accompanied youth)."""
        people = list(people)
        self.rng.shuffle(people)
        return sorted(people, key=lambda p: order.index(p.seg))

    @staticmethod
    def a_ey(p: Person) -> dict[str, Any]:
        return {"qual": p.qual, "sex": p.sex, "band": p.band31}

    @staticmethod
    def a_qs(p: Person) -> dict[str, Any]:
        return {"qual": p.qual, "sex": p.sex}

    def _join(self, p: Person, fam: str, attrs: dict[str, Any] | None = None, w: int = 1) -> None:
        """p joins a family of distinct young people (counted once, whatever their situations)."""
        if fam not in p.fam:
            if attrs is not None:
                self.caps[fam].take(attrs, w)
            p.fam.add(fam)

    def _fresh_attrs(self, p: Person) -> None:
        """Attributes of a new person no margin constrains."""
        rng = self.rng
        if p.sex is None:
            p.sex = rng.choice(SEXES)
        if p.qual is None:
            p.qual = rng.choices(QUALS, [2, 5, 2, 6])[0]
        if p.band31 is None:
            p.band31 = rng.choices(BANDS, [2, 9, 7, 1])[0]

    # --- 1. the interviewed youth and the CEJ youth among them ---------------------------------

    def youth_interviewed(self) -> None:
        """CEJ entrants take the margins of cej_entries; everyone interviewed (CEJ entrants,
        other CEJ youth, the other accompanied youth) together take those of youth_interviewed."""
        t, rng, yi, ce = self.t, self.rng, self.caps["YI"], self.caps["CE"]
        entrants = [
            self._new(c, "A", entrant=True)
            for c in self.terr
            for _ in range(t.com("cej_entries", c))
        ]
        quals, sexes, bands = (expand(ce.rem[d]) for d in ("qual", "sex", "band"))
        for lst in (quals, sexes, bands):
            rng.shuffle(lst)
        names = list(t.qpv_communes)
        split = apportion(
            ce.rem["qpv"][True],
            [yi.rem["qpv"][n] for n in names],
            hi=[t.com("cej_entries", t.qpv_communes[n]) for n in names],
        )
        for name, k in zip(names, split, strict=True):
            for p in rng.sample([p for p in entrants if p.commune == t.qpv_communes[name]], k):
                p.qpv = name
        for p, q, s, b in zip(entrants, quals, sexes, bands, strict=True):
            p.qual, p.sex, p.band_entry, p.band31 = q, s, b, b
            ce.take({"qual": q, "sex": s, "band": b, "qpv": bool(p.qpv)})
            yi.take({"qual": q, "sex": s, "band": b, "qpv": p.qpv or ""})
        ce.check_empty()
        fresh: list[Person] = list(entrants)
        for c in self.terr:
            n = t.com("cej_active", c) - t.com("cej_entries", c)
            made = 0
            for d in self._donors("cej", c):
                if made == n:
                    break
                attrs = {
                    "qual": d.qual,
                    "sex": d.sex,
                    "band": band_of(age_at(d.birth, self.dec31)),
                    "qpv": d.qpv or "",
                    "rqth": d.rqth,
                }
                if yi.fits(attrs):
                    yi.take(attrs)
                    p = self._carry(d, "A")
                    p.cej_entry, p.cej_true_exit = d.cej_entry, d.cej_true_exit
                    made += 1
            fresh += [self._new(c, "A", history=True) for _ in range(n - made)]
            fresh += [
                self._new(c, "B")
                for _ in range(t.com("youth_interviewed", c) - t.com("cej_active", c))
            ]
        todo = [p for p in fresh if not p.entrant]
        for dim, attr in (("qual", "qual"), ("sex", "sex"), ("band", "band31")):
            values = expand(yi.rem[dim])
            rng.shuffle(values)
            for p, v in zip(todo, values, strict=True):
                setattr(p, attr, v)
        for name, commune in t.qpv_communes.items():
            pool = [p for p in todo if p.commune == commune and p.qpv is None]
            for p in rng.sample(pool, yi.rem["qpv"][name]):
                p.qpv = name
        for p in todo:
            yi.take({"qual": p.qual, "sex": p.sex, "band": p.band31, "qpv": p.qpv or ""})
        for p in rng.sample(fresh, yi.rem["rqth"][True]):
            p.rqth = True
        for p in fresh:
            yi.take({"rqth": p.rqth})
        yi.check_empty()

    def cej_periods(self) -> None:
        """CEJ periods: entrants enter during the year, the others the year before and are still
        enrolled on 1 January. A CEJ lasts 6 to 13 months."""
        rng = self.rng
        for p in self.persons:
            if p.seg != "A" or p.prev is not None:
                continue
            if p.entrant:
                p.cej_entry = rand_date(rng, self.jan1, self.dec31, weekday=True)
                p.cej_true_exit = p.cej_entry + dt.timedelta(days=rng.randint(183, 400))
            else:
                p.cej_entry = rand_date(
                    rng, self.jan1 - dt.timedelta(days=365), self.jan1 - DAY, weekday=True
                )
                least = max(183, (self.jan1 - p.cej_entry).days + 10)
                p.cej_true_exit = p.cej_entry + dt.timedelta(
                    days=rng.randint(least, max(least, 420))
                )

    def cej_window(self, p: Person) -> tuple[dt.date, dt.date]:
        return max(p.cej_entry, self.jan1), min(p.cej_true_exit, self.dec31)

    def out_windows(self, p: Person) -> list[tuple[dt.date, dt.date]]:
        """Parts of the year outside a CEJ young person's CEJ period (at least 3 weeks long)."""
        wins = []
        if p.cej_entry and p.cej_entry - self.jan1 >= dt.timedelta(days=21):
            wins.append((self.jan1, p.cej_entry - DAY))
        if p.cej_true_exit and self.dec31 - p.cej_true_exit >= dt.timedelta(days=21):
            wins.append((p.cej_true_exit + DAY, self.dec31))
        return wins

    # --- 2. CEJ measures -----------------------------------------------------------------------

    def _measure_ok(self, p: Person, m: str) -> bool:
        kind = MEASURE_KIND[m]
        limit = {"sc": 1, "alt": 2, "imm": 3, "form": 3, "autre": 2, "emploi": 99}[kind]
        return p.count(kind) < limit

    def _measure_fits(self, p: Person, m: str) -> bool:
        kind, caps = MEASURE_KIND[m], self.caps
        if kind in ("emploi", "alt") and "EY" not in p.fam and not caps["EY"].fits(self.a_ey(p)):
            return False
        if kind == "alt" and not caps["AP"].fits({"sex": p.sex}):
            return False
        if kind == "form" and "TY" not in p.fam and not caps["TY"].fits(self.a_qs(p)):
            return False
        return not (kind == "imm" and not caps["IM"].fits(self.a_qs(p)))

    def _give(self, p: Person, kind: str, where: str, tag: str = "") -> Slot:
        """Add a situation to p and count it in the families it belongs to."""
        if kind in ("emploi", "alt"):
            self._join(p, "EY", self.a_ey(p))
        if kind == "alt":
            self.caps["AP"].take({"sex": p.sex})
        if kind == "form":
            self._join(p, "TY", self.a_qs(p))
        if kind == "imm":
            self.caps["IM"].take(self.a_qs(p))
        if kind == "sc":
            p.fam.add("SC")
        slot = Slot(kind=kind, where=where, tag=tag)
        p.slots.append(slot)
        return slot

    def cej_measures(self) -> None:
        """Situations starting within a CEJ period: per commune, each measure type is a share of
        the commune's situations of that type (so the rest can go to other young people)."""
        t, rng = self.t, self.rng
        terr = self.terr
        emp, app = t.by_commune["employment_contracts"], t.by_commune["apprenticeship_contracts"]
        weights = {
            "Emploi": [emp[c] - app[c] - t.com("pec_contracts", c) for c in terr],
            "Alternance": [app[c] for c in terr],
            "Formation": [t.com("training_entries", c) for c in terr],
            "Immersion en entreprise": [t.com("immersions", c) for c in terr],
            "Service Civique": [t.com("civic_service_started", c) for c in terr],
            "Autres": [t.com("cej_active", c) for c in terr],
        }
        totals = t.bd("cej_measures", "measure_type")
        alloc = {
            m: apportion(totals.get(m, 0), w, hi=None if m == "Autres" else w)
            for m, w in weights.items()
        }
        n_all = [sum(alloc[m][i] for m in MEASURES) for i in range(len(terr))]
        lo = [
            max(
                alloc["Service Civique"][i],
                math.ceil(alloc["Alternance"][i] / 2),
                1 if n_all[i] else 0,
            )
            for i in range(len(terr))
        ]
        hi = [min(t.com("cej_active", c), n_all[i]) for i, c in enumerate(terr)]
        holders_n = apportion(
            t.total("cej_measures_youth"), [t.com("cej_active", c) for c in terr], lo, hi
        )
        for i, c in enumerate(terr):
            holders = rng.sample(self.by_commune(c, "A"), holders_n[i])
            for m in (
                "Service Civique",
                "Alternance",
                "Immersion en entreprise",
                "Formation",
                "Autres",
            ):
                for _ in range(alloc[m][i]):
                    cands = [h for h in holders if self._measure_ok(h, m)]
                    pool = [h for h in cands if self._measure_fits(h, m)] or cands
                    zero = [h for h in pool if not h.slots]
                    h = rng.choice(zero if zero and rng.random() < 0.65 else pool)
                    self._give(h, MEASURE_KIND[m], "cej")
            n_emp = alloc["Emploi"][i]
            zero = [h for h in holders if not h.slots]
            if len(zero) > n_emp:
                raise ValueError(f"{c}: {len(zero)} CEJ measure holders left for {n_emp} jobs")
            want = max(len(zero), min(n_emp, round(0.75 * len(holders))))
            others = [
                h
                for h in self._prefer([h for h in holders if h.slots], "A")
                if self._measure_fits(h, "Emploi")
            ]
            workers = zero + others[: want - len(zero)]
            for h in workers:
                self._give(h, "emploi", "cej")
            for h in rng.choices(workers, [h.weight for h in workers], k=n_emp - len(workers)):
                self._give(h, "emploi", "cej")

    # --- 3. the other families -----------------------------------------------------------------

    def _count_slots(self, kind: str, where: str, commune: str) -> int:
        return sum(p.count(kind, where) for p in self.by_commune(commune))

    def _ey_filler(self, commune: str, must_contact: bool = False, ap: bool = False) -> Person:
        ey, rng = self.caps["EY"], self.rng
        sex = ey.pick(rng, "sex", lambda s: not ap or self.caps["AP"].rem["sex"][s] > 0)
        p = self._new(
            commune,
            self._filler_seg(commune, must_contact),
            sex=sex,
            qual=ey.pick(rng, "qual"),
            band31=ey.pick(rng, "band"),
        )
        return p

    def _new_worker(self, commune: str, ap: bool = False, segs: str = "B") -> Person:
        """A young person entering employment_youth: an accompanied youth who fits, else new."""
        for p in self._prefer(self.by_commune(commune, segs)):
            if "EY" in p.fam or not self.caps["EY"].fits(self.a_ey(p)):
                continue
            if ap and not self.caps["AP"].fits({"sex": p.sex}):
                continue
            return p
        return self._ey_filler(commune, must_contact=ap, ap=ap)

    def employment(self) -> None:
        """Employment contracts outside CEJ measures: alternance, PEC and other CUI, then the
        other contracts; each new young person gets one, the rest go to those already in."""
        t, rng = self.t, self.rng
        terr = self.terr
        emp, app = t.by_commune["employment_contracts"], t.by_commune["apprenticeship_contracts"]
        pec = {c: t.com("pec_contracts", c) for c in terr}
        cui = t.bd("employment_contracts", "contract_type").get("CUI", 0)
        cui_extra = dict(
            zip(
                terr,
                apportion(cui - sum(pec.values()), [emp[c] - app[c] for c in terr]),
                strict=True,
            )
        )
        for c in terr:
            for _ in range(app[c] - self._count_slots("alt", "cej", c)):
                self._give(self._new_worker(c, ap=True, segs="BC"), "alt", "free")
            for tag, n in (("pec", pec[c]), ("cui", cui_extra[c])):
                for _ in range(n):
                    self._give(self._new_worker(c), "emploi", "free", tag)
        rest = {
            c: emp[c] - sum(p.count("emploi") + p.count("alt") for p in self.by_commune(c))
            for c in terr
        }
        n_new = t.total("employment_youth") - sum("EY" in p.fam for p in self.persons)
        new_c = apportion(
            n_new,
            [rest[c] for c in terr],
            lo=[1 if rest[c] > 0 else 0 for c in terr],
            hi=[rest[c] for c in terr],
        )
        for i, c in enumerate(terr):
            newcomers = []
            outsiders = [
                p
                for p in self.by_commune(c, "A")
                if "EY" not in p.fam and self.out_windows(p) and self.caps["EY"].fits(self.a_ey(p))
            ]
            for p in outsiders[: min(len(outsiders), new_c[i] // 12)]:
                self._give(p, "emploi", "out")
                newcomers.append(p)
            while len(newcomers) < new_c[i]:
                p = self._new_worker(c)
                self._give(p, "emploi", "free")
                newcomers.append(p)
            extra = rest[c] - new_c[i]
            pool = [p for p in self.by_commune(c, "BCD") if "EY" in p.fam and not p.count("alt")]
            movers = [p for p in self.by_commune(c, "A") if "EY" in p.fam and self.out_windows(p)][
                :2
            ]
            weights = [p.weight for p in pool] + [0.3] * len(movers)
            for p in rng.choices(pool + movers, weights, k=extra):
                self._give(p, "emploi", "out" if p.seg == "A" else "free")
        self.caps["EY"].check_empty()
        self.caps["AP"].check_empty()

    def _qs_filler(self, fam: str, commune: str) -> Person:
        caps, rng = self.caps[fam], self.rng
        p = self._new(
            commune,
            self._filler_seg(commune),
            sex=caps.pick(rng, "sex"),
            qual=caps.pick(rng, "qual"),
        )
        self._fresh_attrs(p)
        return p

    def training(self) -> None:
        """Training entries outside CEJ measures, to accompanied youth who fit, else new ones."""
        t, rng, ty = self.t, self.rng, self.caps["TY"]
        rest = {
            c: t.com("training_entries", c) - self._count_slots("form", "cej", c) for c in self.terr
        }
        n_new = t.total("training_youth") - sum("TY" in p.fam for p in self.persons)
        new_c = apportion(
            n_new,
            [rest[c] for c in self.terr],
            lo=[1 if rest[c] > 0 else 0 for c in self.terr],
            hi=[rest[c] for c in self.terr],
        )
        for i, c in enumerate(self.terr):
            newcomers = []
            for p in self._prefer(self.by_commune(c, "BCD")):
                if len(newcomers) == new_c[i]:
                    break
                if "TY" not in p.fam and ty.fits(self.a_qs(p)):
                    self._give(p, "form", "free")
                    newcomers.append(p)
            while len(newcomers) < new_c[i]:
                p = self._qs_filler("TY", c)
                self._give(p, "form", "free")
                newcomers.append(p)
            for p in rng.choices(newcomers, [p.weight for p in newcomers], k=rest[c] - new_c[i]):
                self._give(p, "form", "free")
        ty.check_empty()

    def immersions(self) -> None:
        """Immersions outside CEJ measures: one or two per young person."""
        t, im = self.t, self.caps["IM"]
        for c in self.terr:
            for _ in range(t.com("immersions", c) - self._count_slots("imm", "cej", c)):
                pool = [
                    p
                    for p in self._prefer(self.by_commune(c, "BCD"))
                    if p.count("imm") < 2 and im.fits(self.a_qs(p))
                ]
                first = [p for p in pool if not p.count("imm")]
                if first and self.rng.random() < 0.85:
                    pool = first
                self._give(pool[0] if pool else self._qs_filler("IM", c), "imm", "free")
        im.check_empty()

    def civic_service(self) -> None:
        """Civic service: missions started this year, then missions going on from last year."""
        t = self.t
        for c in self.terr:
            started = t.com("civic_service_started", c) - self._count_slots("sc", "cej", c)
            for _ in range(started):
                pool = [p for p in self._prefer(self.by_commune(c, "BCD")) if "SC" not in p.fam]
                p = pool[0] if pool and self.rng.random() < 0.8 else self._fresh(c)
                self._give(p, "sc", "free")
            going_on = t.com("civic_service_active", c) - t.com("civic_service_started", c)
            for d in self._donors("sc", c)[:going_on]:
                p = self._carry(d, self._filler_seg(c))
                self._copy_prev_slot(p, d, "sc")
                going_on -= 1
            for _ in range(going_on):
                pool = [
                    p
                    for p in self._prefer(self.by_commune(c, "BCD"))
                    if "SC" not in p.fam and not p.is_na and (p.prev is None)
                ]
                p = pool[0] if pool and self.rng.random() < 0.5 else self._fresh(c)
                p.history = True
                self._give(p, "sc", "prev")

    def _fresh(self, commune: str, must_contact: bool = False) -> Person:
        p = self._new(commune, self._filler_seg(commune, must_contact))
        self._fresh_attrs(p)
        return p

    def _copy_prev_slot(self, p: Person, d: Person, kind: str) -> None:
        s = self._running_slot(d, kind)
        p.slots.append(
            Slot(kind=kind, where="prev", start=s.start, end=s.end, sid=s.sid, attrs=dict(s.attrs))
        )
        if kind == "sc":
            p.fam.add("SC")

    def sponsorship(self) -> None:
        """Parrainage entries, from accompanied youth who fit, else new ones."""
        t, sp, rng = self.t, self.caps["SP"], self.rng
        for c in self.terr:
            n = t.com("sponsorship_entries", c)
            chosen = 0
            for p in self._prefer(self.by_commune(c, "BCD")):
                if chosen == n:
                    break
                attrs = {**self.a_qs(p), "commune": c}
                if sp.fits(attrs):
                    self._join(p, "SP", attrs)
                    chosen += 1
            for _ in range(n - chosen):
                p = self._new(
                    c, self._filler_seg(c), sex=sp.pick(rng, "sex"), qual=sp.pick(rng, "qual")
                )
                self._fresh_attrs(p)
                self._join(p, "SP", {**self.a_qs(p), "commune": c})
        sp.check_empty()
        for p in self.persons:
            if "SP" in p.fam:
                p.programmes.append({"name": "Parrainage", "where": "free"})

    def new_arrivals(self) -> None:
        """New arrivals: CEJ entrants and accompanied youth first received this year, then new
        people for the rest of each cell of the two age grids."""
        t, na, rng = self.t, self.caps["NA"], self.rng
        for c in self.terr:
            for qpv in (True, False):
                n = na.rem["qpv"][(c, qpv)]
                for p in self._prefer(self.by_commune(c), "ABCD"):
                    if n == 0:
                        break
                    if p.history or p.prev or p.is_na or bool(p.qpv) != qpv:
                        continue
                    options = [p.band_entry] if p.entrant else [p.band31, prev_band(p.band31)]
                    for band in options:
                        attrs = {
                            "commune": c,
                            "qpv": (c, qpv),
                            "aq": (band, p.qual),
                            "sa": (p.sex, band),
                        }
                        if band and na.fits(attrs):
                            na.take(attrs)
                            p.is_na, p.band_fr = True, band
                            n -= 1
                            break
                for _ in range(n):
                    band, qual = na.pick(rng, "aq")
                    sex = na.pick(rng, "sa", lambda k, b=band: k[1] == b)[0]
                    qpv_name = (
                        next((q for q, cc in t.qpv_communes.items() if cc == c), None)
                        if qpv
                        else None
                    )
                    p = self._new(
                        c,
                        self._filler_seg(c),
                        sex=sex,
                        qual=qual,
                        band31=band,
                        band_fr=band,
                        qpv=qpv_name,
                        is_na=True,
                    )
                    na.take({"commune": c, "qpv": (c, qpv), "aq": (band, qual), "sa": (sex, band)})
        na.check_empty()
        arrivals = [p for p in self.persons if p.is_na]
        licence = expand(
            {
                True: t.bd("new_arrivals", "driving_licence")["Titulaire"],
                False: t.bd("new_arrivals", "driving_licence")["Non titulaire"],
            }
        )
        housing = expand(t.bd("new_arrivals", "housing"))
        rng.shuffle(licence)
        rng.shuffle(housing)
        for p, lic, h in zip(arrivals, licence, housing, strict=True):
            p.licence, p.housing = lic, h

    def programmes(self) -> None:
        """PACEA (entries this year and people enrolled since last year) and the programmes the
        report does not count, on young people outside CEJ."""
        t, rng = self.t, self.rng
        rec = {c: t.aid("aid_recipients", "Allocation PACEA", c) for c in self.terr}
        going_on = {c: math.ceil(rec[c] * 0.3) for c in self.terr}
        entries = apportion(
            t.bd("programme_entries", "programme")["PACEA"],
            [rec[c] + 0.2 * len(self.by_commune(c, "B")) for c in self.terr],
            lo=[rec[c] - going_on[c] for c in self.terr],
        )
        for i, c in enumerate(self.terr):
            pool = self._prefer(self.by_commune(c, "BCD"))
            for where, n in (("prev", going_on[c]), ("free", entries[i])):
                for _ in range(n):
                    ok = [
                        p
                        for p in pool
                        if "PACEA" not in p.fam and (where == "free" or not (p.is_na or p.prev))
                    ]
                    p = ok[0] if ok else self._fresh(c)
                    p.fam.add("PACEA")
                    p.history |= where == "prev"
                    p.programmes.append({"name": "PACEA", "where": where})
        others = {
            k: v
            for k, v in t.bd("programme_entries", "programme").items()
            if k not in ("PACEA", "CEJ", "Parrainage")
        }
        everyone = [p for p in self.persons if p.seg != "A" and p.commune in self.terr]
        for name, n in others.items():
            pool = [
                p for p in everyone if name != "Obligation de formation" or p.band31 == "16-17 ans"
            ]
            for p in rng.sample(pool, n):
                p.programmes.append({"name": name, "where": "free"})

    def apprentices_followed(self) -> None:
        """apprenticeship_followed: every apprentice of the year is in contact and followed;
        the others followed are apprentices since last year; two more are not followed."""
        t = self.t
        signers = [p for p in self.persons if p.count("alt") and p.seg != "D"]
        need = t.total("apprenticeship_followed") - len(signers)
        for d in self._donors("alt", None):
            if need == 0:
                break
            if self.c_free.get(d.commune, 0) > 0:
                p = self._carry(d, self._filler_seg(d.commune, must_contact=True))
                self._copy_prev_slot(p, d, "alt")
                need -= 1
        for _ in range(need):
            pool = [
                p
                for p in self._prefer(self.by_commune(self.rng.choice(self.terr), "B"))
                if not p.is_na and "EY" not in p.fam and not p.count("alt")
            ]
            if pool and self.rng.random() < 0.4:
                p = pool[0]
            else:
                c = max(self.terr, key=lambda k: (self.c_free[k], k))
                p = self._fresh(c, must_contact=True)
            p.history = True
            p.slots.append(Slot(kind="alt", where="prev"))
        for _ in range(2):  # apprentices since last year with no contact this year: not followed
            p = self._new(self.rng.choice(self.terr), "D", history=True)
            self._fresh_attrs(p)
            p.slots.append(Slot(kind="alt", where="prev"))

    def contact_only(self) -> None:
        """The rest of the young people in contact: never interviewed this year. A few of them
        have facts missing from the export (level, first reception, birth date): they count
        under Non renseigné where they count at all, which is nowhere with a breakdown."""
        made = 0
        for c in self.keys:
            donors = self._donors("any", c) if c in self.terr else []
            while self.c_free[c] > 0:
                self.c_free[c] -= 1
                if donors and self.rng.random() < 0.6:
                    self._carry(donors.pop(), "C").history = False
                    continue
                p = self._new(c, "C")
                self._fresh_attrs(p)
                made += 1
                if made % 61 == 0:  # about 1.6 % with no qualification level
                    p.qual = None
                if made % 397 == 0:  # a few with no first-reception date
                    p.no_fr = True
                if made in (250, 1250):  # two with no birth date
                    p.band31 = None

    # --- 4. dates ------------------------------------------------------------------------------

    def dates(self) -> None:
        """First reception, birth and the start of whatever began before the year, chosen so
        that every age band holds at its own reference date; then the situations' starts."""
        rng, jan1 = self.rng, self.jan1
        for p in self.persons:
            if p.prev is None:
                self._birth_and_reception(p)
            for s in p.slots:
                if s.start is None:
                    s.start = in_windows(rng, self._slot_windows(p, s))
            for prog in p.programmes:
                if prog.get("entry") is None:
                    lo = max(jan1, p.fr or jan1)
                    prog["entry"] = rand_date(rng, lo, self.dec31, weekday=True)

    def _prev_start(self, kind: str) -> dt.date:
        """The start of a situation or programme still running from the year before."""
        back = {"alt": (60, 700), "sc": (40, 230), "pacea": (20, 330)}[kind]
        return self.jan1 - dt.timedelta(days=self.rng.randint(*back))

    def _birth_and_reception(self, p: Person) -> None:
        rng, jan1, dec31 = self.rng, self.jan1, self.dec31
        if p.band31 is None:  # no birth date in the export
            p.fr = None if p.no_fr else rand_date(rng, jan1 - dt.timedelta(days=900), jan1 - DAY)
            return
        for _ in range(200):
            cons = [(dec31, *BAND_AGES[p.band31])]
            if p.entrant:
                cons.append((p.cej_entry, *BAND_AGES[p.band_entry]))
            starts = []
            for s in p.slots:
                if s.where == "prev":
                    s.start = self._prev_start(s.kind)
                    starts.append(s.start)
            for prog in p.programmes:
                if prog["where"] == "prev":
                    prog["entry"] = self._prev_start("pacea")
                    starts.append(prog["entry"])
            if p.seg == "A" and not p.entrant:
                starts.append(p.cej_entry)
            if p.is_na:
                latest = dec31 - dt.timedelta(days=3)
                if p.entrant:
                    latest = (
                        p.cej_entry - dt.timedelta(days=7)
                        if p.cej_entry - jan1 > dt.timedelta(days=21)
                        else p.cej_entry
                    )
                p.fr = rand_date(rng, jan1, latest, weekday=True)
                cons.append((p.fr, *BAND_AGES[p.band_fr]))
            else:
                cons.append((jan1 - DAY, 16, 99))
            cons += [(d, 16, 99) for d in starts]
            lo, hi = birth_bounds(cons)
            if lo <= hi:
                break
        else:
            raise ValueError(f"no birth date fits {p}")
        p.birth = rand_date(rng, lo, hi)
        if not p.is_na:
            first = min([jan1 - DAY, *starts])
            earliest = max(add_years(p.birth, 16), first - dt.timedelta(days=1100))
            p.fr = None if p.no_fr else rand_date(rng, earliest, first, weekday=True)

    def _slot_windows(self, p: Person, s: Slot) -> list[tuple[dt.date, dt.date]]:
        start = max(self.jan1, p.fr or self.jan1)
        if s.where == "cej":
            return [self.cej_window(p)]
        if s.where == "out":
            return [(max(a, start), b) for a, b in self.out_windows(p) if max(a, start) <= b]
        return [(start, self.dec31)]

    # --- 5. rows -------------------------------------------------------------------------------

    def _raw(self, options: Sequence[str]) -> str:
        """A raw spelling: the first is the usual one, the others turn up now and then."""
        if len(options) == 1 or self.rng.random() < 0.7:
            return options[0]
        return self.rng.choice(options[1:])

    def situations(self) -> list[dict[str, Any]]:
        """Situation rows: contract-level attributes (contract type, ROME domain, training type,
        apprenticeship kind and prepared level) are dealt from the targets' breakdowns."""
        t, rng = self.t, self.rng
        slots = [(p, s) for p in self.persons for s in p.slots]
        new = [(p, s) for p, s in slots if not s.attrs]
        ctype = dict(t.bd("employment_contracts", "contract_type"))
        jobs = [(p, s) for p, s in new if s.kind == "emploi"]
        plain = [(p, s) for p, s in jobs if not s.tag]
        types = expand({k: v for k, v in ctype.items() if k not in ("CUI", "Alternance")})
        rng.shuffle(types)
        if len(types) != len(plain):
            raise ValueError(f"{len(plain)} employment contracts for {len(types)} contract types")
        app_rome = t.bd("apprenticeship_contracts", "rome_domain")
        rome = Counter(t.bd("employment_contracts", "rome_domain"))
        rome.subtract(app_rome)
        job_rome, alt_rome = expand(+rome), expand(app_rome)
        alts = [(p, s) for p, s in new if s.kind == "alt" and s.where != "prev"]
        kinds = expand(t.bd("apprenticeship_contracts", "apprenticeship_kind"))
        levels = expand(t.bd("apprenticeship_contracts", "qualification"))
        trainings = expand(t.bd("training_entries", "training_type"))
        for lst in (job_rome, alt_rome, kinds, levels, trainings):
            rng.shuffle(lst)
        for (_, s), ty in zip(plain, types, strict=True):
            s.attrs["type"] = ty
        for (_, s), dom in zip(jobs, job_rome, strict=True):
            s.attrs["rome"] = dom
        for (_, s), dom, kind, level in zip(alts, alt_rome, kinds, levels, strict=True):
            s.attrs.update(rome=dom, kind=kind, level=level)
        forms = [(p, s) for p, s in new if s.kind == "form"]
        for (_, s), ty in zip(forms, trainings, strict=True):
            s.attrs["training"] = ty
        rows = []
        for p, s in slots:
            if not s.sid:
                s.sid = str(self.ids.rng.randrange(10_000_000, 100_000_000))
            if not s.attrs.get("done"):
                self._situation_details(s)
            rows.append(self._situation_row(p, s))
        first = next(r for r in rows if r["categorie"] == "Demandeur d'emploi" and not r["_note"])
        first["_note"] = "kept, counts nowhere: job seeker (Demandeur d'emploi)"
        return rows

    def _situation_details(self, s: Slot) -> None:
        """Raw category and nature, end date, and the other columns of a situation."""
        rng, a = self.rng, s.attrs
        a["done"] = True
        days = rng.randint
        if s.kind == "emploi":
            a["cat"] = "Emploi"
            if s.tag == "pec":
                a["nature"], a["ml"] = self._raw(["PEC", "CUI-PEC"]), "Oui"
                s.end = s.start + dt.timedelta(days=days(274, 365))
            elif s.tag == "cui":
                a["nature"], a["ml"] = rng.choice([("CIE en CDD", ""), ("PEC", "Non")])
                s.end = s.start + dt.timedelta(days=days(180, 365))
            else:
                a["nature"] = {
                    "CDD": ["CDD"],
                    "Intérim / Saisonnier": ["Intérim", "Saisonnier"],
                    "CDI": ["CDI", "CIE en CDI"],
                    "Création d'entreprise": [
                        "Auto-entrepreneur",
                        "Création d'entreprise",
                        "Reprise d'entreprise",
                    ],
                }[a["type"]]
                a["nature"] = self._raw(a["nature"])
                short = {"CDD": (14, 240), "Intérim / Saisonnier": (1, 60)}.get(a["type"])
                s.end = s.start + dt.timedelta(days=days(*short)) if short else None
        elif s.kind == "alt":
            a.setdefault("kind", "Apprentissage")
            a.setdefault(
                "rome",
                rng.choice(
                    [
                        "Commerce, vente et grande distribution",
                        "Industrie",
                        "Construction, bâtiment et travaux publics",
                    ]
                ),
            )
            a.setdefault("level", rng.choice(list(RAW_PREPARED)))
            a["cat"] = self._raw(["Alternance", "Contrat en alternance"])
            a["nature"] = self._raw(
                ["Contrat d'apprentissage", "Apprentissage"]
                if a["kind"] == "Apprentissage"
                else ["Contrat de professionnalisation", "Professionnalisation"]
            )
            a["prepared"] = self._raw(RAW_PREPARED[a["level"]])
            if s.end is None:
                s.end = add_years(s.start, rng.choice([1, 2, 2, 3])) - DAY
                if s.where == "prev" and s.end < self.jan1 + dt.timedelta(days=60):
                    s.end = add_years(s.start, 3) - DAY
        elif s.kind == "form":
            ty = a["training"]
            if ty == "Formation initiale" and rng.random() < 0.5:
                a["cat"], a["nature"] = "Scolarité", rng.choice(["", "Lycée professionnel", "CFA"])
            else:
                a["cat"] = "Formation"
                a["nature"] = {
                    "Conseil Régional": "Conseil Régional",
                    "Formation initiale": "Formation initiale",
                    "Autres formations": self._raw(["Autre formation", "AFPA", "CPF"]),
                }[ty]
            s.end = s.start + dt.timedelta(days=days(20, 300))
        elif s.kind == "imm":
            a["cat"], a["nature"] = (
                self._raw(["Immersion", "Immersion en entreprise", "Pmsmp"]),
                "PMSMP",
            )
            s.end = s.start + dt.timedelta(days=days(3, 28))
        elif s.kind == "sc":
            a["cat"] = self._raw(["Service civique", "Contrat de volontariat - bénévolat"])
            a["nature"] = self._raw(["Service civique", "Service civique international"])
            if s.end is None:
                s.end = s.start + dt.timedelta(days=days(180, 270))
                if s.where == "prev" and s.end < self.jan1 + dt.timedelta(days=30):
                    s.end = self.jan1 + dt.timedelta(days=days(30, 120))
        elif s.kind == "autre":
            a["cat"], a["nature"] = rng.choice(
                [
                    ("Autre", "Bénévolat"),
                    ("Autre", "Mobilité internationale"),
                    ("Contrat de volontariat - bénévolat", "Bénévolat"),
                ]
            )
            s.end = s.start + dt.timedelta(days=days(7, 120))
        elif s.kind == "de":
            a["cat"], a["nature"] = (
                "Demandeur d'emploi",
                rng.choice(["Inscrit France Travail", "DE catégorie A"]),
            )
        if "rome" in a:
            dom = a["rome"]
            a["secteur"] = (
                ("" if rng.random() < 0.9 else "Divers")
                if dom == NR
                else (ROME_LETTER[dom] if rng.random() < 0.5 else dom)
            )

    def _situation_row(self, p: Person, s: Slot) -> dict[str, Any]:
        a = s.attrs
        extraction = self.extraction
        state = a.get("state") or (
            "Terminé" if s.end and s.end < extraction else self._raw(["En cours", ""])
        )
        return {
            "id_sit": s.sid,
            "id": p.pid,
            "categorie": a["cat"],
            "nature": a["nature"],
            "debut": s.start,
            "fin": s.end,
            "secteur": a.get("secteur", ""),
            "etat": state,
            "ml": a.get("ml", ""),
            "niveau_prepare": a.get("prepared", ""),
            "_note": a.get("note"),
        }

    def dispositifs(self) -> list[dict[str, Any]]:
        rng, rows = self.rng, []
        for p in self.persons:
            if p.seg == "A":
                exit_ = p.cej_true_exit if p.cej_true_exit <= self.dec31 else None
                rows.append(
                    {
                        "id": p.pid,
                        "dispositif": self._raw(RAW_PROGRAMME["CEJ"]),
                        "entree": p.cej_entry,
                        "sortie": exit_,
                        "motif": self._exit_reason(exit_),
                    }
                )
            for prog in p.programmes:
                if "exit" not in prog:
                    end = prog["entry"] + dt.timedelta(days=rng.randint(60, 500))
                    if end < self.jan1 + dt.timedelta(days=30):  # still enrolled on 1 January
                        end = self.jan1 + dt.timedelta(days=rng.randint(30, 300))
                    prog["exit"] = (
                        end if end <= self.dec31 and prog["name"] != "Parrainage" else None
                    )
                rows.append(
                    {
                        "id": p.pid,
                        "dispositif": prog["name"],
                        "entree": prog["entry"],
                        "sortie": prog["exit"],
                        "motif": self._exit_reason(prog["exit"]),
                    }
                )
        return rows

    def _exit_reason(self, exit_: dt.date | None) -> str:
        if exit_ is None:
            return ""
        return self.rng.choice(
            ["Fin de parcours", "Emploi durable", "Formation", "Abandon", "Déménagement"]
        )

    def pacea_period(self, p: Person) -> tuple[dt.date, dt.date] | None:
        for prog in p.programmes:
            if prog["name"] == "PACEA":
                end = prog.get("exit") or self.dec31
                return max(prog["entry"], self.jan1, p.fr or self.jan1), min(end, self.dec31)
        return None

    # --- 6. events -----------------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """Contacts per commune and type: CEJ youth's contacts within their CEJ period take the
        cej_contacts figures (shared out by the communes' CEJ youth); the rest go to the other
        young people in contact, at least one interview to each interviewed one and at least
        one other contact to each of the others."""
        t, rng = self.t, self.rng
        total_types = t.bd("contacts", "contact_type")
        cej_types = t.bd("cej_contacts", "contact_type")
        cej = {
            ty: dict(
                zip(
                    self.keys,
                    apportion(cej_types.get(ty, 0), [t.com("cej_active", c) for c in self.keys]),
                    strict=True,
                )
            )
            for ty in CONTACT_TYPES
        }
        others = CONTACT_TYPES[1:]
        left = {ty: total_types[ty] - cej_types.get(ty, 0) for ty in others}
        plan: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for c in self.keys:
            a, b, cc = self.by_commune(c, "A"), self.by_commune(c, "B"), self.by_commune(c, "C")
            cej_int = cej["Entretien"][c]
            nc_int = t.com("interviews", c) - cej_int
            row_total = (
                t.com("contacts", c) - t.com("interviews", c) - sum(cej[ty][c] for ty in others)
            )
            if cej_int < len(a) or nc_int < len(b) or row_total < len(cc):
                raise ValueError(f"{c}: too few contacts for the young people in contact")
            row = apportion(row_total, [left[ty] for ty in others], hi=[left[ty] for ty in others])
            nc = dict(zip(others, row, strict=True))
            for ty, n in nc.items():
                left[ty] -= n
            for p in a:
                plan[id(p)].append(("Entretien", "cej"))
            self._spread(
                a,
                [p.weight for p in a],
                "cej",
                {"Entretien": cej_int - len(a), **{ty: cej[ty][c] for ty in others}},
                plan,
            )
            for p in b:
                plan[id(p)].append(("Entretien", "main"))
            for p in cc:
                ty = rng.choices(others, [nc[k] for k in others])[0]
                nc[ty] -= 1
                plan[id(p)].append((ty, "main"))
            outs = [p for p in a if self._event_windows(p, "out")]
            self._spread(
                b + outs,
                [p.weight for p in b] + [0.15 * p.weight for p in outs],
                None,
                {"Entretien": nc_int - len(b)},
                plan,
            )
            self._spread(
                b + cc + outs,
                [p.weight for p in b]
                + [0.5 * p.weight for p in cc]
                + [0.15 * p.weight for p in outs],
                None,
                nc,
                plan,
            )
        rows = []
        for p in self.persons:
            events = [
                {
                    "id": p.pid,
                    "ctype": ty,
                    "win": win,
                    "date": in_windows(
                        rng, self._event_windows(p, win), ty in ("Entretien", "Autres")
                    ),
                }
                for ty, win in plan.get(id(p), [])
            ]
            self._follow_up(p, events)
            rows += events
        rng.shuffle(rows)
        rows.sort(key=lambda r: r["date"])
        for r in rows:
            r["type"] = self._raw(RAW_EVENT[r.pop("ctype")])
            r["statut"] = rng.choices(EVENT_DONE, [60, 30, 8, 2])[0]
        return rows

    def _spread(
        self,
        people: list[Person],
        weights: list[float],
        win: str | None,
        counts: dict[str, int],
        plan: dict[int, list[tuple[str, str]]],
    ) -> None:
        for ty, n in counts.items():
            if n < 0:
                raise ValueError(f"negative count of {ty}")
            for p in self.rng.choices(people, weights, k=n) if n else []:
                plan[id(p)].append((ty, win or ("out" if p.seg == "A" else "main")))

    def _event_windows(self, p: Person, win: str) -> list[tuple[dt.date, dt.date]]:
        start = max(self.jan1, p.fr or self.jan1)
        if win == "cej":
            return [self.cej_window(p)]
        if win == "out":
            return [(max(a, start), b) for a, b in self.out_windows(p) if max(a, start) <= b]
        return [(start, self.dec31)]

    def _follow_up(self, p: Person, events: list[dict[str, Any]]) -> None:
        """An apprentice in contact has at least one contact within the contract
        (apprenticeship_followed): move one contact into it when none falls there."""
        for s in p.slots:
            if s.kind != "alt" or not events:
                continue
            lo, hi = max(s.start, self.jan1), min(s.end or self.dec31, self.dec31)
            if any(lo <= e["date"] <= hi for e in events):
                return
            for e in events:
                wins = [(max(a, lo), min(b, hi)) for a, b in self._event_windows(p, e["win"])]
                wins = [w for w in wins if w[0] <= w[1]]
                if wins:
                    e["date"] = in_windows(self.rng, wins, weekday=False)
                    return
            raise ValueError(f"{p.pid}: no contact can fall within the apprenticeship")

    # --- 7. proposals and aids -------------------------------------------------------------------

    def proposals(self) -> list[dict[str, Any]]:
        t, rng = self.t, self.rng
        themes = expand(t.bd("proposals", "proposal_theme"))
        rng.shuffle(themes)
        people = [p for p in self.persons if p.commune in self.terr]
        factor = {"A": 2.0, "B": 1.5, "C": 0.4, "D": 0.3}
        chosen = rng.choices(people, [factor[p.seg] * p.weight for p in people], k=len(themes))
        rows = []
        for p, theme in zip(chosen, themes, strict=True):
            rows.append(
                {
                    "id": p.pid,
                    "date": rand_date(rng, max(self.jan1, p.fr or self.jan1), self.dec31, True),
                    "theme": self._raw(RAW_THEME[theme]),
                    "etat": rng.choices(PROPOSAL_STATES, [40, 30, 15, 6, 5, 4])[0],
                }
            )
        rows.sort(key=lambda r: r["date"])
        return rows

    def _split(
        self, total: Decimal, n: int, cents: bool, caps: list[Decimal] | None = None
    ) -> list[Decimal]:
        """Split an amount into n positive parts, to the cent (or the euro) exactly."""
        unit = 100 if cents else 1
        units = int(total * unit)
        floor = min(20 * unit, units // max(n, 1))
        hi = [int(c * unit) for c in caps] if caps else None
        parts = apportion(
            units, [self.rng.uniform(0.4, 1.6) for _ in range(n)], lo=[floor] * n, hi=hi
        )
        return [Decimal(x) / unit for x in parts]

    @staticmethod
    def _months(lo: dt.date, hi: dt.date) -> list[tuple[int, int]]:
        out, (y, m) = [], (lo.year, lo.month)
        while (y, m) <= (hi.year, hi.month):
            out.append((y, m))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    def _monthly(
        self, p: Person, amount: Decimal, win: tuple[dt.date, dt.date]
    ) -> list[tuple[dt.date, Decimal]]:
        """An allowance paid monthly within a period (at most one payment a month)."""
        months = self._months(*win)
        k = max(1, math.ceil(amount / CEJ_MONTHLY_MAX))
        chosen = sorted(self.rng.sample(months, k))
        parts = apportion(int(amount), [1] * k)
        out = []
        for (y, m), part in zip(chosen, parts, strict=True):
            d = min(max(dt.date(y, m, self.rng.randint(3, 12)), win[0]), win[1])
            out.append((d, Decimal(part)))
        return out

    def aids(self) -> list[dict[str, Any]]:
        """Aids per type and commune: recipients and amounts exact; CEJ and PACEA allowances
        paid monthly within the programme, the other aids as one or a few payments."""
        t, rng = self.t, self.rng
        rows: list[dict[str, Any]] = []

        def add(p: Person, aid_type: str, day: dt.date, amount: Decimal, objet: str) -> None:
            raw = self._raw(RAW_AID.get(aid_type, [aid_type]))
            rows.append(
                {
                    "id": p.pid,
                    "type": raw,
                    "date": day,
                    "montant": amount,
                    "statut": rng.choices(AID_GRANTED, [40, 30, 20, 10])[0],
                    "objet": objet,
                }
            )

        for c in self.terr:
            for aid_type, window in (
                ("Allocation CEJ", self.cej_window),
                ("Allocation PACEA", self.pacea_period),
            ):
                n, amount = (
                    t.aid("aid_recipients", aid_type, c),
                    Decimal(t.aid("aid_amount", aid_type, c)),
                )
                pool = [
                    p
                    for p in self.by_commune(c)
                    if (p.seg == "A") == (aid_type == "Allocation CEJ") and window(p) is not None
                ]
                pool.sort(
                    key=lambda p, w=window: -((w(p)[1] - w(p)[0]).days * rng.uniform(0.6, 1.4))
                )
                chosen = pool[:n]
                if len(chosen) < n:
                    raise ValueError(f"{c}: {len(chosen)} young people for {n} {aid_type}")
                caps = [Decimal(CEJ_MONTHLY_MAX * len(self._months(*window(p)))) for p in chosen]
                for p, part in zip(chosen, self._split(amount, n, False, caps), strict=True):
                    for day, pay in self._monthly(p, part, window(p)):
                        add(p, aid_type, day, pay, "Allocation mensuelle")
            for aid_type, cents, objets in (
                (
                    "FAJ",
                    False,
                    ["Aide alimentaire", "Aide au transport", "Aide au logement", "Subsistance"],
                ),
                ("Aide mobilité", True, ["Titre de transport", "Carburant", "Réparation vélo"]),
                (
                    "Fonds ML - aide directe",
                    False,
                    ["Chèque de services", "Chèque de services", "Frais"],
                ),
                (
                    "Fonds ML - aide indirecte",
                    True,
                    ["Financement formation", "Équipement", "Permis"],
                ),
            ):
                n = t.aid("aid_recipients", aid_type, c)
                files = t.aid("aid_files", aid_type, c) or n + (rng.random() < 0.3 and n > 2)
                amount = Decimal(t.aid("aid_amount", aid_type, c))
                if not n:
                    continue
                people = self._prefer(self.by_commune(c, "ABC"), "BACD")[:n]
                owners = people + rng.choices(people, k=files - n)
                for p, part in zip(owners, self._split(amount, files, cents), strict=True):
                    add(
                        p,
                        aid_type,
                        rand_date(rng, max(self.jan1, p.fr or self.jan1), self.dec31, True),
                        part,
                        rng.choice(objets),
                    )
        for p in rng.sample(
            [p for p in self.persons if p.seg in "ABC" and p.commune in self.terr], 30
        ):
            rows.append(
                {
                    "id": p.pid,
                    "type": self._raw(RAW_AID.get("FAJ")),
                    "montant": Decimal(rng.randint(5, 40) * 10),
                    "date": rand_date(rng, max(self.jan1, p.fr or self.jan1), self.dec31, True),
                    "statut": rng.choice(AID_NOT_GRANTED),
                    "objet": "Demande non aboutie",
                }
            )
        rows.sort(key=lambda r: r["date"])
        for i, r in enumerate(rows, 1):
            r["ref"] = f"AIDE-{self.y}-{i:05d}"
        for status in AID_NOT_GRANTED:
            first = next(r for r in rows if r["statut"] == status)
            first["_note"] = f"kept, not counted: aid in status {status}"
        return rows

    # --- 8. rows that count nowhere, and rows the contract rejects --------------------------------

    def background(self) -> None:
        """Kept rows that count nowhere: job-seeker statuses, planned (Prévu) situations, and two
        young people outside the territory or without a commune, with nothing counted."""
        rng = self.rng
        for p in self.persons:
            if p.seg in "BC" and rng.random() < 0.12:
                lo = (
                    max(self.jan1, p.fr)
                    if p.is_na
                    else max(self.jan1 - dt.timedelta(days=400), p.fr or self.jan1)
                )
                s = Slot(kind="de", where="free", start=rand_date(rng, lo, self.dec31 - DAY, True))
                s.end = (
                    None
                    if rng.random() < 0.6
                    else rand_date(rng, max(s.start, self.jan1), self.dec31)
                )
                self._situation_details(s)
                p.slots.append(s)
        planned = rng.sample(
            [p for p in self.persons if p.seg in "BC" and p.commune in self.terr], 8
        )
        for i, p in enumerate(planned):
            s = Slot(
                kind="form" if i % 2 else "emploi",
                where="free",
                start=rand_date(rng, max(self.jan1, p.fr or self.jan1), self.dec31, True),
            )
            s.attrs = {
                "done": True,
                "cat": "Formation" if i % 2 else "Emploi",
                "nature": "Conseil Régional" if i % 2 else "CDD",
                "state": "Prévu",
                "note": "kept, counts nowhere: situation in state Prévu",
            }
            p.slots.append(s)
        self.strays: list[Person] = []
        if not any(p.commune == OUT_KEY for p in self.persons):
            for commune in (OUT_KEY, ""):
                p = self._new(commune, "D", history=True)
                self._fresh_attrs(p)
                self._birth_and_reception(p)
                s = Slot(kind="de", where="free", start=rand_date(rng, self.jan1, self.dec31 - DAY))
                self._situation_details(s)
                s.attrs["note"] = "kept, counts nowhere: job seeker " + (
                    "outside the territory" if commune else "without a commune"
                )
                p.slots.append(s)
                self.strays.append(p)

    def extra_events(self, rows: list[dict[str, Any]]) -> None:
        """Appointments that are no contact (absent, cancelled, postponed, planned), one
        re-exported duplicate, and the strays' cancelled appointments."""
        rng = self.rng
        people = [p for p in self.persons if p.commune in self.terr and p.birth]
        n = round(len(rows) * 0.025)
        for p in rng.choices(people, [p.weight for p in people], k=n):
            rows.append(
                {
                    "id": p.pid,
                    "date": rand_date(rng, max(self.jan1, p.fr or self.jan1), self.dec31, True),
                    "type": self._raw(RAW_EVENT["Entretien"]),
                    "statut": rng.choice(EVENT_NOT_DONE),
                }
            )
        for p in self.strays:
            rows.append(
                {
                    "id": p.pid,
                    "date": rand_date(rng, self.jan1, self.dec31, True),
                    "type": "Entretien individuel",
                    "statut": "Annulé",
                    "_note": "kept, counts nowhere: cancelled appointment of a stray",
                }
            )
        rows.sort(key=lambda r: r["date"])
        for i, r in enumerate(rows):
            r["id_evt"] = str(self.y * 100_000 + i + 1)
        first = {}
        for r in rows:
            if r["statut"] in EVENT_NOT_DONE and r["statut"] not in first:
                first[r["statut"]] = r
                r["_note"] = f"kept, no contact: status {r['statut']}"
        if exported_columns(self.y, "evenements").get(
            "id_evt"
        ):  # repeats merge only by their own id
            dup = dict(rows[len(rows) // 2])
            dup["_note"] = "re-exported duplicate of event " + dup["id_evt"] + ": loaded once"
            rows.append(dup)

    def bad_rows(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """A few rows the contract rejects to quarantine: they count nowhere."""
        y = self.y
        someone = next(p for p in self.persons if p.seg == "B" and not p.is_na)
        day = dt.date(y, 6, 12)
        rows["evenements"].append(
            {
                "id": self.ids.new(),
                "date": day,
                "type": "Entretien individuel",
                "statut": "Réalisé",
                "id_evt": str(y * 100_000 + 99_001),
                "_note": "rejected: young person absent from jeunes",
            }
        )
        if y == 2025:
            rows["evenements"].append(
                {
                    "id": someone.pid,
                    "date": dt.date(y - 1, 12, 30),
                    "type": "SMS",
                    "statut": "",
                    "id_evt": str(y * 100_000 + 99_002),
                    "_note": "rejected: dated in the previous year",
                }
            )
            rows["evenements"].append(
                {
                    "id": someone.pid,
                    "date": day,
                    "type": "Visio",
                    "statut": "Réalisé",
                    "id_evt": str(y * 100_000 + 99_003),
                    "_note": "rejected: unknown event type Visio",
                }
            )
            rows["aides"].append(
                {
                    "id": someone.pid,
                    "type": "Aide mobilité",
                    "date": day,
                    "montant": Decimal("-35.50"),
                    "statut": "Payé",
                    "objet": "Régularisation",
                    "ref": f"AIDE-{y}-99001",
                    "_note": "rejected: negative amount",
                }
            )
            rows["situations"].append(
                {
                    "id_sit": "99000001",
                    "id": someone.pid,
                    "categorie": "Formation",
                    "nature": "Conseil Régional",
                    "debut": dt.date(y, 9, 1),
                    "fin": dt.date(y, 8, 20),
                    "secteur": "",
                    "etat": "Terminé",
                    "ml": "",
                    "niveau_prepare": "",
                    "_note": "rejected: end before start",
                }
            )
            rows["propositions"].append(
                {
                    "id": someone.pid,
                    "date": None,
                    "theme": "Formation",
                    "etat": "Prescrit",
                    "_note": "rejected: empty date",
                }
            )
        else:
            rows["aides"].append(
                {
                    "id": someone.pid,
                    "type": "FAJ",
                    "date": day,
                    "montant": "NC",
                    "statut": "Accordé",
                    "objet": "Aide alimentaire",
                    "ref": f"AIDE-{y}-99001",
                    "_note": "rejected: amount is not a number",
                }
            )
            rows["situations"].append(
                {
                    "id_sit": "99000002",
                    "id": someone.pid,
                    "categorie": "Emploi",
                    "nature": "Contrat aidé",
                    "debut": day,
                    "fin": None,
                    "secteur": "K",
                    "etat": "En cours",
                    "ml": "",
                    "niveau_prepare": "",
                    "_note": "rejected: unknown nature Contrat aidé",
                }
            )
            rows["propositions"].append(
                {
                    "id": someone.pid,
                    "date": day,
                    "theme": "Sport",
                    "etat": "Prescrit",
                    "_note": "rejected: unknown theme Sport",
                }
            )
            rows["dispositifs"].append(
                {
                    "id": someone.pid,
                    "dispositif": "PAO",
                    "entree": dt.date(y, 5, 2),
                    "sortie": dt.date(y, 3, 1),
                    "motif": "Fin de parcours",
                    "_note": "rejected: exit before entry",
                }
            )

    # --- 9. the jeunes export ---------------------------------------------------------------

    def _yes_no(self, value: bool | None) -> str:
        return self._raw(YES) if value else self._raw([*NO, ""])

    def jeunes(self) -> list[dict[str, Any]]:
        rng, rows = self.rng, []
        names = dict(self.t.communes)
        for p in self.persons:
            if not p.raw:
                first, last = rng.choice(FAKE_FIRST), rng.choice(FAKE_LAST)
                n = rng.randint(10, 99)
                p.raw = {
                    "nom": last,
                    "prenom": first,
                    "telephone": f"06 00 00 {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}",
                    "email": f"{fold(first)}.{fold(last)}.{n}@example.invalid",
                    "adresse": f"{rng.randint(1, 120)} {rng.choice(FAKE_STREETS)}, Nulle-Part",
                    "conseiller": rng.choice(FAKE_ADVISERS),
                    "sexe": self._raw(RAW_SEX[p.sex]) if p.sex else "",
                    "niveau": self._raw(RAW_QUAL[p.qual]) if p.qual else "",
                    "qpv": p.qpv.upper().replace("-", " ")
                    if p.qpv and rng.random() < 0.1
                    else (p.qpv or ""),
                }
            if p.commune == OUT_KEY:
                insee, commune = OUT_COMMUNE
            elif p.commune == "":
                insee, commune = "", ""
            else:
                insee, commune = p.commune, names[p.commune]
            housing = (
                self._raw(RAW_HOUSING[p.housing])
                if p.housing
                else rng.choice(["", "", "Colocation"])
            )
            rows.append(
                {
                    "id": p.pid,
                    **p.raw,
                    "naissance": p.birth,
                    "commune": commune,
                    "insee": insee,
                    "premier_accueil": None if p.no_fr else p.fr,
                    "rqth": self._yes_no(p.rqth),
                    "permis": self._yes_no(p.licence),
                    "hebergement": housing,
                    "antenne": rng.choice(SITES),
                }
            )
        odd = rows[[p.seg for p in self.persons].index("C")]
        odd["rqth"], odd["_note"] = "NC", "kept: RQTH value NC counts as no (warning)"
        missing = {
            "naissance": "no birth date",
            "premier_accueil": "no first-reception date",
            "niveau": "no qualification level",
            "commune": "no commune",
        }
        for key, what in missing.items():
            row = next((r for r in rows if not r[key] and not r.get("_note")), None)
            if row:
                row["_note"] = f"kept, {what}: counts under Non renseigné (warning)"
        rng.shuffle(rows)
        return rows

    # --- the whole year ---------------------------------------------------------------------

    def build(self) -> YearData:
        self.youth_interviewed()
        self.cej_periods()
        self.cej_measures()
        self.employment()
        self.training()
        self.immersions()
        self.civic_service()
        self.sponsorship()
        self.new_arrivals()
        self.programmes()
        self.apprentices_followed()
        self.contact_only()
        self.dates()
        self.background()
        rows = {"situations": self.situations(), "dispositifs": self.dispositifs()}
        rows["evenements"] = self.events()
        self.extra_events(rows["evenements"])
        rows["propositions"] = self.proposals()
        rows["aides"] = self.aids()
        self.bad_rows(rows)
        rows["jeunes"] = self.jeunes()
        return YearData(
            year=self.y, targets=self.t, persons=self.persons, rows=rows, extraction=self.extraction
        )


# ---------------------------------------------------------------------------------------------
# Both years
# ---------------------------------------------------------------------------------------------


def build_demo(seed: int = 2025, today: dt.date | None = None) -> tuple[YearData, YearData]:
    """The 2024 and 2025 data in memory, before writing (the same seed gives the same data).

    2024 is built first; 2025 carries on with some of its people (CEJ youth still enrolled,
    apprentices and civic-service volunteers whose contract runs on, and others in contact)
    under the same ids and facts.
    """
    today = today or DEFAULT_TODAY
    if today <= dt.date(2025, 12, 31):
        raise ValueError(f"the demo covers the whole of 2025: today ({today}) must come after it")
    t2024, t2025 = load_targets(2024), load_targets(2025)
    errors = check_statements(t2025, t2024)
    if errors:
        raise ValueError("targets contradict the report's statements: " + "; ".join(errors))
    rng = random.Random(seed)
    ids = IdPool(rng)
    y2024 = YearBuilder(t2024, rng, ids, today).build()
    y2025 = YearBuilder(t2025, rng, ids, today, prev=y2024).build()
    return y2024, y2025


# ---------------------------------------------------------------------------------------------
# Writing the exports, shaped like real extractions
# ---------------------------------------------------------------------------------------------


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


@functools.lru_cache
def _forms(spec: str) -> tuple[str, list[str], list[float]]:
    kind, *variants = spec.split()
    names = [v.split("=")[0] for v in variants]
    return kind, names, [float(v.split("=")[1]) if "=" in v else 1.0 for v in variants]


def _amount_text(value: Decimal, style: str, csv_safe: bool) -> str:
    sign, value = ("-" if value < 0 else ""), abs(value)
    euros, cents = divmod(int((value * 100).to_integral_value(ROUND_HALF_UP)), 100)
    if style == "plain":
        return f"{sign}{euros}.{cents:02d}"
    sep = "\xa0" if csv_safe else "\u202f"
    grouped = f"{euros:,}".replace(",", sep)
    return f"{sign}{grouped},{cents:02d}" + (" €" if style == "euro" else "")


def commune_spellings(name: str) -> list[str]:
    """How i-milo users type a commune: as written, in capitals without accents, ... All fold
    to the territory's name (exports.md, Headers)."""
    words = fold(name).split()
    spellings = [
        name,
        " ".join(words).upper(),
        " ".join(w.capitalize() for w in words),
        name.upper(),
    ]
    assert all(fold(s) == fold(name) for s in spellings)
    return spellings


class Writer:
    """Renders rows into cells: varied date forms, ids as numbers or text, amounts as numbers
    or `1 234,56 €`, commune names as typed; records where the notable rows land."""

    def __init__(self, seed: int, year: int, name: str) -> None:
        self.rng = random.Random(f"{seed}-{year}-{name}")
        self.notes: list[tuple[str, str | None, int, str]] = []

    def formatter(self, key: str, form: str, csv_safe: bool) -> Callable[[dict[str, Any]], Any]:
        """The function that turns a row into this column's cell value."""
        rng = self.rng
        kind, names, weights = _forms(form)

        def value(row: dict[str, Any]) -> Any:
            v = row[key] if key in row else self.decor(key)
            return None if v == "" else v

        def styled(render: Callable[[Any], Any]) -> Callable[[dict[str, Any]], Any]:
            def cell(row: dict[str, Any]) -> Any:
                v = value(row)
                return None if v is None else render(v)

            return cell

        if kind == "text":
            return styled(str)
        if kind == "id_num":
            return styled(lambda v: int(v) if str(v).isdigit() else v)
        if kind == "id_text":
            return styled(lambda v: f" {v} " if rng.random() < 0.01 else str(v))
        if kind == "insee":
            return styled(lambda v: int(v) if rng.random() < 0.5 else str(v))
        if kind == "commune":
            odds = [45, 35, 15, 5] if names == ["varied"] else [75, 25, 0, 0]
            return styled(lambda v: rng.choices(commune_spellings(v), odds)[0])
        if kind == "amount":

            def amount(v: Any) -> Any:
                if not isinstance(v, Decimal):
                    return str(v)
                style = rng.choices(names, weights)[0]
                return float(v) if style == "num" else _amount_text(v, style, csv_safe)

            return styled(amount)
        if kind == "date":
            patterns = {"dmy": "%d/%m/%Y", "dmy2": "%d/%m/%y", "iso": "%Y-%m-%d"}

            def date(v: Any) -> Any:
                if isinstance(v, str):
                    return v
                style = rng.choices(names, weights)[0]
                if style == "excel":
                    return v
                if style == "dt":
                    return dt.datetime.combine(
                        v, dt.time(rng.randint(8, 17), rng.choice([0, 15, 30, 45]))
                    )
                if style == "serial":
                    return excel_serial(v)
                return v.strftime(patterns[style])

            return styled(date)
        raise ValueError(f"unknown cell form {form}")

    def decor(self, key: str) -> Any:
        """Columns nobody asked for, or that the pipeline must never keep (advisers)."""
        rng = self.rng
        if key == "conseiller":
            return rng.choice(FAKE_ADVISERS)
        if key == "lieu":
            return rng.choice(SITES + ["Téléphone", "Visioconférence"])
        if key == "theme_evt":
            return rng.choice(["Emploi", "Formation", "Santé", "Logement", "Mobilité", "Suivi CEJ"])
        if key == "libelle":
            return rng.choice(
                [
                    "Offre d'emploi",
                    "Atelier CV",
                    "Information métier",
                    "Bilan de santé",
                    "Orientation vers un partenaire",
                    "Session de recrutement",
                ]
            )
        if key == "commentaire":
            return rng.choice(["", "", "Texte libre de démonstration", "RAS"])
        return None

    def table(
        self, rel: str, sheet: Sheet, rows: list[dict[str, Any]], csv_safe: bool
    ) -> Iterable[list[Any]]:
        yield from sheet.titles
        yield [header for _, header, _ in sheet.columns]
        first = len(sheet.titles) + 2
        cells = [self.formatter(key, form, csv_safe) for key, _, form in sheet.columns]
        for i, row in enumerate(rows):
            if row.get("_note"):
                self.notes.append((rel, None if csv_safe else sheet.name, first + i, row["_note"]))
            yield [cell(row) for cell in cells]
        if sheet.total:
            yield []
            yield [sheet.total.format(n=len(rows))]

    def write(self, folder: Path, spec: ExportFile, data: YearData, raw_root: Path) -> Path:
        path = folder / spec.name
        rel = path.relative_to(raw_root).as_posix()
        if path.suffix == ".csv":
            sheet = spec.sheets[0]
            with open(path, "w", encoding="cp1252", newline="") as fh:
                out = csv.writer(fh, delimiter=";")
                for line in self.table(rel, sheet, data.rows[sheet.kind], csv_safe=True):
                    out.writerow(["" if v is None else v for v in line])
            return path
        wb = Workbook(write_only=True)
        for sheet in spec.sheets:
            ws = wb.create_sheet(sheet.name)
            lines = (
                self.table(rel, sheet, data.rows[sheet.kind], False) if sheet.kind else sheet.titles
            )
            for line in lines:
                ws.append(line)
        wb.save(path)
        _freeze_stamps(path, dt.datetime.combine(data.extraction, dt.time(7, 30)))
        return path


def _freeze_stamps(path: Path, when: dt.datetime) -> None:
    """openpyxl stamps the time of saving into docProps/core.xml and the zip entries; put the
    extraction time instead, so that the same seed writes the same bytes."""
    with zipfile.ZipFile(path) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            if name == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, content
                )
            archive.writestr(
                zipfile.ZipInfo(name, date_time=when.timetuple()[:6]),
                content,
                compress_type=zipfile.ZIP_DEFLATED,
            )


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


def write_structure(raw_dir: Path) -> Path:
    """structure.yaml as exports.md shows it, declared synthetic: only this seeded data may
    be pseudonymised with the public demo key (pipelines/pseudonym.py)."""
    path = raw_dir / STRUCTURE / "structure.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (TARGETS_DIR / "structure.yaml").read_text(encoding="utf-8")
    path.write_text(text.rstrip("\n") + "\n# Données de démonstration générées : clé publique "
                    "de démonstration admise.\nsynthetic: true\n", encoding="utf-8")
    return path


_YEARS: Sequence[YearData] = ()  # what forked writer processes read (inherited, not pickled)


def _write_file(task: tuple[Path, int, int, int]) -> tuple[Path, list[tuple]]:
    raw_dir, seed, year_index, file_index = task
    data = _YEARS[year_index]
    spec = export_files(data.year, data.extraction)[file_index]
    writer = Writer(seed, data.year, spec.name)
    return writer.write(raw_dir / STRUCTURE / str(data.year), spec, data, raw_dir), writer.notes


def _write(raw_dir: Path, years: Sequence[YearData], seed: int) -> tuple[list[Path], list[tuple]]:
    """Write every file; openpyxl spends ~20 µs a cell, so files are written by two forked
    processes where the platform forks (each file has its own seeded rng: same bytes)."""
    global _YEARS
    _YEARS = years
    for data in years:
        (raw_dir / STRUCTURE / str(data.year)).mkdir(parents=True, exist_ok=True)
    tasks = [
        (raw_dir, seed, i, j)
        for i, data in enumerate(years)
        for j in range(len(export_files(data.year, data.extraction)))
    ]

    def cells(task: tuple[Path, int, int, int]) -> int:
        data = years[task[2]]
        spec = export_files(data.year, data.extraction)[task[3]]
        return sum(len(data.rows[s.kind]) * len(s.columns) for s in spec.sheets if s.kind)

    workers = min(2, os.cpu_count() or 1)
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        order = sorted(tasks, key=cells, reverse=True)  # the biggest first: balanced workers
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(zip(order, pool.map(_write_file, order), strict=True))
        results = [done[task] for task in tasks]
    else:
        results = [_write_file(task) for task in tasks]
    paths = [write_structure(raw_dir)] + [path for path, _ in results]
    return paths, [note for _, notes in results for note in notes]


def write_demo(raw_dir: Path, seed: int = 2025, today: dt.date | None = None) -> list[Path]:
    """Write the demo drop zone under raw_dir (structure.yaml, 2024 and 2025 exports)."""
    paths, _ = _write(Path(raw_dir), build_demo(seed, today), seed)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the seeded demo i-milo exports (MNO, 2024-2025)."
    )
    parser.add_argument(
        "--raw", type=Path, required=True, help="the drop zone to write into (raw/)"
    )
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--notes", action="store_true", help="list the rows written to be rejected or ignored"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths, notes = _write(args.raw, build_demo(args.seed), args.seed)
    for path in paths:
        print(path)
    if args.notes:
        for rel, sheet, row, note in notes:
            print(f"{rel}\t{sheet or '-'}\trow {row}\t{note}")
    print(f"{len(paths)} files in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
