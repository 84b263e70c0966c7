"""The young people of one year, their situations, and the margins families are cut from."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from demo.figures import Targets

# Where a young person stands in the year. The letters are also their order of preference
# when people are picked (`YearState._prefer`), so their values must not change.
CEJ = "A"  # in a CEJ
INTERVIEWED = "B"  # interviewed, not in a CEJ
CONTACT_ONLY = "C"  # in contact, never interviewed
NO_CONTACT = "D"  # no contact this year
IN_CONTACT = CEJ + INTERVIEWED + CONTACT_ONLY
NOT_IN_CEJ = INTERVIEWED + CONTACT_ONLY + NO_CONTACT
EVERYONE = CEJ + NOT_IN_CEJ


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
    situation_id: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class Person:
    """One young person in one year's exports (the same pid in both years is the same person)."""

    pid: str
    commune: str  # INSEE code of a territory commune, OUT_KEY outside, "" unknown
    segment: str  # CEJ, INTERVIEWED, CONTACT_ONLY or NO_CONTACT
    sex: str | None = None
    qual: str | None = None
    band_at_dec31: str | None = None  # age band at 31/12 of the year
    band_at_first_reception: str | None = None  # age band at first reception (new arrivals)
    band_entry: str | None = None  # age band at CEJ entry (CEJ entrants)
    qpv: str | None = None
    rqth: bool = False
    licence: bool | None = None
    housing: str | None = None
    is_new_arrival: bool = False  # first received during the year
    history: bool = False  # has a situation or programme started before the year
    prev: Person | None = None  # the same young person in the previous year's data
    entrant: bool = False  # entered CEJ during the year
    birth: dt.date | None = None
    first_reception: dt.date | None = None
    no_first_reception: bool = False  # first-reception date left empty in the export
    cej_entry: dt.date | None = None
    cej_true_exit: dt.date | None = None
    families: set[str] = field(default_factory=set)
    slots: list[Slot] = field(default_factory=list)
    programmes: list[dict[str, Any]] = field(default_factory=list)
    weight: float = 1.0
    raw: dict[str, Any] = field(default_factory=dict)

    def count(self, kind: str, where: str | None = None) -> int:
        return sum(1 for s in self.slots if s.kind == kind and (where is None or s.where == where))


class Margins:
    """The remaining counts of a family's margins. A person joins a family only where every
    margin still has room, so that whatever is left can be filled by new people exactly."""

    def __init__(self, name: str, margins: dict[str, dict[Any, int]]) -> None:
        self.name = name
        self.remaining = {
            dim: Counter({k: int(v) for k, v in cats.items()}) for dim, cats in margins.items()
        }
        sums = {dim: sum(c.values()) for dim, c in self.remaining.items()}
        if len(set(sums.values())) > 1:
            raise ValueError(f"{name}: margins do not add up to one total: {sums}")

    def fits(self, attrs: dict[str, Any], w: int = 1) -> bool:
        return all(self.remaining[d][v] >= w for d, v in attrs.items())

    def take(self, attrs: dict[str, Any], w: int = 1) -> None:
        for d, v in attrs.items():
            self.remaining[d][v] -= w
            if self.remaining[d][v] < 0:
                raise ValueError(f"{self.name}: {d}={v} is over its target")

    def pick(
        self, rng: random.Random, dim: str, allowed: Callable[[Any], bool] = lambda v: True
    ) -> Any:
        cats = [
            (k, n)
            for k, n in sorted(self.remaining[dim].items(), key=lambda kv: str(kv[0]))
            if n > 0 and allowed(k)
        ]
        if not cats:
            raise ValueError(f"{self.name}: nothing left in {dim}")
        return rng.choices([k for k, _ in cats], [n for _, n in cats])[0]

    def left(self) -> int:
        return sum(next(iter(self.remaining.values())).values()) if self.remaining else 0

    def check_empty(self) -> None:
        for d, c in self.remaining.items():
            if any(c.values()):
                raise ValueError(f"{self.name}: {d} not filled: {dict(+c)} {dict(-c)}")


class IdPool:
    """Seven-digit young-person ids, unique across every year of the demo."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

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


def random_date(rng: random.Random, lo: dt.date, hi: dt.date, weekday: bool = False) -> dt.date:
    span = (hi - lo).days
    if span < 0:
        raise ValueError(f"empty window {lo}..{hi}")
    for _ in range(6 if weekday else 1):
        d = lo + dt.timedelta(days=rng.randint(0, span))
        if not weekday or d.weekday() < 5:
            return d
    return d


def random_date_in(
    rng: random.Random, windows: Sequence[tuple[dt.date, dt.date]], weekday: bool = True
) -> dt.date:
    windows = [(a, b) for a, b in windows if a <= b]
    a, b = rng.choices(windows, [(b - a).days + 1 for a, b in windows])[0]
    return random_date(rng, a, b, weekday)
