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
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
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

# ---------------------------------------------------------------------------------------------
# Report categories (indicators.md) and the raw spellings i-milo uses for them (exports.md).
# The first spelling of each list is the most frequent one.
# ---------------------------------------------------------------------------------------------

BANDS = ("16-17 ans", "18-21 ans", "22-25 ans", "26 ans et +")
BAND_AGES = {"16-17 ans": (16, 17), "18-21 ans": (18, 21), "22-25 ans": (22, 25), "26 ans et +": (26, 29)}
QUALS = ("Supérieur au BAC", "BAC", "BEP/CAP", "Aucun diplôme")
SEXES = ("Femmes", "Hommes")
CONTACT_TYPES = ("Entretien", "SMS", "E-mail", "Téléphone", "Autres")
MEASURES = ("Emploi", "Formation", "Immersion en entreprise", "Alternance", "Service Civique", "Autres")
MEASURE_KIND = {"Emploi": "emploi", "Formation": "form", "Immersion en entreprise": "imm",
                "Alternance": "alt", "Service Civique": "sc", "Autres": "autre"}
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
    "Supérieur au BAC": ["Niveau 5 (BTS, DUT)", "Niveau 6 (Licence)", "Bac+2", "Niveau 7 (Master)",
                         "BTS", "Licence", "III", "Niveau 5"],
    "BAC": ["Niveau 4", "Niveau 4 (BAC)", "BAC", "Bac validé", "IV"],
    "BEP/CAP": ["Niveau 3 (CAP, BEP)", "Niveau 3", "CAP", "BEP", "CAP/BEP", "V"],
    "Aucun diplôme": ["Infra 3", "Sans diplôme", "Aucun diplôme", "Niveau 2", "Niveau 1", "V bis",
                      "Vbis", "VI"],
}
RAW_PREPARED = {
    "Supérieur au BAC": ["BTS", "Niveau 5 (BTS, DUT)", "Licence", "Bac+3", "Master"],
    "BAC": ["Niveau 4 (BAC pro)", "BAC", "Niveau 4"],
    "BEP/CAP": ["CAP", "Niveau 3 (CAP, BEP)", "BEP"],
}
RAW_HOUSING = {
    "Logement parents": ["Chez les parents", "Parents", "Famille"],
    "Logement autonome": ["Logement autonome", "Locataire", "Autonome", "Propriétaire"],
    "Logement précaire": ["Hébergé chez un tiers", "Foyer", "FJT", "Précaire", "CHRS", "Hôtel",
                          "Sans domicile", "Logement précaire"],
}
RAW_EVENT = {
    "Entretien": ["Entretien individuel", "Entretien individuel - suivi", "Atelier",
                  "Information collective", "Entretien collectif", "Entretien"],
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
    "Insertion sociale": ["Santé", "Logement", "Ressources", "Mobilité", "Justice", "Citoyenneté",
                          "Loisirs, sport, culture", "Accès aux droits", "Insertion sociale"],
}
PROPOSAL_STATES = ["Prescrit", "Réalisé", "", "Refus jeune", "Refus tiers", "Abandon"]
RAW_AID = {"FAJ": ["FAJ", "Fonds d'Aide aux Jeunes"]}
AID_GRANTED = ["", "Payé", "Accordé", "Versé"]
AID_NOT_GRANTED = ["Refusé", "Annulé", "En attente"]
RAW_PROGRAMME = {"CEJ": ["CEJ", "Contrat d'Engagement Jeune"]}
YES = ["Oui", "O", "1", "Vrai", "True"]
NO = ["Non", "N", "0", "Faux", "False"]

FAKE_LAST = ["EXEMPLE", "FICTIF", "DEMO", "FACTICE", "SPECIMEN", "TESTEUR", "MODELE", "IMAGINAIRE"]
FAKE_FIRST = ["Alex", "Camille", "Sacha", "Charlie", "Dominique", "Claude", "Noa", "Lou", "Eden",
              "Morgan"]
FAKE_STREETS = ["rue de l'Exemple", "allée Fictive", "avenue du Test", "impasse Imaginaire",
                "place de la Démo"]
FAKE_ADVISERS = ["Conseiller Démo 1", "Conseillère Démo 2", "Conseiller Test 3",
                 "Conseillère Fictive 4", "Conseiller Exemple 5", "Conseillère Exemple 6"]
SITES = ["Antenne La Madeleine", "Siège Lambersart", "Antenne Marcq-en-Barœul",
         "Permanence Wambrechies", "Permanence Pérenchies"]


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
    return round_half_away(Fraction(Decimal(now) - Decimal(before)) * 100 / Fraction(Decimal(before)))


def apportion(total: int, weights: Sequence[float | int], lo: Sequence[int] | None = None,
              hi: Sequence[int] | None = None) -> list[int]:
    """Split `total` proportionally to `weights` (largest remainder), each part within [lo, hi]."""
    n = len(weights)
    lo = list(lo) if lo is not None else [0] * n
    hi = list(hi) if hi is not None else [total] * n
    wsum = sum(Fraction(w) for w in weights)
    quota = [Fraction(total) * Fraction(w) / wsum if wsum else Fraction(0) for w in weights]
    parts = [min(max(math.floor(q), lo[i]), hi[i]) for i, q in enumerate(quota)]
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
    totals = {"aid_amount": t.breakdowns.get("aid_amount", {}).get("aid_type", {}),
              "aid_recipients": t.breakdowns.get("aid_recipients", {}).get("aid_type", {}),
              "aid_files": t.breakdowns.get("aid_files", {}).get("aid_type", {})}
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
            ind, insee, d1, c1 = row["indicator"], row["commune_insee"], row["dimension_1"], row["category_1"]
            d2, c2, value = row["dimension_2"], row["category_2"], _number(row["value"])
            if insee and d1 == "aid_type":
                t.by_type_commune.setdefault(ind, {}).setdefault(c1, {})[insee] = value
            elif insee:
                t.by_commune.setdefault(ind, {})[insee] = value
            elif d2:
                t.grids.setdefault(ind, {}).setdefault(f"{d1} x {d2}", {}).setdefault(c1, {})[c2] = value
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
                errors.append(f"{ind} {row['dimension_1']} {row['categories']} {kind}: {got} != {want}")
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
    seg: str  # A: CEJ youth; B: interviewed, not CEJ; C: in contact, never interviewed; D: no contact
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
        self.rem = {dim: Counter({k: int(v) for k, v in cats.items()}) for dim, cats in margins.items()}
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

    def pick(self, rng: random.Random, dim: str, allowed: Callable[[Any], bool] = lambda v: True) -> Any:
        cats = [(k, n) for k, n in sorted(self.rem[dim].items(), key=lambda kv: str(kv[0]))
                if n > 0 and allowed(k)]
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


def in_windows(rng: random.Random, windows: Sequence[tuple[dt.date, dt.date]], weekday: bool = True) -> dt.date:
    windows = [(a, b) for a, b in windows if a <= b]
    a, b = rng.choices(windows, [(b - a).days + 1 for a, b in windows])[0]
    return rand_date(rng, a, b, weekday)
