"""What every stage of building one year shares: the targets, the seeded generator, the
people made so far, the families' remaining margins, and the helpers that make or reuse
someone."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from typing import Any

from demo.arithmetic import age_at, band_of
from demo.categories import BAND_AGES, BANDS, DAY, QUALS, SEXES
from demo.figures import Targets
from demo.population import (
    CEJ,
    CONTACT_ONLY,
    EVERYONE,
    NO_CONTACT,
    NOT_IN_CEJ,
    IdPool,
    Margins,
    Person,
    Slot,
    YearData,
)


class YearState:
    """The state of one year being built, and the helpers every stage (mixin) uses."""

    # set by UnusualRows.background, read by Events.extra_events: the two young people
    # outside the territory or without a commune
    strays: list[Person]

    def __init__(
        self,
        t: Targets,
        rng: random.Random,
        ids: IdPool,
        today: dt.date,
        prev: YearData | None = None,
    ) -> None:
        self.targets, self.rng, self.ids, self.today, self.prev = t, rng, ids, today, prev
        self.year = t.year
        self.jan1, self.dec31 = dt.date(self.year, 1, 1), dt.date(self.year, 12, 31)
        self.territory = [insee for insee, _ in t.communes]
        extra = [k for k in t.by_commune.get("youth_in_contact", {}) if k not in self.territory]
        self.commune_keys = (
            self.territory + extra
        )  # per-commune keys with targets (OUT_KEY in 2024)
        self.persons: list[Person] = []
        self.contact_room = {
            c: t.commune_value("youth_in_contact", c) - t.commune_value("youth_interviewed", c)
            for c in self.commune_keys
        }
        self.carried: set[str] = set()
        self.margins = self._margins()
        self.extraction = min(today, dt.date(self.year + 1, 1, 7))

    # --- margins ------------------------------------------------------------------------------

    def _margins(self) -> dict[str, Margins]:
        """The margins of every family whose members' own attributes are counted."""
        t = self.targets

        def qual_sex(ind: str) -> dict[str, dict[str, int]]:
            return {"qual": t.breakdown(ind, "qualification"), "sex": t.breakdown(ind, "sex")}

        yi_total, qpv = t.total("youth_interviewed"), t.breakdown("youth_interviewed", "qpv")
        rqth = t.total("rqth_youth")
        na_c = t.by_commune["new_arrivals"]
        na_qpv = {}
        for c, n in na_c.items():
            na_qpv[(c, True)] = t.commune_value("new_arrivals_qpv", c)
            na_qpv[(c, False)] = n - t.commune_value("new_arrivals_qpv", c)
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
            "youth_interviewed": Margins(
                "youth_interviewed",
                {
                    "qual": t.breakdown("youth_interviewed", "qualification"),
                    "sex": t.breakdown("youth_interviewed", "sex"),
                    "band": t.breakdown("youth_interviewed", "age_band"),
                    "qpv": {**qpv, "": yi_total - sum(qpv.values())},
                    "rqth": {True: rqth, False: yi_total - rqth},
                },
            ),
            "cej_entries": Margins(
                "cej_entries",
                {
                    "qual": t.breakdown("cej_entries", "qualification"),
                    "sex": t.breakdown("cej_entries", "sex"),
                    "band": t.breakdown("cej_entries", "age_band"),
                    "qpv": {
                        True: t.breakdown("cej_entries", "qpv_status")["QPV"],
                        False: t.breakdown("cej_entries", "qpv_status")["Hors QPV"],
                    },
                },
            ),
            "employment_youth": Margins(
                "employment_youth",
                {
                    "qual": t.breakdown("employment_youth", "qualification"),
                    "sex": t.breakdown("employment_youth", "sex"),
                    "band": t.breakdown("employment_youth", "age_band"),
                },
            ),
            "training_youth": Margins("training_youth", qual_sex("training_youth")),
            "immersions": Margins("immersions", qual_sex("immersions")),
            "apprenticeship_contracts": Margins(
                "apprenticeship_contracts", {"sex": t.breakdown("apprenticeship_contracts", "sex")}
            ),
            "sponsorship_entries": Margins(
                "sponsorship_entries",
                {
                    "qual": t.breakdown("sponsorship_entries", "qualification"),
                    "sex": t.breakdown("sponsorship_entries", "sex"),
                    "commune": t.by_commune["sponsorship_entries"],
                },
            ),
            "new_arrivals": Margins(
                "new_arrivals", {"commune": na_c, "qpv": na_qpv, "band_qual": aq, "sex_band": sa}
            ),
        }

    # --- people -------------------------------------------------------------------------------

    def _new(self, commune: str, segment: str, **attrs: Any) -> Person:
        p = Person(pid=self.ids.new(), commune=commune, segment=segment, **attrs)
        p.weight = min(self.rng.lognormvariate(0, 0.7), 4.0)  # how much contact a person gets
        self.persons.append(p)
        return p

    def _segment_of_new(self, commune: str, must_contact: bool = False) -> str:
        """New people of a family live in contact (C) while the commune has room, else without
        contact (D); a few are left without contact on purpose."""
        if self.contact_room.get(commune, 0) > 0 and (must_contact or self.rng.random() > 0.06):
            self.contact_room[commune] -= 1
            return CONTACT_ONLY
        if must_contact:
            raise ValueError(f"no room left in contact for commune {commune}")
        return NO_CONTACT

    def _carry(self, donor: Person, segment: str) -> Person:
        """The previous year's young person, again this year (same id, same facts)."""
        self.carried.add(donor.pid)
        assert donor.birth is not None  # _donors leaves out whoever has no birth date
        p = Person(
            pid=donor.pid,
            commune=donor.commune,
            segment=segment,
            sex=donor.sex,
            qual=donor.qual,
            band_at_dec31=band_of(age_at(donor.birth, self.dec31)),
            qpv=donor.qpv,
            rqth=donor.rqth,
            licence=donor.licence,
            housing=donor.housing,
            prev=donor,
            birth=donor.birth,
            first_reception=donor.first_reception,
            no_first_reception=donor.no_first_reception,
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
            if d.pid in self.carried or d.commune not in self.territory or d.birth is None:
                continue
            if commune is not None and d.commune != commune:
                continue
            if role == "cej" and not (d.cej_true_exit and d.cej_true_exit >= self.jan1):
                continue
            if role in ("alt", "sc") and not self._running_slot(d, role):
                continue
            if role == "any" and d.no_first_reception:
                continue
            if age_at(d.birth, self.dec31) > BAND_AGES[BANDS[-1]][1]:  # too old to be followed
                continue
            out.append(d)
        self.rng.shuffle(out)
        return out

    def _running_slot(self, d: Person, kind: str) -> Slot | None:
        """A situation of last year's person still running a month into this year."""
        for s in d.slots:
            if s.kind != kind:
                continue
            assert s.start is not None  # last year's dates are all drawn
            if s.start < self.jan1 and (s.end is None or s.end > self.jan1 + 30 * DAY):
                return s
        return None

    def by_commune(self, commune: str, segments: str = EVERYONE) -> list[Person]:
        return [p for p in self.persons if p.commune == commune and p.segment in segments]

    def _prefer(self, people: list[Person], order: str = NOT_IN_CEJ + CEJ) -> list[Person]:
        """Shuffle, then put the preferred segments first (B: the accompanied youth)."""
        people = list(people)
        self.rng.shuffle(people)
        return sorted(people, key=lambda p: order.index(p.segment))

    @staticmethod
    def employment_attrs(p: Person) -> dict[str, Any]:
        return {"qual": p.qual, "sex": p.sex, "band": p.band_at_dec31}

    @staticmethod
    def qual_sex_attrs(p: Person) -> dict[str, Any]:
        return {"qual": p.qual, "sex": p.sex}

    def _join(self, p: Person, fam: str, attrs: dict[str, Any] | None = None, w: int = 1) -> None:
        """p joins a family of distinct young people (counted once, whatever their situations)."""
        if fam not in p.families:
            if attrs is not None:
                self.margins[fam].take(attrs, w)
            p.families.add(fam)

    def _fresh_attrs(self, p: Person) -> None:
        """Attributes of a new person no margin constrains."""
        rng = self.rng
        if p.sex is None:
            p.sex = rng.choice(SEXES)
        if p.qual is None:
            p.qual = rng.choices(QUALS, [2, 5, 2, 6])[0]
        if p.band_at_dec31 is None:
            p.band_at_dec31 = rng.choices(BANDS, [2, 9, 7, 1])[0]

    def cej_window(self, p: Person) -> tuple[dt.date, dt.date]:
        assert p.cej_entry is not None and p.cej_true_exit is not None  # a CEJ young person
        return max(p.cej_entry, self.jan1), min(p.cej_true_exit, self.dec31)

    def pacea_period(self, p: Person) -> tuple[dt.date, dt.date] | None:
        for prog in p.programmes:
            if prog["name"] == "PACEA":
                end = prog.get("exit") or self.dec31
                return max(prog["entry"], self.jan1, p.first_reception or self.jan1), min(
                    end, self.dec31
                )
        return None

    def out_windows(self, p: Person) -> list[tuple[dt.date, dt.date]]:
        """Parts of the year outside a CEJ young person's CEJ period (at least 3 weeks long)."""
        wins = []
        if p.cej_entry and p.cej_entry - self.jan1 >= dt.timedelta(days=21):
            wins.append((self.jan1, p.cej_entry - DAY))
        if p.cej_true_exit and self.dec31 - p.cej_true_exit >= dt.timedelta(days=21):
            wins.append((p.cej_true_exit + DAY, self.dec31))
        return wins

    def _count_slots(self, kind: str, where: str, commune: str) -> int:
        return sum(p.count(kind, where) for p in self.by_commune(commune))

    def _fresh(self, commune: str, must_contact: bool = False) -> Person:
        p = self._new(commune, self._segment_of_new(commune, must_contact))
        self._fresh_attrs(p)
        return p

    def _raw(self, options: Sequence[str]) -> str:
        """A raw spelling: the first is the usual one, the others turn up now and then."""
        if len(options) == 1 or self.rng.random() < 0.7:
            return options[0]
        return self.rng.choice(options[1:])
