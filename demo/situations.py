"""Who holds which situation (CEJ measures, employment, training, immersions, civic service,
apprenticeships followed): the families of the `situations` export."""

from __future__ import annotations

import math

from demo.arithmetic import apportion
from demo.categories import MEASURE_KIND, MEASURES
from demo.population import CEJ, CONTACT_ONLY, INTERVIEWED, NO_CONTACT, NOT_IN_CEJ, Person, Slot
from demo.year_state import YearState


class Situations(YearState):
    # --- 2. CEJ measures -----------------------------------------------------------------------

    def _measure_ok(self, p: Person, m: str) -> bool:
        kind = MEASURE_KIND[m]
        limit = {"sc": 1, "alt": 2, "imm": 3, "form": 3, "autre": 2, "emploi": 99}[kind]
        return p.count(kind) < limit

    def _measure_fits(self, p: Person, m: str) -> bool:
        kind, margins = MEASURE_KIND[m], self.margins
        if (
            kind in ("emploi", "alt")
            and "employment_youth" not in p.families
            and not margins["employment_youth"].fits(self.employment_attrs(p))
        ):
            return False
        if kind == "alt" and not margins["apprenticeship_contracts"].fits({"sex": p.sex}):
            return False
        if (
            kind == "form"
            and "training_youth" not in p.families
            and not margins["training_youth"].fits(self.qual_sex_attrs(p))
        ):
            return False
        return not (kind == "imm" and not margins["immersions"].fits(self.qual_sex_attrs(p)))

    def _add_situation(self, p: Person, kind: str, where: str, tag: str = "") -> Slot:
        """Add a situation to p and count it in the families it belongs to."""
        if kind in ("emploi", "alt"):
            self._join(p, "employment_youth", self.employment_attrs(p))
        if kind == "alt":
            self.margins["apprenticeship_contracts"].take({"sex": p.sex})
        if kind == "form":
            self._join(p, "training_youth", self.qual_sex_attrs(p))
        if kind == "imm":
            self.margins["immersions"].take(self.qual_sex_attrs(p))
        if kind == "sc":
            p.families.add("civic_service")
        slot = Slot(kind=kind, where=where, tag=tag)
        p.slots.append(slot)
        return slot

    def cej_measures(self) -> None:
        """Situations starting within a CEJ period: per commune, each measure type is a share of
        the commune's situations of that type (so the rest can go to other young people)."""
        t, rng = self.targets, self.rng
        terr = self.territory
        emp, app = t.by_commune["employment_contracts"], t.by_commune["apprenticeship_contracts"]
        weights = {
            "Emploi": [emp[c] - app[c] - t.commune_value("pec_contracts", c) for c in terr],
            "Alternance": [app[c] for c in terr],
            "Formation": [t.commune_value("training_entries", c) for c in terr],
            "Immersion en entreprise": [t.commune_value("immersions", c) for c in terr],
            "Service Civique": [t.commune_value("civic_service_started", c) for c in terr],
            "Autres": [t.commune_value("cej_active", c) for c in terr],
        }
        totals = t.breakdown("cej_measures", "measure_type")
        alloc = {
            m: apportion(totals.get(m, 0), w, hi=None if m == "Autres" else w)
            for m, w in weights.items()
        }
        n_all = [sum(alloc[m][i] for m in MEASURES) for i in range(len(terr))]
        lo = [
            max(
                alloc["Service Civique"][i],
                math.ceil(alloc["Alternance"][i] / 2),
                1 if n_all[i] else 0,
            )
            for i in range(len(terr))
        ]
        hi = [min(t.commune_value("cej_active", c), n_all[i]) for i, c in enumerate(terr)]
        holders_n = apportion(
            t.total("cej_measures_youth"), [t.commune_value("cej_active", c) for c in terr], lo, hi
        )
        for i, c in enumerate(terr):
            holders = rng.sample(self.by_commune(c, CEJ), holders_n[i])
            for m in (
                "Service Civique",
                "Alternance",
                "Immersion en entreprise",
                "Formation",
                "Autres",
            ):
                for _ in range(alloc[m][i]):
                    cands = [h for h in holders if self._measure_ok(h, m)]
                    pool = [h for h in cands if self._measure_fits(h, m)] or cands
                    zero = [h for h in pool if not h.slots]
                    h = rng.choice(zero if zero and rng.random() < 0.65 else pool)
                    self._add_situation(h, MEASURE_KIND[m], "cej")
            n_emp = alloc["Emploi"][i]
            zero = [h for h in holders if not h.slots]
            if len(zero) > n_emp:
                raise ValueError(f"{c}: {len(zero)} CEJ measure holders left for {n_emp} jobs")
            want = max(len(zero), min(n_emp, round(0.75 * len(holders))))
            others = [
                h
                for h in self._prefer([h for h in holders if h.slots], CEJ)
                if self._measure_fits(h, "Emploi")
            ]
            workers = zero + others[: want - len(zero)]
            for h in workers:
                self._add_situation(h, "emploi", "cej")
            for h in rng.choices(workers, [h.weight for h in workers], k=n_emp - len(workers)):
                self._add_situation(h, "emploi", "cej")

    # --- 3. the other families -----------------------------------------------------------------
    def _new_employment_youth(
        self, commune: str, must_contact: bool = False, ap: bool = False
    ) -> Person:
        ey, rng = self.margins["employment_youth"], self.rng
        sex = ey.pick(
            rng,
            "sex",
            lambda s: not ap or self.margins["apprenticeship_contracts"].remaining["sex"][s] > 0,
        )
        p = self._new(
            commune,
            self._segment_of_new(commune, must_contact),
            sex=sex,
            qual=ey.pick(rng, "qual"),
            band_at_dec31=ey.pick(rng, "band"),
        )
        return p

    def _new_worker(self, commune: str, ap: bool = False, segments: str = INTERVIEWED) -> Person:
        """A young person entering employment_youth: an accompanied youth who fits, else new."""
        for p in self._prefer(self.by_commune(commune, segments)):
            if "employment_youth" in p.families or not self.margins["employment_youth"].fits(
                self.employment_attrs(p)
            ):
                continue
            if ap and not self.margins["apprenticeship_contracts"].fits({"sex": p.sex}):
                continue
            return p
        return self._new_employment_youth(commune, must_contact=ap, ap=ap)

    def employment(self) -> None:
        """Employment contracts outside CEJ measures: alternance, PEC and other CUI, then the
        other contracts; each new young person gets one, the rest go to those already in."""
        t, rng = self.targets, self.rng
        terr = self.territory
        emp, app = t.by_commune["employment_contracts"], t.by_commune["apprenticeship_contracts"]
        pec = {c: t.commune_value("pec_contracts", c) for c in terr}
        cui = t.breakdown("employment_contracts", "contract_type").get("CUI", 0)
        cui_extra = dict(
            zip(
                terr,
                apportion(cui - sum(pec.values()), [emp[c] - app[c] for c in terr]),
                strict=True,
            )
        )
        for c in terr:
            for _ in range(app[c] - self._count_slots("alt", "cej", c)):
                self._add_situation(
                    self._new_worker(c, ap=True, segments=INTERVIEWED + CONTACT_ONLY), "alt", "free"
                )
            for tag, n in (("pec", pec[c]), ("cui", cui_extra[c])):
                for _ in range(n):
                    self._add_situation(self._new_worker(c), "emploi", "free", tag)
        rest = {
            c: emp[c] - sum(p.count("emploi") + p.count("alt") for p in self.by_commune(c))
            for c in terr
        }
        n_new = t.total("employment_youth") - sum(
            "employment_youth" in p.families for p in self.persons
        )
        new_c = apportion(
            n_new,
            [rest[c] for c in terr],
            lo=[1 if rest[c] > 0 else 0 for c in terr],
            hi=[rest[c] for c in terr],
        )
        for i, c in enumerate(terr):
            newcomers = []
            outsiders = [
                p
                for p in self.by_commune(c, CEJ)
                if "employment_youth" not in p.families
                and self.out_windows(p)
                and self.margins["employment_youth"].fits(self.employment_attrs(p))
            ]
            for p in outsiders[: min(len(outsiders), new_c[i] // 12)]:
                self._add_situation(p, "emploi", "out")
                newcomers.append(p)
            while len(newcomers) < new_c[i]:
                p = self._new_worker(c)
                self._add_situation(p, "emploi", "free")
                newcomers.append(p)
            extra = rest[c] - new_c[i]
            pool = [
                p
                for p in self.by_commune(c, NOT_IN_CEJ)
                if "employment_youth" in p.families and not p.count("alt")
            ]
            movers = [
                p
                for p in self.by_commune(c, CEJ)
                if "employment_youth" in p.families and self.out_windows(p)
            ][:2]
            weights = [p.weight for p in pool] + [0.3] * len(movers)
            for p in rng.choices(pool + movers, weights, k=extra):
                self._add_situation(p, "emploi", "out" if p.segment == CEJ else "free")
        self.margins["employment_youth"].check_empty()
        self.margins["apprenticeship_contracts"].check_empty()

    def _new_family_member(self, fam: str, commune: str) -> Person:
        margins, rng = self.margins[fam], self.rng
        p = self._new(
            commune,
            self._segment_of_new(commune),
            sex=margins.pick(rng, "sex"),
            qual=margins.pick(rng, "qual"),
        )
        self._fresh_attrs(p)
        return p

    def training(self) -> None:
        """Training entries outside CEJ measures, to accompanied youth who fit, else new ones."""
        t, rng, ty = self.targets, self.rng, self.margins["training_youth"]
        rest = {
            c: t.commune_value("training_entries", c) - self._count_slots("form", "cej", c)
            for c in self.territory
        }
        n_new = t.total("training_youth") - sum(
            "training_youth" in p.families for p in self.persons
        )
        new_c = apportion(
            n_new,
            [rest[c] for c in self.territory],
            lo=[1 if rest[c] > 0 else 0 for c in self.territory],
            hi=[rest[c] for c in self.territory],
        )
        for i, c in enumerate(self.territory):
            newcomers: list[Person] = []
            for p in self._prefer(self.by_commune(c, NOT_IN_CEJ)):
                if len(newcomers) == new_c[i]:
                    break
                if "training_youth" not in p.families and ty.fits(self.qual_sex_attrs(p)):
                    self._add_situation(p, "form", "free")
                    newcomers.append(p)
            while len(newcomers) < new_c[i]:
                p = self._new_family_member("training_youth", c)
                self._add_situation(p, "form", "free")
                newcomers.append(p)
            for p in rng.choices(newcomers, [p.weight for p in newcomers], k=rest[c] - new_c[i]):
                self._add_situation(p, "form", "free")
        ty.check_empty()

    def immersions(self) -> None:
        """Immersions outside CEJ measures: one or two per young person."""
        t, im = self.targets, self.margins["immersions"]
        for c in self.territory:
            for _ in range(t.commune_value("immersions", c) - self._count_slots("imm", "cej", c)):
                pool = [
                    p
                    for p in self._prefer(self.by_commune(c, NOT_IN_CEJ))
                    if p.count("imm") < 2 and im.fits(self.qual_sex_attrs(p))
                ]
                first = [p for p in pool if not p.count("imm")]
                if first and self.rng.random() < 0.85:
                    pool = first
                self._add_situation(
                    pool[0] if pool else self._new_family_member("immersions", c), "imm", "free"
                )
        im.check_empty()

    def civic_service(self) -> None:
        """Civic service: missions started this year, then missions going on from last year."""
        t = self.targets
        for c in self.territory:
            started = t.commune_value("civic_service_started", c) - self._count_slots(
                "sc", "cej", c
            )
            for _ in range(started):
                pool = [
                    p
                    for p in self._prefer(self.by_commune(c, NOT_IN_CEJ))
                    if "civic_service" not in p.families
                ]
                p = pool[0] if pool and self.rng.random() < 0.8 else self._fresh(c)
                self._add_situation(p, "sc", "free")
            going_on = t.commune_value("civic_service_active", c) - t.commune_value(
                "civic_service_started", c
            )
            for d in self._donors("sc", c)[:going_on]:
                p = self._carry(d, self._segment_of_new(c))
                self._copy_prev_slot(p, d, "sc")
                going_on -= 1
            for _ in range(going_on):
                pool = [
                    p
                    for p in self._prefer(self.by_commune(c, NOT_IN_CEJ))
                    if "civic_service" not in p.families
                    and not p.is_new_arrival
                    and (p.prev is None)
                ]
                p = pool[0] if pool and self.rng.random() < 0.5 else self._fresh(c)
                p.history = True
                self._add_situation(p, "sc", "prev")

    def _copy_prev_slot(self, p: Person, d: Person, kind: str) -> None:
        s = self._running_slot(d, kind)
        assert s is not None  # _donors gave a donor whose situation of this kind runs on
        p.slots.append(
            Slot(
                kind=kind,
                where="prev",
                start=s.start,
                end=s.end,
                situation_id=s.situation_id,
                attrs=dict(s.attrs),
            )
        )
        if kind == "sc":
            p.families.add("civic_service")

    def apprentices_followed(self) -> None:
        """apprenticeship_followed: every apprentice of the year is in contact and followed;
        the others followed are apprentices since last year; two more are not followed."""
        t = self.targets
        signers = [p for p in self.persons if p.count("alt") and p.segment != NO_CONTACT]
        need = t.total("apprenticeship_followed") - len(signers)
        for d in self._donors("alt", None):
            if need == 0:
                break
            if self.contact_room.get(d.commune, 0) > 0:
                p = self._carry(d, self._segment_of_new(d.commune, must_contact=True))
                self._copy_prev_slot(p, d, "alt")
                need -= 1
        for _ in range(need):
            pool = [
                p
                for p in self._prefer(self.by_commune(self.rng.choice(self.territory), INTERVIEWED))
                if not p.is_new_arrival
                and "employment_youth" not in p.families
                and not p.count("alt")
            ]
            if pool and self.rng.random() < 0.4:
                p = pool[0]
            else:
                c = max(self.territory, key=lambda k: (self.contact_room[k], k))
                p = self._fresh(c, must_contact=True)
            p.history = True
            p.slots.append(Slot(kind="alt", where="prev"))
        for _ in range(2):  # apprentices since last year with no contact this year: not followed
            p = self._new(self.rng.choice(self.territory), NO_CONTACT, history=True)
            self._fresh_attrs(p)
            p.slots.append(Slot(kind="alt", where="prev"))
