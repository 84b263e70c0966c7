"""The `jeunes` export: who is interviewed, who is a new arrival, who is only in contact, and
their rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from demo.arithmetic import age_at, apportion, band_of, expand, prev_band
from demo.categories import (
    FAKE_ADVISERS,
    FAKE_FIRST,
    FAKE_LAST,
    FAKE_STREETS,
    NO,
    OUT_COMMUNE,
    OUT_KEY,
    RAW_HOUSING,
    RAW_QUAL,
    RAW_SEX,
    SITES,
    YES,
)
from demo.population import CEJ, CONTACT_ONLY, EVERYONE, INTERVIEWED, Person
from demo.year_state import YearState
from pipelines.config import fold


def _second_is(value: Any) -> Callable[[Any], bool]:
    """Which pairs a margin's pick may take: those whose second item is `value`."""
    return lambda pair: pair[1] == value


class YoungPeople(YearState):
    # --- 1. the interviewed youth and the CEJ youth among them ---------------------------------

    def youth_interviewed(self) -> None:
        """CEJ entrants take the margins of cej_entries; everyone interviewed (CEJ entrants,
        other CEJ youth, the other accompanied youth) together take those of youth_interviewed."""
        t, rng, yi, ce = (
            self.targets,
            self.rng,
            self.margins["youth_interviewed"],
            self.margins["cej_entries"],
        )
        entrants = [
            self._new(c, CEJ, entrant=True)
            for c in self.territory
            for _ in range(t.commune_value("cej_entries", c))
        ]
        quals, sexes, bands = (expand(ce.remaining[d]) for d in ("qual", "sex", "band"))
        for lst in (quals, sexes, bands):
            rng.shuffle(lst)
        names = list(t.qpv_communes)
        split = apportion(
            ce.remaining["qpv"][True],
            [yi.remaining["qpv"][n] for n in names],
            hi=[t.commune_value("cej_entries", t.qpv_communes[n]) for n in names],
        )
        for name, k in zip(names, split, strict=True):
            for p in rng.sample([p for p in entrants if p.commune == t.qpv_communes[name]], k):
                p.qpv = name
        for p, q, s, b in zip(entrants, quals, sexes, bands, strict=True):
            p.qual, p.sex, p.band_entry, p.band_at_dec31 = q, s, b, b
            ce.take({"qual": q, "sex": s, "band": b, "qpv": bool(p.qpv)})
            yi.take({"qual": q, "sex": s, "band": b, "qpv": p.qpv or ""})
        ce.check_empty()
        fresh: list[Person] = list(entrants)
        for c in self.territory:
            n = t.commune_value("cej_active", c) - t.commune_value("cej_entries", c)
            made = 0
            for d in self._donors("cej", c):
                if made == n:
                    break
                assert d.birth is not None  # _donors leaves out whoever has no birth date
                attrs = {
                    "qual": d.qual,
                    "sex": d.sex,
                    "band": band_of(age_at(d.birth, self.dec31)),
                    "qpv": d.qpv or "",
                    "rqth": d.rqth,
                }
                if yi.fits(attrs):
                    yi.take(attrs)
                    p = self._carry(d, CEJ)
                    p.cej_entry, p.cej_true_exit = d.cej_entry, d.cej_true_exit
                    made += 1
            fresh += [self._new(c, CEJ, history=True) for _ in range(n - made)]
            fresh += [
                self._new(c, INTERVIEWED)
                for _ in range(
                    t.commune_value("youth_interviewed", c) - t.commune_value("cej_active", c)
                )
            ]
        todo = [p for p in fresh if not p.entrant]
        for dim, attr in (("qual", "qual"), ("sex", "sex"), ("band", "band_at_dec31")):
            values = expand(yi.remaining[dim])
            rng.shuffle(values)
            for p, v in zip(todo, values, strict=True):
                setattr(p, attr, v)
        for name, commune in t.qpv_communes.items():
            pool = [p for p in todo if p.commune == commune and p.qpv is None]
            for p in rng.sample(pool, yi.remaining["qpv"][name]):
                p.qpv = name
        for p in todo:
            yi.take({"qual": p.qual, "sex": p.sex, "band": p.band_at_dec31, "qpv": p.qpv or ""})
        for p in rng.sample(fresh, yi.remaining["rqth"][True]):
            p.rqth = True
        for p in fresh:
            yi.take({"rqth": p.rqth})
        yi.check_empty()

    def new_arrivals(self) -> None:
        """New arrivals: CEJ entrants and accompanied youth first received this year, then new
        people for the rest of each cell of the two age grids."""
        t, na, rng = self.targets, self.margins["new_arrivals"], self.rng
        for c in self.territory:
            for qpv in (True, False):
                n = na.remaining["qpv"][(c, qpv)]
                for p in self._prefer(self.by_commune(c), EVERYONE):
                    if n == 0:
                        break
                    if p.history or p.prev or p.is_new_arrival or bool(p.qpv) != qpv:
                        continue
                    if p.entrant:
                        options = [p.band_entry]
                    else:
                        assert p.band_at_dec31 is not None  # drawn for everyone by now
                        options = [p.band_at_dec31, prev_band(p.band_at_dec31)]
                    for band in options:
                        attrs = {
                            "commune": c,
                            "qpv": (c, qpv),
                            "band_qual": (band, p.qual),
                            "sex_band": (p.sex, band),
                        }
                        if band and na.fits(attrs):
                            na.take(attrs)
                            p.is_new_arrival, p.band_at_first_reception = True, band
                            n -= 1
                            break
                for _ in range(n):
                    band, qual = na.pick(rng, "band_qual")
                    sex = na.pick(rng, "sex_band", _second_is(band))[0]
                    qpv_name = (
                        next((q for q, cc in t.qpv_communes.items() if cc == c), None)
                        if qpv
                        else None
                    )
                    p = self._new(
                        c,
                        self._segment_of_new(c),
                        sex=sex,
                        qual=qual,
                        band_at_dec31=band,
                        band_at_first_reception=band,
                        qpv=qpv_name,
                        is_new_arrival=True,
                    )
                    na.take(
                        {
                            "commune": c,
                            "qpv": (c, qpv),
                            "band_qual": (band, qual),
                            "sex_band": (sex, band),
                        }
                    )
        na.check_empty()
        arrivals = [p for p in self.persons if p.is_new_arrival]
        licence = expand(
            {
                True: t.breakdown("new_arrivals", "driving_licence")["Titulaire"],
                False: t.breakdown("new_arrivals", "driving_licence")["Non titulaire"],
            }
        )
        housing = expand(t.breakdown("new_arrivals", "housing"))
        rng.shuffle(licence)
        rng.shuffle(housing)
        for p, lic, h in zip(arrivals, licence, housing, strict=True):
            p.licence, p.housing = lic, h

    def contact_only(self) -> None:
        """The rest of the young people in contact: never interviewed this year. A few of them
        have facts missing from the export (level, first reception, birth date): they count
        under Non renseigné where they count at all, which is nowhere with a breakdown."""
        made = 0
        for c in self.commune_keys:
            donors = self._donors("any", c) if c in self.territory else []
            while self.contact_room[c] > 0:
                self.contact_room[c] -= 1
                if donors and self.rng.random() < 0.6:
                    self._carry(donors.pop(), CONTACT_ONLY).history = False
                    continue
                p = self._new(c, CONTACT_ONLY)
                self._fresh_attrs(p)
                made += 1
                if made % 61 == 0:  # about 1.6 % with no qualification level
                    p.qual = None
                if made % 397 == 0:  # a few with no first-reception date
                    p.no_first_reception = True
                if made in (250, 1250):  # two with no birth date
                    p.band_at_dec31 = None

    # --- 9. the jeunes export ---------------------------------------------------------------

    def _yes_no(self, value: bool | None) -> str:
        return self._raw(YES) if value else self._raw([*NO, ""])

    def jeunes(self) -> list[dict[str, Any]]:
        rng, rows = self.rng, []
        names = dict(self.targets.communes)
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
                    "premier_accueil": None if p.no_first_reception else p.first_reception,
                    "rqth": self._yes_no(p.rqth),
                    "permis": self._yes_no(p.licence),
                    "hebergement": housing,
                    "antenne": rng.choice(SITES),
                }
            )
        odd = rows[[p.segment for p in self.persons].index(CONTACT_ONLY)]
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
