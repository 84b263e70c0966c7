"""Rows that count nowhere, and rows the contract rejects to quarantine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from demo.categories import DAY, OUT_KEY
from demo.dates import Dates
from demo.population import CONTACT_ONLY, INTERVIEWED, NO_CONTACT, Person, Slot, random_date
from demo.situation_rows import SituationRows


class UnusualRows(SituationRows, Dates):
    # --- 8. rows that count nowhere, and rows the contract rejects --------------------------------

    def background(self) -> None:
        """Kept rows that count nowhere: job-seeker statuses, planned (Prévu) situations, and two
        young people outside the territory or without a commune, with nothing counted."""
        rng = self.rng
        for p in self.persons:
            if p.segment in INTERVIEWED + CONTACT_ONLY and rng.random() < 0.12:
                if p.is_new_arrival:
                    assert p.first_reception is not None  # a new arrival's is drawn
                    lo = max(self.jan1, p.first_reception)
                else:
                    lo = max(self.jan1 - dt.timedelta(days=400), p.first_reception or self.jan1)
                start = random_date(rng, lo, self.dec31 - DAY, True)
                s = Slot(kind="de", where="free", start=start)
                s.end = (
                    None
                    if rng.random() < 0.6
                    else random_date(rng, max(start, self.jan1), self.dec31)
                )
                self._situation_details(s)
                p.slots.append(s)
        planned = rng.sample(
            [
                p
                for p in self.persons
                if p.segment in INTERVIEWED + CONTACT_ONLY and p.commune in self.territory
            ],
            8,
        )
        for i, p in enumerate(planned):
            s = Slot(
                kind="form" if i % 2 else "emploi",
                where="free",
                start=random_date(
                    rng, max(self.jan1, p.first_reception or self.jan1), self.dec31, True
                ),
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
                p = self._new(commune, NO_CONTACT, history=True)
                self._fresh_attrs(p)
                self._birth_and_reception(p)
                s = Slot(
                    kind="de", where="free", start=random_date(rng, self.jan1, self.dec31 - DAY)
                )
                self._situation_details(s)
                s.attrs["note"] = "kept, counts nowhere: job seeker " + (
                    "outside the territory" if commune else "without a commune"
                )
                p.slots.append(s)
                self.strays.append(p)

    def bad_rows(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """A few rows the contract rejects to quarantine: they count nowhere."""
        y = self.year
        someone = next(p for p in self.persons if p.segment == INTERVIEWED and not p.is_new_arrival)
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
