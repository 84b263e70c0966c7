"""The `aides` export: recipients and amounts per type and commune, to the cent."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from demo.arithmetic import apportion
from demo.categories import AID_GRANTED, AID_NOT_GRANTED, CEJ_MONTHLY_MAX, RAW_AID
from demo.population import (
    CEJ,
    CONTACT_ONLY,
    IN_CONTACT,
    INTERVIEWED,
    NO_CONTACT,
    Person,
    random_date,
)
from demo.year_state import YearState

# who may receive an allowance, and within which period (None: not this young person)
Window = Callable[[Person], "tuple[dt.date, dt.date] | None"]


class Aids(YearState):
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
        t, rng = self.targets, self.rng
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

        def period(window: Window, p: Person) -> tuple[dt.date, dt.date]:
            """The allowance's period of someone in its pool (who has one)."""
            found = window(p)
            assert found is not None
            return found

        allowances: list[tuple[str, Window]] = [
            ("Allocation CEJ", self.cej_window),
            ("Allocation PACEA", self.pacea_period),
        ]
        for c in self.territory:
            for aid_type, window in allowances:
                n, amount = (
                    t.aid("aid_recipients", aid_type, c),
                    Decimal(t.aid("aid_amount", aid_type, c)),
                )
                pool = [
                    p
                    for p in self.by_commune(c)
                    if (p.segment == CEJ) == (aid_type == "Allocation CEJ")
                    and window(p) is not None
                ]
                pool.sort(
                    key=lambda p: (
                        -(
                            (period(window, p)[1] - period(window, p)[0]).days
                            * rng.uniform(0.6, 1.4)
                        )
                    )
                )
                chosen = pool[:n]
                if len(chosen) < n:
                    raise ValueError(f"{c}: {len(chosen)} young people for {n} {aid_type}")
                caps = [
                    Decimal(CEJ_MONTHLY_MAX * len(self._months(*period(window, p)))) for p in chosen
                ]
                for p, part in zip(chosen, self._split(amount, n, False, caps), strict=True):
                    for day, pay in self._monthly(p, part, period(window, p)):
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
                people = self._prefer(
                    self.by_commune(c, IN_CONTACT), INTERVIEWED + CEJ + CONTACT_ONLY + NO_CONTACT
                )[:n]
                owners = people + rng.choices(people, k=files - n)
                for p, part in zip(owners, self._split(amount, files, cents), strict=True):
                    add(
                        p,
                        aid_type,
                        random_date(
                            rng, max(self.jan1, p.first_reception or self.jan1), self.dec31, True
                        ),
                        part,
                        rng.choice(objets),
                    )
        for p in rng.sample(
            [p for p in self.persons if p.segment in IN_CONTACT and p.commune in self.territory], 30
        ):
            rows.append(
                {
                    "id": p.pid,
                    "type": self._raw(RAW_AID["FAJ"]),
                    "montant": Decimal(rng.randint(5, 40) * 10),
                    "date": random_date(
                        rng, max(self.jan1, p.first_reception or self.jan1), self.dec31, True
                    ),
                    "statut": rng.choice(AID_NOT_GRANTED),
                    "objet": "Demande non aboutie",
                }
            )
        rows.sort(key=lambda r: r["date"])
        for i, r in enumerate(rows, 1):
            r["ref"] = f"AIDE-{self.year}-{i:05d}"
        for status in AID_NOT_GRANTED:
            first = next(r for r in rows if r["statut"] == status)
            first["_note"] = f"kept, not counted: aid in status {status}"
        return rows
