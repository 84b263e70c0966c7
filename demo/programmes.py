"""The `dispositifs` export: CEJ periods, Parrainage, PACEA and the programmes the report does
not count, and their rows."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from demo.arithmetic import apportion
from demo.categories import DAY, RAW_PROGRAMME
from demo.population import CEJ, INTERVIEWED, NOT_IN_CEJ, random_date
from demo.year_state import YearState


class Programmes(YearState):
    def cej_periods(self) -> None:
        """CEJ periods: entrants enter during the year, the others the year before and are still
        enrolled on 1 January. A CEJ lasts 6 to 13 months."""
        rng = self.rng
        for p in self.persons:
            if p.segment != CEJ or p.prev is not None:
                continue
            if p.entrant:
                p.cej_entry = random_date(rng, self.jan1, self.dec31, weekday=True)
                p.cej_true_exit = p.cej_entry + dt.timedelta(days=rng.randint(183, 400))
            else:
                p.cej_entry = random_date(
                    rng, self.jan1 - dt.timedelta(days=365), self.jan1 - DAY, weekday=True
                )
                least = max(183, (self.jan1 - p.cej_entry).days + 10)
                p.cej_true_exit = p.cej_entry + dt.timedelta(
                    days=rng.randint(least, max(least, 420))
                )

    def sponsorship(self) -> None:
        """Parrainage entries, from accompanied youth who fit, else new ones."""
        t, sp, rng = self.targets, self.margins["sponsorship_entries"], self.rng
        for c in self.territory:
            n = t.commune_value("sponsorship_entries", c)
            chosen = 0
            for p in self._prefer(self.by_commune(c, NOT_IN_CEJ)):
                if chosen == n:
                    break
                attrs = {**self.qual_sex_attrs(p), "commune": c}
                if sp.fits(attrs):
                    self._join(p, "sponsorship_entries", attrs)
                    chosen += 1
            for _ in range(n - chosen):
                p = self._new(
                    c, self._segment_of_new(c), sex=sp.pick(rng, "sex"), qual=sp.pick(rng, "qual")
                )
                self._fresh_attrs(p)
                self._join(p, "sponsorship_entries", {**self.qual_sex_attrs(p), "commune": c})
        sp.check_empty()
        for p in self.persons:
            if "sponsorship_entries" in p.families:
                p.programmes.append({"name": "Parrainage", "where": "free"})

    def programmes(self) -> None:
        """PACEA (entries this year and people enrolled since last year) and the programmes the
        report does not count, on young people outside CEJ."""
        t, rng = self.targets, self.rng
        rec = {c: t.aid("aid_recipients", "Allocation PACEA", c) for c in self.territory}
        going_on = {c: math.ceil(rec[c] * 0.3) for c in self.territory}
        entries = apportion(
            t.breakdown("programme_entries", "programme")["PACEA"],
            [rec[c] + 0.2 * len(self.by_commune(c, INTERVIEWED)) for c in self.territory],
            lo=[rec[c] - going_on[c] for c in self.territory],
        )
        for i, c in enumerate(self.territory):
            pool = self._prefer(self.by_commune(c, NOT_IN_CEJ))
            for where, n in (("prev", going_on[c]), ("free", entries[i])):
                for _ in range(n):
                    ok = [
                        p
                        for p in pool
                        if "PACEA" not in p.families
                        and (where == "free" or not (p.is_new_arrival or p.prev))
                    ]
                    p = ok[0] if ok else self._fresh(c)
                    p.families.add("PACEA")
                    p.history |= where == "prev"
                    p.programmes.append({"name": "PACEA", "where": where})
        others = {
            k: v
            for k, v in t.breakdown("programme_entries", "programme").items()
            if k not in ("PACEA", "CEJ", "Parrainage")
        }
        everyone = [p for p in self.persons if p.segment != CEJ and p.commune in self.territory]
        for name, n in others.items():
            pool = [
                p
                for p in everyone
                if name != "Obligation de formation" or p.band_at_dec31 == "16-17 ans"
            ]
            for p in rng.sample(pool, n):
                p.programmes.append({"name": name, "where": "free"})

    def dispositifs(self) -> list[dict[str, Any]]:
        rng, rows = self.rng, []
        for p in self.persons:
            if p.segment == CEJ:
                assert p.cej_true_exit is not None  # every CEJ young person's period is drawn
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
