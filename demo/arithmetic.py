"""Exact splits and date arithmetic the generator builds its population with."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from demo.categories import BAND_AGES, BANDS, DAY


def apportion(
    total: int,
    weights: Sequence[float | int],
    lo: Sequence[int] | None = None,
    hi: Sequence[int] | None = None,
) -> list[int]:
    """Split `total` proportionally to `weights` (largest remainder), each part within [lo, hi].

    Parts whose share falls outside their bounds are pinned to the bound and the rest is
    shared again among the others, so the final adjustment moves at most one unit per part.
    """
    n = len(weights)
    lo = list(lo) if lo is not None else [0] * n
    hi = list(hi) if hi is not None else [total] * n
    if not sum(lo) <= total <= sum(hi):
        raise ValueError(f"cannot split {total} within bounds {sum(lo)}..{sum(hi)}")
    w = [Fraction(x) for x in weights]
    pinned: dict[int, int] = {}
    while True:
        free = [i for i in range(n) if i not in pinned]
        rest = total - sum(pinned.values())
        wsum = sum(w[i] for i in free)
        quota = {
            i: (Fraction(rest) * w[i] / wsum if wsum else Fraction(rest, len(free))) for i in free
        }
        low = [i for i in free if quota[i] < lo[i]]
        high = [i for i in free if quota[i] > hi[i]]
        if not low and not high:
            break
        for i in (
            low
            if sum(lo[i] - quota[i] for i in low) >= sum(quota[i] - hi[i] for i in high)
            else high
        ):
            pinned[i] = lo[i] if i in low else hi[i]
    quota.update({i: Fraction(v) for i, v in pinned.items()})
    parts = [min(max(math.floor(quota[i]), lo[i]), hi[i]) for i in range(n)]
    while sum(parts) < total:
        i = max((i for i in range(n) if parts[i] < hi[i]), key=lambda i: (quota[i] - parts[i], -i))
        parts[i] += 1
    while sum(parts) > total:
        i = min((i for i in range(n) if parts[i] > lo[i]), key=lambda i: (quota[i] - parts[i], i))
        parts[i] -= 1
    return parts


def expand(counts: dict[Any, int]) -> list[Any]:
    """A multiset as a list: {"a": 2, "b": 1} -> ["a", "a", "b"]."""
    return [k for k, n in counts.items() for _ in range(n)]


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def age_at(birth: dt.date, ref: dt.date) -> int:
    return ref.year - birth.year - ((ref.month, ref.day) < (birth.month, birth.day))


def band_of(age: int) -> str:
    for band, (lo, hi) in BAND_AGES.items():
        if lo <= age <= hi:
            return band
    return BANDS[0] if age < 16 else BANDS[-1]


def prev_band(band: str) -> str | None:
    i = BANDS.index(band)
    return BANDS[i - 1] if i else None


def birth_bounds(constraints: Iterable[tuple[dt.date, int, int]]) -> tuple[dt.date, dt.date]:
    """Birth dates for which age at each ref date lies in [lo, hi] (inclusive interval)."""
    first, last = dt.date(1950, 1, 1), dt.date(2100, 1, 1)
    for ref, lo, hi in constraints:
        first = max(first, add_years(ref, -(hi + 1)) + DAY)
        last = min(last, add_years(ref, -lo))
    return first, last


def excel_serial(d: dt.date) -> int:
    return (d - dt.date(1899, 12, 30)).days
