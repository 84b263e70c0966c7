"""What runs: the partitions to load and their follow-ups, said once for every path.

The command line, the drop-zone sensor and the nightly schedule all ask `plan_runs` which
runs a set of changed partitions calls for; Dagster executes them (the command line in
this process, the sensor and the schedule through the daemon's run queue):

0. the partitions whose folder left the drop zone leave every layer of the warehouse: their
   staging step, finding the folder gone, removes them (assets/staging.py);
1. each changed partition, years ascending (a year's trends read the year before);
2. the next year of a changed or removed partition, when it exists and did not change
   itself: its trends against the new figures, and its report, which prints them;
3. the publication of the analysts' copy: with each run (`Publication.EACH`, the sensor and
   the schedule: runs are queued one by one) or once after all of them
   (`Publication.ONCE`, the command line: a copy per partition would make a region's
   publication quadratic).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

import dagster as dg

from pipelines.jobs import (
    LOADING,
    NEXT_YEAR_ASSETS,
    PUBLISHED,
    STAGING_ASSETS,
    catalogue_job,
    ingest_job,
    keys_of,
)
from pipelines.partitions import partition_key

Partition = tuple[str, int]
TRIGGER_TAG = "observatoire/trigger"


class Publication(Enum):
    EACH = "each"
    ONCE = "once"


@dataclass(frozen=True)
class PlannedRun:
    """One run of a named job: on a partition (or none), on a subset of its assets (or
    all), for a reason shown in the UI (`observatoire/trigger`)."""

    job_name: str
    partition: Partition | None = None
    asset_selection: tuple[dg.AssetKey, ...] | None = None
    purpose: str = field(default="ingest", compare=False)

    @property
    def partition_key(self) -> dg.MultiPartitionKey | None:
        return None if self.partition is None else partition_key(*self.partition)

    def tags(self, trigger: str) -> dict[str, str]:
        """Why it runs; Dagster adds the partition's own tags (structure, year)."""
        return {TRIGGER_TAG: trigger, "observatoire/purpose": self.purpose}

    def describe(self) -> str:
        where = f"{self.partition[0]} {self.partition[1]}" if self.partition else ""
        return f"{self.job_name} {where}".strip()

    def request(self, run_key: str, trigger: str) -> dg.RunRequest:
        return dg.RunRequest(
            run_key=run_key,
            job_name=self.job_name,
            partition_key=None if self.partition_key is None else str(self.partition_key),
            asset_selection=list(self.asset_selection) if self.asset_selection else None,
            tags=self.tags(trigger),
        )


CATALOGUE = PlannedRun(catalogue_job.name, purpose="catalogue")


def vanished_partitions(held: Iterable[Partition], found: Iterable[Partition]) -> set[Partition]:
    """The partitions the warehouse holds whose folder is gone; none when the drop zone
    holds no partition at all (unmounted, or emptied by mistake: not a deletion of all)."""
    found = set(found)
    return set(held) - found if found else set()


def plan_runs(
    changed: Iterable[Partition],
    found: Iterable[Partition],
    publication: Publication,
    vanished: Iterable[Partition] = (),
) -> list[PlannedRun]:
    """The runs that a change of `changed` calls for, in the order to run them (see the
    module docstring). `found`: every partition of the drop zone; `vanished`: partitions the
    warehouse holds whose folder is gone."""
    changed = sorted(set(changed), key=lambda sy: (sy[1], sy[0]))
    vanished = sorted(set(vanished) - set(changed), key=lambda sy: (sy[1], sy[0]))
    found = set(found)
    each = publication is Publication.EACH
    removal = (*STAGING_ASSETS, PUBLISHED) if each else tuple(STAGING_ASSETS)
    runs = [PlannedRun(ingest_job.name, p, removal, purpose="removal") for p in vanished]
    # once: every partitioned asset but the publication, which follows them all
    loading = None if each else keys_of(LOADING)
    runs += [PlannedRun(ingest_job.name, p, loading) for p in changed]
    followers = sorted(
        {
            (s, y + 1)
            for s, y in [*changed, *vanished]
            if (s, y + 1) in found and (s, y + 1) not in changed
        },
        key=lambda sy: (sy[1], sy[0]),
    )
    next_year = (
        tuple(NEXT_YEAR_ASSETS) if each else tuple(k for k in NEXT_YEAR_ASSETS if k != PUBLISHED)
    )
    runs += [PlannedRun(ingest_job.name, p, next_year, purpose="next-year") for p in followers]
    if not each and runs:
        # the partition is that of the last successful run, chosen when the time comes
        runs.append(PlannedRun(ingest_job.name, None, (PUBLISHED,), purpose="publication"))
    return runs
