"""One year built stage by stage, and both years of the demo."""

from __future__ import annotations

import datetime as dt
import random

from demo.aids import Aids
from demo.categories import DEFAULT_TODAY
from demo.events import Events
from demo.figures import check_statements, load_targets
from demo.population import IdPool, YearData
from demo.programmes import Programmes
from demo.proposals import Proposals
from demo.situations import Situations
from demo.unusual_rows import UnusualRows
from demo.young_people import YoungPeople


class YearBuilder(YoungPeople, Programmes, Situations, UnusualRows, Events, Proposals, Aids):
    """Builds one year's population and rows from its targets (and the year before, if any)."""

    # --- the whole year ---------------------------------------------------------------------

    def build(self) -> YearData:
        self.youth_interviewed()
        self.cej_periods()
        self.cej_measures()
        self.employment()
        self.training()
        self.immersions()
        self.civic_service()
        self.sponsorship()
        self.new_arrivals()
        self.programmes()
        self.apprentices_followed()
        self.contact_only()
        self.dates()
        self.background()
        rows = {"situations": self.situations(), "dispositifs": self.dispositifs()}
        rows["evenements"] = self.events()
        self.extra_events(rows["evenements"])
        rows["propositions"] = self.proposals()
        rows["aides"] = self.aids()
        self.bad_rows(rows)
        rows["jeunes"] = self.jeunes()
        return YearData(
            year=self.year,
            targets=self.targets,
            persons=self.persons,
            rows=rows,
            extraction=self.extraction,
        )


def build_demo(seed: int = 2025, today: dt.date | None = None) -> tuple[YearData, YearData]:
    """The 2024 and 2025 data in memory, before writing (the same seed gives the same data).

    2024 is built first; 2025 carries on with some of its people (CEJ youth still enrolled,
    apprentices and civic-service volunteers whose contract runs on, and others in contact)
    under the same ids and facts.
    """
    today = today or DEFAULT_TODAY
    if today <= dt.date(2025, 12, 31):
        raise ValueError(f"the demo covers the whole of 2025: today ({today}) must come after it")
    t2024, t2025 = load_targets(2024), load_targets(2025)
    errors = check_statements(t2025, t2024)
    if errors:
        raise ValueError("targets contradict the report's statements: " + "; ".join(errors))
    rng = random.Random(seed)
    ids = IdPool(rng)
    y2024 = YearBuilder(t2024, rng, ids, today).build()
    y2025 = YearBuilder(t2025, rng, ids, today, prev=y2024).build()
    return y2024, y2025
