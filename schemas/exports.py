"""pandera schemas of the six export types, applied to the *parsed* frames.

`pipelines.validate` parses every text cell first (dates, codes, amounts...; what cannot be
parsed becomes a sentinel), then validates with these schemas, lazily, so that every failing
cell is found in one pass. Each check's `error` is the sentence the quarantine shows, with
`{header}` (the column as written in the file) and `{value}` (the cell as typed) filled in.
Checks that concern a whole row (an end before its start) name the column they report under
in `RowCheck`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import pandera.pandas as pa

from pipelines.cells import DATE_FLOOR, INVALID, INVALID_DATE


@dataclass(frozen=True)
class ValidationContext:
    """What a partition's rules depend on."""

    year: int
    run_date: date
    young_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def year_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.year, 1, 1)

    @property
    def year_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.year, 12, 31)


# Amounts are stored as NUMERIC(16, 2) (pipelines/tables.py): cents below 10**16.
MAX_CENTS = 10**16


# --- column builders ---------------------------------------------------------------------------

def _young_id(ctx: ValidationContext, check_known: bool = True) -> pa.Column:
    checks = []
    if check_known:
        checks.append(pa.Check(
            lambda s: s.isin(ctx.young_ids), name="young_id_known", element_wise=False,
            error="the young person's id in column {header} is not among the valid rows of the "
                  "`jeunes` export of this year: add the young person to the jeunes export "
                  "(or correct the id) and rerun",
        ))
    return pa.Column(object, nullable=False, checks=checks)


# How a reason says a date is after the day of the run (pipelines/validate.py finds the
# rows to retry by it).
FUTURE_DATE = "is after the day of the run"


def _date(
    required: bool, *, not_after: date | None = None, in_year: int | None = None
) -> pa.Column:
    checks = [
        pa.Check(lambda s: s.isna() | (s != INVALID_DATE), name="date_parsable",
                 error="'{value}' in column {header} is not a date: write it as dd/mm/yyyy, "
                       "yyyy-mm-dd or as an Excel date, between 1678 and 2261 (an end not "
                       "known yet is left empty)"),
        pa.Check(lambda s: s.isna() | (s == INVALID_DATE) | (s >= DATE_FLOOR), name="date_floor",
                 error="date '{value}' in column {header} is before 1990-01-01: correct it"),
    ]
    if not_after is not None:
        limit = pd.Timestamp(not_after)
        checks.append(pa.Check(
            lambda s: s.isna() | (s <= limit), name="date_not_future",
            error=f"date '{{value}}' in column {{header}} {FUTURE_DATE} "
                  f"({not_after:%d/%m/%Y}): the nightly run loads the row by itself once that "
                  f"day has come; if the date is wrong, correct it in i-milo and re-export",
        ))
    if in_year is not None:
        checks.append(pa.Check(
            lambda s: s.isna() | (s == INVALID_DATE) | (s < DATE_FLOOR) | (s.dt.year == in_year),
            name="date_in_year",
            error=f"date '{{value}}' in column {{header}} is not in {in_year}: this row belongs "
                  f"to another year's folder (raw/<STRUCTURE>/<YEAR>/)",
        ))
    return pa.Column("datetime64[ns]", nullable=not required, checks=checks)


def _code(required: bool, what: str, codes_name: str | None) -> pa.Column:
    where = f"config/codes.yaml ({codes_name})" if codes_name else "config/codes.yaml"
    return pa.Column(object, nullable=not required, checks=[pa.Check(
        lambda s: s != INVALID, name="code_known",
        error=f"unknown {what} '{{value}}' in column {{header}}: add it as an alias in {where}, "
              f"or correct it in the export",
    )])


def _status(what: str, codes_name: str) -> pa.Column:
    return pa.Column(object, nullable=True, checks=[pa.Check(
        lambda s: s != INVALID, name="status_listed",
        error=f"{what} '{{value}}' in column {{header}} is not one the contract lists: add it "
              f"as an alias in config/codes.yaml ({codes_name}) or correct it",
    )])


def _yes_no() -> pa.Column:
    return pa.Column(object, nullable=True, checks=[pa.Check(
        lambda s: s != INVALID, name="yes_no",
        error="'{value}' in column {header} is not a yes/no value (Oui/Non, O/N, 1/0, "
              "Vrai/Faux): correct it",
    )])


def _own_id() -> pa.Column:
    return pa.Column(object, nullable=True, checks=[pa.Check(
        lambda s: ~(s.notna() & s.duplicated(keep=False)), name="own_id_unique",
        error="id '{value}' in column {header} appears on several rows with different values: "
              "nobody can tell which is right, so every row carrying it is set aside; keep one "
              "in the export and rerun",
    )])


@dataclass(frozen=True)
class RowCheck:
    """A check over several columns, reported under `column`."""

    name: str
    column: str
    error: str
    passes: object  # Callable[[pd.DataFrame], pd.Series[bool]]

    def as_check(self) -> pa.Check:
        return pa.Check(self.passes, name=self.name, error=self.error)


def _end_not_before_start(start: str, end: str) -> RowCheck:
    return RowCheck(
        name="end_not_before_start", column=end,
        error="end date '{value}' in column {header} is before the start date: correct it",
        passes=lambda df: df[end].isna() | (df[end] == INVALID_DATE) | (df[start] == INVALID_DATE)
        | df[start].isna() | (df[end] >= df[start]),
    )


def _overlaps_year(ctx: ValidationContext, start: str, end: str) -> RowCheck:
    return RowCheck(
        name="period_overlaps_year", column=start,
        error=f"the period starting '{{value}}' (column {{header}}) does not overlap {ctx.year}: "
              f"this row belongs to another year's folder",
        passes=lambda df: df[start].isna() | (df[start] == INVALID_DATE)
        | ((df[start] <= ctx.year_end) & (df[end].isna() | (df[end] == INVALID_DATE)
                                          | (df[end] >= ctx.year_start))),
    )


def _composite_unique(columns: list[str], report_under: str) -> RowCheck:
    return RowCheck(
        name="own_id_unique", column=report_under,
        error="the row's own id (" + ", ".join(columns) + ") appears on several rows with "
              "different values: every row carrying it is set aside; keep one and rerun",
        passes=lambda df: ~(df[columns].notna().all(axis=1)
                            & df.duplicated(subset=columns, keep=False)),
    )


# --- the six schemas ---------------------------------------------------------------------------

def jeunes_schema(ctx: ValidationContext) -> pa.DataFrameSchema:
    """Only an empty or conflicting id rejects a young person (facts are never lost)."""
    return pa.DataFrameSchema({"young_id": pa.Column(object, nullable=False, checks=[pa.Check(
        lambda s: ~s.duplicated(keep=False), name="own_id_unique",
        error="the young person's id in column {header} appears on several rows with different "
              "values: every row carrying it is set aside; keep one in the export and rerun",
    )])}, strict=False, coerce=False)


def evenements_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    return pa.DataFrameSchema({
        "event_id": _own_id(),
        "young_id": _young_id(ctx),
        "event_date": _date(True, not_after=ctx.run_date, in_year=ctx.year),
        "event_type": _code(True, "event type", "event_type"),
        "status": _status("event status", "event_status"),
    }, strict=False), []


def propositions_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    return pa.DataFrameSchema({
        "proposal_id": _own_id(),
        "young_id": _young_id(ctx),
        "proposal_date": _date(True, not_after=ctx.run_date, in_year=ctx.year),
        "theme": _code(True, "proposal theme", "proposal_theme"),
        "state": _status("proposal state", "proposal_state"),
    }, strict=False), []


def situations_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    rows = [_end_not_before_start("start_date", "end_date"),
            _overlaps_year(ctx, "start_date", "end_date")]
    return pa.DataFrameSchema({
        "situation_id": _own_id(),
        "young_id": _young_id(ctx),
        "category": _code(True, "situation category", "situation_category"),
        "nature": _code(True, "situation nature for this category", "situation_nature"),
        "start_date": _date(True),
        "end_date": _date(False),
        "state": _status("situation state", "situation_state"),
        "ml_implemented": _yes_no(),
    }, checks=[r.as_check() for r in rows], strict=False), rows


def dispositifs_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    rows = [_end_not_before_start("entry_date", "exit_date"),
            _overlaps_year(ctx, "entry_date", "exit_date"),
            _composite_unique(["young_id", "programme", "entry_date"], "entry_date")]
    return pa.DataFrameSchema({
        "young_id": _young_id(ctx),
        "programme": pa.Column(object, nullable=False),
        "entry_date": _date(True),
        "exit_date": _date(False),
    }, checks=[r.as_check() for r in rows], strict=False), rows


def aides_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    return pa.DataFrameSchema({
        "aid_id": _own_id(),
        "young_id": _young_id(ctx),
        "aid_type": pa.Column(object, nullable=False),
        "aid_date": _date(True, not_after=ctx.run_date, in_year=ctx.year),
        "amount": pa.Column(object, nullable=False, checks=[
            pa.Check(lambda s: s != INVALID, name="amount_number",
                     error="amount '{value}' in column {header} is not a number: write it as "
                           "1234,56 or 1 234,56 €"),
            pa.Check(lambda s: (s == INVALID) | (s.map(lambda v: isinstance(v, int) and v >= 0)),
                     name="amount_not_negative",
                     error="amount '{value}' in column {header} is negative: correct it"),
            pa.Check(lambda s: s.map(lambda v: not isinstance(v, int) or v < MAX_CENTS),
                     name="amount_in_range",
                     error="amount '{value}' in column {header} is too large (the warehouse "
                           "holds amounts below 100 000 000 000 000 €): correct it"),
        ]),
        "status": _status("aid status", "aid_status"),
    }, strict=False), []


SCHEMAS = {
    "evenements": evenements_schema,
    "propositions": propositions_schema,
    "situations": situations_schema,
    "dispositifs": dispositifs_schema,
    "aides": aides_schema,
}

# Sentences for pandera's built-in checks, by check name.
BUILTIN_REASONS = {
    "not_nullable": "column {header} is empty on this row but is required: fill it in and rerun",
}

__all__ = ["ValidationContext", "RowCheck", "SCHEMAS", "BUILTIN_REASONS", "jeunes_schema",
           "INVALID"]
