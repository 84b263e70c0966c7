"""The rows of the `situations` export: contract types, ROME domains, raw categories, ends."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from demo.arithmetic import add_years, expand
from demo.categories import DAY, NR, RAW_PREPARED, ROME_LETTER
from demo.population import Person, Slot
from demo.year_state import YearState


class SituationRows(YearState):
    def situations(self) -> list[dict[str, Any]]:
        """Situation rows: contract-level attributes (contract type, ROME domain, training type,
        apprenticeship kind and prepared level) are dealt from the targets' breakdowns."""
        t, rng = self.targets, self.rng
        slots = [(p, s) for p in self.persons for s in p.slots]
        new = [(p, s) for p, s in slots if not s.attrs]
        ctype = dict(t.breakdown("employment_contracts", "contract_type"))
        jobs = [(p, s) for p, s in new if s.kind == "emploi"]
        plain = [(p, s) for p, s in jobs if not s.tag]
        types = expand({k: v for k, v in ctype.items() if k not in ("CUI", "Alternance")})
        rng.shuffle(types)
        if len(types) != len(plain):
            raise ValueError(f"{len(plain)} employment contracts for {len(types)} contract types")
        app_rome = t.breakdown("apprenticeship_contracts", "rome_domain")
        rome = Counter(t.breakdown("employment_contracts", "rome_domain"))
        rome.subtract(app_rome)
        job_rome, alt_rome = expand(+rome), expand(app_rome)
        alts = [(p, s) for p, s in new if s.kind == "alt" and s.where != "prev"]
        kinds = expand(t.breakdown("apprenticeship_contracts", "apprenticeship_kind"))
        levels = expand(t.breakdown("apprenticeship_contracts", "qualification"))
        trainings = expand(t.breakdown("training_entries", "training_type"))
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
            if not s.situation_id:
                s.situation_id = str(self.ids.rng.randrange(10_000_000, 100_000_000))
            if not s.attrs.get("done"):
                self._situation_details(s)
            rows.append(self._situation_row(p, s))
        first = next(r for r in rows if r["categorie"] == "Demandeur d'emploi" and not r["_note"])
        first["_note"] = "kept, counts nowhere: job seeker (Demandeur d'emploi)"
        return rows

    def _situation_details(self, s: Slot) -> None:
        """Raw category and nature, end date, and the other columns of a situation."""
        rng, a = self.rng, s.attrs
        start = s.start
        assert start is not None  # every situation's start is drawn before its details
        a["done"] = True
        days = rng.randint
        if s.kind == "emploi":
            a["cat"] = "Emploi"
            if s.tag == "pec":
                a["nature"], a["ml"] = self._raw(["PEC", "CUI-PEC"]), "Oui"
                s.end = start + dt.timedelta(days=days(274, 365))
            elif s.tag == "cui":
                a["nature"], a["ml"] = rng.choice([("CIE en CDD", ""), ("PEC", "Non")])
                s.end = start + dt.timedelta(days=days(180, 365))
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
                s.end = start + dt.timedelta(days=days(*short)) if short else None
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
                s.end = add_years(start, rng.choice([1, 2, 2, 3])) - DAY
                if s.where == "prev" and s.end < self.jan1 + dt.timedelta(days=60):
                    s.end = add_years(start, 3) - DAY
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
            s.end = start + dt.timedelta(days=days(20, 300))
        elif s.kind == "imm":
            a["cat"], a["nature"] = (
                self._raw(["Immersion", "Immersion en entreprise", "Pmsmp"]),
                "PMSMP",
            )
            s.end = start + dt.timedelta(days=days(3, 28))
        elif s.kind == "sc":
            a["cat"] = self._raw(["Service civique", "Contrat de volontariat - bénévolat"])
            a["nature"] = self._raw(["Service civique", "Service civique international"])
            if s.end is None:
                s.end = start + dt.timedelta(days=days(180, 270))
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
            s.end = start + dt.timedelta(days=days(7, 120))
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
            "id_sit": s.situation_id,
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
