"""The `evenements` export: contacts per commune and type, and appointments that are none."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from demo.arithmetic import apportion
from demo.categories import CONTACT_TYPES, EVENT_DONE, EVENT_NOT_DONE, RAW_EVENT
from demo.export_layout import exported_columns
from demo.population import CEJ, CONTACT_ONLY, INTERVIEWED, Person, random_date, random_date_in
from demo.year_state import YearState


class Events(YearState):
    # --- 6. events -----------------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """Contacts per commune and type: CEJ youth's contacts within their CEJ period take the
        cej_contacts figures (shared out by the communes' CEJ youth); the rest go to the other
        young people in contact, at least one interview to each interviewed one and at least
        one other contact to each of the others."""
        t, rng = self.targets, self.rng
        total_types = t.breakdown("contacts", "contact_type")
        cej_types = t.breakdown("cej_contacts", "contact_type")
        cej = {
            ty: dict(
                zip(
                    self.commune_keys,
                    apportion(
                        cej_types.get(ty, 0),
                        [t.commune_value("cej_active", c) for c in self.commune_keys],
                    ),
                    strict=True,
                )
            )
            for ty in CONTACT_TYPES
        }
        others = CONTACT_TYPES[1:]
        left = {ty: total_types[ty] - cej_types.get(ty, 0) for ty in others}
        plan: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for c in self.commune_keys:
            a, b, cc = (
                self.by_commune(c, CEJ),
                self.by_commune(c, INTERVIEWED),
                self.by_commune(c, CONTACT_ONLY),
            )
            cej_int = cej["Entretien"][c]
            nc_int = t.commune_value("interviews", c) - cej_int
            row_total = (
                t.commune_value("contacts", c)
                - t.commune_value("interviews", c)
                - sum(cej[ty][c] for ty in others)
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
        rows: list[dict[str, Any]] = []
        for p in self.persons:
            events: list[dict[str, Any]] = [
                {
                    "id": p.pid,
                    "ctype": ty,
                    "win": win,
                    "date": random_date_in(
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
                plan[id(p)].append((ty, win or ("out" if p.segment == CEJ else "main")))

    def _event_windows(self, p: Person, win: str) -> list[tuple[dt.date, dt.date]]:
        start = max(self.jan1, p.first_reception or self.jan1)
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
            assert s.start is not None  # the situations' starts are drawn before the events
            lo, hi = max(s.start, self.jan1), min(s.end or self.dec31, self.dec31)
            if any(lo <= e["date"] <= hi for e in events):
                return
            for e in events:
                wins = [(max(a, lo), min(b, hi)) for a, b in self._event_windows(p, e["win"])]
                wins = [w for w in wins if w[0] <= w[1]]
                if wins:
                    e["date"] = random_date_in(self.rng, wins, weekday=False)
                    return
            raise ValueError(f"{p.pid}: no contact can fall within the apprenticeship")

    def extra_events(self, rows: list[dict[str, Any]]) -> None:
        """Appointments that are no contact (absent, cancelled, postponed, planned), one
        re-exported duplicate, and the strays' cancelled appointments."""
        rng = self.rng
        people = [p for p in self.persons if p.commune in self.territory and p.birth]
        n = round(len(rows) * 0.025)
        for p in rng.choices(people, [p.weight for p in people], k=n):
            rows.append(
                {
                    "id": p.pid,
                    "date": random_date(
                        rng, max(self.jan1, p.first_reception or self.jan1), self.dec31, True
                    ),
                    "type": self._raw(RAW_EVENT["Entretien"]),
                    "statut": rng.choice(EVENT_NOT_DONE),
                }
            )
        for p in self.strays:
            rows.append(
                {
                    "id": p.pid,
                    "date": random_date(rng, self.jan1, self.dec31, True),
                    "type": "Entretien individuel",
                    "statut": "Annulé",
                    "_note": "kept, counts nowhere: cancelled appointment of a stray",
                }
            )
        rows.sort(key=lambda r: r["date"])
        for i, r in enumerate(rows):
            r["id_evt"] = str(self.year * 100_000 + i + 1)
        first = {}
        for r in rows:
            if r["statut"] in EVENT_NOT_DONE and r["statut"] not in first:
                first[r["statut"]] = r
                r["_note"] = f"kept, no contact: status {r['statut']}"
        if exported_columns(self.year, "evenements").get(
            "id_evt"
        ):  # repeats merge only by their own id
            dup = dict(rows[len(rows) // 2])
            dup["_note"] = "re-exported duplicate of event " + dup["id_evt"] + ": loaded once"
            rows.append(dup)
