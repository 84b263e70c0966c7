"""Birth, first reception and start dates, chosen so that every age band holds."""

from __future__ import annotations

import datetime as dt

from demo.arithmetic import add_years, birth_bounds
from demo.categories import BAND_AGES, DAY
from demo.population import CEJ, Person, Slot, random_date, random_date_in
from demo.year_state import YearState


class Dates(YearState):
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
                    s.start = random_date_in(rng, self._slot_windows(p, s))
            for prog in p.programmes:
                if prog.get("entry") is None:
                    lo = max(jan1, p.first_reception or jan1)
                    prog["entry"] = random_date(rng, lo, self.dec31, weekday=True)

    def _prev_start(self, kind: str) -> dt.date:
        """The start of a situation or programme still running from the year before."""
        back = {"alt": (60, 700), "sc": (40, 230), "pacea": (20, 330)}[kind]
        return self.jan1 - dt.timedelta(days=self.rng.randint(*back))

    def _birth_and_reception(self, p: Person) -> None:
        rng, jan1, dec31 = self.rng, self.jan1, self.dec31
        if p.band_at_dec31 is None:  # no birth date in the export
            p.first_reception = (
                None
                if p.no_first_reception
                else random_date(rng, jan1 - dt.timedelta(days=900), jan1 - DAY)
            )
            return
        for _ in range(200):
            cons = [(dec31, *BAND_AGES[p.band_at_dec31])]
            if p.entrant:
                assert p.cej_entry is not None and p.band_entry is not None  # drawn with the CEJ
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
            if p.segment == CEJ and not p.entrant:
                assert p.cej_entry is not None  # drawn with the CEJ periods
                starts.append(p.cej_entry)
            if p.is_new_arrival:
                latest = dec31 - dt.timedelta(days=3)
                if p.entrant:
                    assert p.cej_entry is not None  # drawn with the CEJ periods
                    latest = (
                        p.cej_entry - dt.timedelta(days=7)
                        if p.cej_entry - jan1 > dt.timedelta(days=21)
                        else p.cej_entry
                    )
                p.first_reception = random_date(rng, jan1, latest, weekday=True)
                assert p.band_at_first_reception is not None  # a new arrival's band is drawn
                cons.append((p.first_reception, *BAND_AGES[p.band_at_first_reception]))
            else:
                cons.append((jan1 - DAY, 16, 99))
            cons += [(d, 16, 99) for d in starts]
            lo, hi = birth_bounds(cons)
            if lo <= hi:
                break
        else:
            raise ValueError(f"no birth date fits {p}")
        p.birth = random_date(rng, lo, hi)
        if not p.is_new_arrival:
            first = min([jan1 - DAY, *starts])
            earliest = max(add_years(p.birth, 16), first - dt.timedelta(days=1100))
            p.first_reception = (
                None if p.no_first_reception else random_date(rng, earliest, first, weekday=True)
            )

    def _slot_windows(self, p: Person, s: Slot) -> list[tuple[dt.date, dt.date]]:
        start = max(self.jan1, p.first_reception or self.jan1)
        if s.where == "cej":
            return [self.cej_window(p)]
        if s.where == "out":
            return [(max(a, start), b) for a, b in self.out_windows(p) if max(a, start) <= b]
        return [(start, self.dec31)]
