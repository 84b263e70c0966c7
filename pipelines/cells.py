"""Cell values (shared/contract/exports.md, *Cell values*): text in, typed values out.

Every export column is read as text (type guessing silently loses values), then parsed
here, column by column, vectorised over the distinct values. A value that cannot be parsed
becomes `INVALID` (codes, yes/no) or `INVALID_DATE`, so the pandera schemas can reject the
row and say why; an empty cell becomes None/NaT.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.config import code_lists, fold
from pipelines.frames import none_where_not

INVALID = "\x00invalid"
# Unparsable dates become this sentinel (before the contract's 1990-01-01 floor), so the
# schema's date-range check rejects them while empty cells stay NaT.
INVALID_DATE = pd.Timestamp("1800-01-01")
DATE_FLOOR = pd.Timestamp("1990-01-01")
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

_FIRST_DAY, _LAST_DAY = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})$")
_SERIAL = re.compile(r"^\d+(\.\d+)?$")


def _on_distinct(series: pd.Series, parse: Callable[[Any], object]) -> pd.Series:
    """Apply a scalar parser once per distinct value (exports repeat values a lot)."""
    # not Series.unique(): its string hash table stops at a NUL character, so 'a' and
    # 'a\x00b' would be one value and the second would be read as empty
    uniques = dict.fromkeys(series.dropna().tolist())
    mapping = {v: parse(v) for v in uniques}
    return series.map(mapping)


def parse_date_text(text: str, run_year: int) -> pd.Timestamp:
    """One date cell: ISO, dd/mm/yyyy, dd/mm/yy or an Excel serial; a time part is ignored."""
    token = text.strip().split(" ")[0].split("T")[0]
    try:
        if m := _ISO.match(token):
            y, mo, d = int(m[1]), int(m[2]), int(m[3])
        elif m := _DMY.match(token):
            d, mo, y = int(m[1]), int(m[2]), int(m[3])
            if len(m[3]) == 2:  # yy up to the run year's two last digits is 20yy, above 19yy
                y += 2000 if y <= run_year % 100 else 1900
        elif _SERIAL.match(token):
            days = int(float(token))
            if days < 1 or days > 2958465:  # Excel's own range
                return INVALID_DATE
            return EXCEL_EPOCH + pd.Timedelta(days=days)
        else:
            return INVALID_DATE
        stamp = pd.Timestamp(year=y, month=mo, day=d)
        # a date column holds 1677-09-22 .. 2262-04-11 (nanoseconds): `01/01/0001` or
        # `31/12/9999` would make the whole column fail, so they are invalid dates
        return stamp if _FIRST_DAY <= stamp <= _LAST_DAY else INVALID_DATE
    except (ValueError, OverflowError):
        return INVALID_DATE


def parse_dates(series: pd.Series, run_year: int) -> pd.Series:
    """Dates of a text column: NaT for empty, INVALID_DATE for what is not a date."""
    parsed = _on_distinct(series, lambda v: parse_date_text(str(v), run_year))
    return pd.to_datetime(parsed, cache=False)  # the cache check alone cost 4x the parse


_NUMBER_ID = re.compile(r"^([0-9]+)\.0+$")  # ASCII digits, as in Arrow's regex kernel


def _id_text(value: object) -> str | None:
    text = str(value).strip()
    if "." in text and (m := _NUMBER_ID.match(text)):
        return m[1]
    return text or None


def parse_id(series: pd.Series) -> pd.Series:
    """Identifiers as text: spaces stripped, `1234567.0` (a number cell) is `1234567`."""
    if pd.api.types.infer_dtype(series, skipna=True) == "string":
        # Ids are mostly distinct (one per event): once per distinct value saves nothing.
        # Arrow's string kernels find and fix what `_id_text` would change (same whitespace
        # as str.strip) in one pass; only those values are replaced, the others stay the
        # same Python strings (≈ 4x faster than pandas' object-string methods).
        values = series.to_numpy(dtype=object, copy=True)
        original = pa.array(values, type=pa.string(), from_pandas=True)
        text: pa.StringArray = pc.utf8_trim_whitespace(original)
        if pc.any(pc.match_substring(text, ".")).as_py():
            text = pc.replace_substring_regex(text, pattern=_NUMBER_ID.pattern, replacement=r"\1")
        text = pc.if_else(pc.equal(text, pa.scalar("")), pa.scalar(None, pa.string()), text)
        changed = pc.not_equal(text, original).fill_null(True)
        positions = np.flatnonzero(changed.to_numpy(zero_copy_only=False))
        if len(positions):  # the changed ones, and every missing value (NaN, pd.NA) as None
            values[positions] = text.take(positions).to_pylist()
        return pd.Series(values, index=series.index, dtype=object, name=series.name)
    parsed = _on_distinct(series, _id_text).astype(object)
    return none_where_not(parsed, parsed.notna())


def parse_text(series: pd.Series) -> pd.Series:
    """Text kept as typed, spaces around stripped; empty is None."""
    parsed = _on_distinct(series, lambda v: str(v).strip() or None).astype(object)
    return none_where_not(parsed, parsed.notna())


_AMOUNT_SPACES = re.compile(r"[\s\u00a0\u202f\u2009€]")


def parse_amount_text(text: str) -> int | str:
    """An amount in cents, or INVALID. `1 234,56 €`, `1234.56`, `1 234,56`, `-12`."""
    t = _AMOUNT_SPACES.sub("", text)
    if "," in t and "." in t:  # the last mark is the decimal one, the other groups thousands
        if t.rfind(",") > t.rfind("."):
            t = t.replace(".", "").replace(",", ".")
        else:
            t = t.replace(",", "")
    else:
        t = t.replace(",", ".")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", t):
        return INVALID
    try:
        cents = (Decimal(t) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except ArithmeticError:  # InvalidOperation, Overflow (`1E1000000`)
        return INVALID
    return int(cents)


def parse_amounts(series: pd.Series) -> pd.Series:
    """Amounts in integer cents (exact sums to the cent); INVALID where not a number."""
    return _on_distinct(series, lambda v: parse_amount_text(str(v)))


@dataclass(frozen=True)
class CodeList:
    """Accepted values (folded) -> category, with the contract's prefix rule."""

    name: str
    exact: dict[str, str]
    prefixes: tuple[tuple[str, str], ...]  # longest first

    @classmethod
    def from_mapping(cls, name: str, mapping: Mapping[str, Sequence[str]]) -> CodeList:
        exact: dict[str, str] = {}
        for category, values in mapping.items():
            # the category's own label is always accepted (e.g. a ROME domain written in full)
            for value in [category, *values]:
                exact.setdefault(fold(value), category)
        prefixes = tuple(sorted(exact.items(), key=lambda kv: -len(kv[0])))
        return cls(name=name, exact=exact, prefixes=prefixes)

    def match(self, value: object) -> str | None:
        """The category of a value, or None when it matches nothing."""
        folded = fold(value)
        if not folded:
            return None
        if folded in self.exact:
            return self.exact[folded]
        for accepted, category in self.prefixes:  # "Niveau 5 (BTS, DUT)" is "Niveau 5"
            if folded.startswith(accepted + " "):
                return category
        return None

    def categorise(self, series: pd.Series) -> pd.Series:
        """Categories of a text column: None for empty, INVALID for unknown values."""
        parsed = _on_distinct(series, lambda v: self.match(v) or INVALID).astype(object)
        return none_where_not(parsed, parsed.notna())


def code_list(name: str) -> CodeList:
    return _code_list_cached(name)


_CODE_LIST_CACHE: dict[str, CodeList] = {}


def _code_list_cached(name: str) -> CodeList:
    if name not in _CODE_LIST_CACHE:
        _CODE_LIST_CACHE[name] = CodeList.from_mapping(name, code_lists()[name])
    return _CODE_LIST_CACHE[name]


def parse_yes_no(series: pd.Series) -> pd.Series:
    """True/False for the listed spellings, None for empty, INVALID otherwise (exact match)."""
    spellings = code_lists()["yes_no"]
    table = {fold(v): True for v in spellings["yes"]} | {fold(v): False for v in spellings["no"]}
    parsed = _on_distinct(series, lambda v: table.get(fold(v), INVALID)).astype(object)
    return none_where_not(parsed, parsed.notna())


def most_frequent_spelling(series: pd.Series) -> pd.Series:
    """Labels kept as typed: values equal after folding become their most frequent spelling
    among the rows (ties: alphabetical)."""
    present = series.dropna()
    if present.empty:
        return series
    stripped = present.astype(str).str.strip()
    counts = stripped.groupby(stripped.map(fold)).value_counts()
    best: dict[str, str] = {}
    # ((folded, spelling), count): the index is the two groupings
    pairs = cast("list[tuple[tuple[str, str], int]]", list(counts.items()))
    ranked = sorted(pairs, key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    for (folded, spelling), _count in ranked:
        best.setdefault(folded, spelling)
    out = series.copy()
    out.loc[present.index] = stripped.map(lambda v: best[fold(v)])
    return out


def is_empty(series: pd.Series) -> pd.Series:
    """True where a text cell is empty."""
    return series.isna() | (series.astype("string").str.strip() == "")


__all__ = [
    "INVALID",
    "INVALID_DATE",
    "DATE_FLOOR",
    "CodeList",
    "code_list",
    "parse_dates",
    "parse_id",
    "parse_text",
    "parse_amounts",
    "parse_yes_no",
    "most_frequent_spelling",
    "is_empty",
    "np",
]
