"""The `propositions` export."""

from __future__ import annotations

from typing import Any

from demo.arithmetic import expand
from demo.categories import PROPOSAL_STATES, RAW_THEME
from demo.population import CEJ, CONTACT_ONLY, INTERVIEWED, NO_CONTACT, random_date
from demo.year_state import YearState


class Proposals(YearState):
    # --- 7. proposals and aids -------------------------------------------------------------------

    def proposals(self) -> list[dict[str, Any]]:
        t, rng = self.targets, self.rng
        themes = expand(t.breakdown("proposals", "proposal_theme"))
        rng.shuffle(themes)
        people = [p for p in self.persons if p.commune in self.territory]
        factor = {CEJ: 2.0, INTERVIEWED: 1.5, CONTACT_ONLY: 0.4, NO_CONTACT: 0.3}
        chosen = rng.choices(people, [factor[p.segment] * p.weight for p in people], k=len(themes))
        rows: list[dict[str, Any]] = []
        for p, theme in zip(chosen, themes, strict=True):
            rows.append(
                {
                    "id": p.pid,
                    "date": random_date(
                        rng, max(self.jan1, p.first_reception or self.jan1), self.dec31, True
                    ),
                    "theme": self._raw(RAW_THEME[theme]),
                    "etat": rng.choices(PROPOSAL_STATES, [40, 30, 15, 6, 5, 4])[0],
                }
            )
        rows.sort(key=lambda r: r["date"])
        return rows
