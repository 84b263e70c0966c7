"""pandera schemas of the six export types, applied to the *parsed* frames.

`pipelines.validate` parses every text cell first (dates, codes, amounts...; what cannot be
parsed becomes a sentinel), then validates with these schemas, lazily, so that every failing
cell is found in one pass. Each check's `error` is the sentence the quarantine shows, in
French, with `{header}` (the column as written in the file) and `{value}` (the cell as
typed) filled in. The value is always written ` « {value} »` right after the noun it
qualifies, so that `pipelines.validate.generic_reason` can drop it and still leave a
sentence (grouped summaries), and a personal column's value is left out the same way.
Checks that concern a whole row (an end before its start) name the column they report under
in `RowCheck`.
"""

from __future__ import annotations

from collections.abc import Callable
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
        checks.append(
            pa.Check(
                lambda s: s.isin(ctx.young_ids),
                name="young_id_known",
                element_wise=False,
                error=f"Jeune absent des lignes valides de l'export jeunes de {ctx.year} (colonne "
                f"{{header}}, valeur non reproduite : donnée personnelle) : ajoutez le jeune "
                f"à l'export jeunes, ou corrigez son identifiant dans i-milo, puis relancez",
            )
        )
    return pa.Column(object, nullable=False, checks=checks)


# How a reason says a date is after the day of the run (pipelines/validate.py finds the
# rows to retry by it).
FUTURE_DATE = "postérieure au jour du run"


def _date(
    required: bool, *, not_after: date | None = None, in_year: int | None = None
) -> pa.Column:
    checks = [
        pa.Check(
            lambda s: s.isna() | (s != INVALID_DATE),
            name="date_parsable",
            error="Date « {value} » illisible (colonne {header}) : corrigez-la dans "
            "i-milo ou dans le fichier, au format jj/mm/aaaa, aaaa-mm-jj ou en date "
            "Excel, entre 1678 et 2261 (une fin encore inconnue reste vide)",
        ),
        pa.Check(
            lambda s: s.isna() | (s == INVALID_DATE) | (s >= DATE_FLOOR),
            name="date_floor",
            error="Date « {value} » antérieure au 01/01/1990 (colonne {header}) : "
            "corrigez-la dans i-milo",
        ),
    ]
    if not_after is not None:
        limit = pd.Timestamp(not_after)
        checks.append(
            pa.Check(
                lambda s: s.isna() | (s <= limit),
                name="date_not_future",
                error=f"Date « {{value}} » {FUTURE_DATE} ({not_after:%d/%m/%Y}, colonne "
                f"{{header}}) : le run de nuit chargera la ligne de lui-même ce jour-là ; si "
                f"la date est fausse, corrigez-la dans i-milo et exportez de nouveau",
            )
        )
    if in_year is not None:
        checks.append(
            pa.Check(
                lambda s: (
                    s.isna() | (s == INVALID_DATE) | (s < DATE_FLOOR) | (s.dt.year == in_year)
                ),
                name="date_in_year",
                error=f"Date « {{value}} » hors de l'année {in_year} (colonne {{header}}) : la "
                f"ligne relève du dossier d'une autre année (raw/<STRUCTURE>/<ANNÉE>/) ; si "
                f"la date est fausse, corrigez-la dans i-milo",
            )
        )
    return pa.Column("datetime64[ns]", nullable=not required, checks=checks)


def _agree(feminine: bool) -> tuple[str, str]:
    """(past-participle ending, object pronoun) for a French noun's gender."""
    return ("e", "la") if feminine else ("", "le")


def _code(
    required: bool, what: str, codes_name: str | None, *, feminine: bool = False, after: str = ""
) -> pa.Column:
    where = f"config/codes.yaml ({codes_name})" if codes_name else "config/codes.yaml"
    e, it = _agree(feminine)
    return pa.Column(
        object,
        nullable=not required,
        checks=[
            pa.Check(
                lambda s: s != INVALID,
                name="code_known",
                error=f"{what} « {{value}} » inconnu{e}{after} (colonne {{header}}) : ajoutez-{it} "
                f"comme alias dans {where}, ou corrigez-{it} dans i-milo",
            )
        ],
    )


def _status(what: str, codes_name: str, *, feminine: bool = False) -> pa.Column:
    e, it = _agree(feminine)
    return _parsed_column(
        "status_listed",
        f"{what} « {{value}} » non reconnu{e} (colonne {{header}}) : "
        f"ajoutez-{it} comme alias dans config/codes.yaml ({codes_name}), "
        f"ou corrigez-{it} dans i-milo",
    )


def _yes_no() -> pa.Column:
    return _parsed_column(
        "yes_no",
        "Valeur « {value} » qui n'est pas un oui/non (colonne {header}) : "
        "corrigez-la dans i-milo (Oui/Non, O/N, 1/0 ou Vrai/Faux)",
    )


def _parsed_column(check: str, error: str) -> pa.Column:
    """A column whose parser marked the values it could not read INVALID: one check, `check`,
    whose reason is `error`."""
    return pa.Column(
        object, nullable=True, checks=[pa.Check(lambda s: s != INVALID, name=check, error=error)]
    )


def _own_id() -> pa.Column:
    return pa.Column(
        object,
        nullable=True,
        checks=[
            pa.Check(
                lambda s: ~(s.notna() & s.duplicated(keep=False)),
                name="own_id_unique",
                error="Identifiant « {value} » présent sur plusieurs lignes aux valeurs "
                "différentes (colonne {header}) : impossible de savoir laquelle est juste, "
                "toutes sont écartées ; gardez-en une seule dans l'export et relancez",
            )
        ],
    )


@dataclass(frozen=True)
class RowCheck:
    """A check over several columns, reported under `column`."""

    name: str
    column: str
    error: str
    passes: Callable[[pd.DataFrame], pd.Series]  # True where the row passes

    def as_check(self) -> pa.Check:
        return pa.Check(self.passes, name=self.name, error=self.error)


def _end_not_before_start(start: str, end: str) -> RowCheck:
    return RowCheck(
        name="end_not_before_start",
        column=end,
        error="Date de fin « {value} » antérieure à la date de début (colonne {header}) : "
        "corrigez l'une ou l'autre dans i-milo",
        passes=lambda df: (
            df[end].isna()
            | (df[end] == INVALID_DATE)
            | (df[start] == INVALID_DATE)
            | df[start].isna()
            | (df[end] >= df[start])
        ),
    )


def _overlaps_year(ctx: ValidationContext, start: str, end: str) -> RowCheck:
    return RowCheck(
        name="period_overlaps_year",
        column=start,
        error=f"Date de début « {{value}} » d'une période sans aucun jour en {ctx.year} "
        f"(colonne {{header}}) : la ligne relève du dossier d'une autre année ; si une "
        f"date est fausse, corrigez-la dans i-milo",
        passes=lambda df: (
            df[start].isna()
            | (df[start] == INVALID_DATE)
            | (
                (df[start] <= ctx.year_end)
                & (df[end].isna() | (df[end] == INVALID_DATE) | (df[end] >= ctx.year_start))
            )
        ),
    )


def _composite_unique(columns: list[str], report_under: str) -> RowCheck:
    return RowCheck(
        name="own_id_unique",
        column=report_under,
        error="Même jeune, même dispositif et même date d'entrée sur plusieurs lignes aux "
        "valeurs différentes (colonne {header}) : toutes sont écartées ; gardez-en une "
        "seule dans l'export et relancez",
        passes=lambda df: (
            ~(df[columns].notna().all(axis=1) & df.duplicated(subset=columns, keep=False))
        ),
    )


# --- the six schemas ---------------------------------------------------------------------------


def jeunes_schema(ctx: ValidationContext) -> pa.DataFrameSchema:
    """Only an empty or conflicting id rejects a young person (facts are never lost)."""
    return pa.DataFrameSchema(
        {
            "young_id": pa.Column(
                object,
                nullable=False,
                checks=[
                    pa.Check(
                        lambda s: ~s.duplicated(keep=False),
                        name="own_id_unique",
                        error="Jeune présent sur plusieurs lignes aux valeurs différentes "
                        "(colonne {header}, valeur non reproduite : donnée personnelle) : "
                        "toutes sont écartées ; gardez-en une seule dans l'export jeunes "
                        "et relancez",
                    )
                ],
            )
        },
        strict=False,
        coerce=False,
    )


def _dated_record(ctx: ValidationContext, own_id: str, date: str) -> dict[str, pa.Column]:
    """The columns of a young person's dated record (an event, a proposal): its own
    id, the young person's id, a required date in the year and not after the run day."""
    return {
        own_id: _own_id(),
        "young_id": _young_id(ctx),
        date: _date(True, not_after=ctx.run_date, in_year=ctx.year),
    }


def evenements_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    return pa.DataFrameSchema(
        {
            **_dated_record(ctx, "event_id", "event_date"),
            "event_type": _code(True, "Type d'événement", "event_type"),
            "status": _status("Statut d'événement", "event_status"),
        },
        strict=False,
    ), []


def propositions_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    return pa.DataFrameSchema(
        {
            **_dated_record(ctx, "proposal_id", "proposal_date"),
            "theme": _code(True, "Thème de proposition", "proposal_theme"),
            "state": _status("État de proposition", "proposal_state"),
        },
        strict=False,
    ), []


def situations_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    rows = [
        _end_not_before_start("start_date", "end_date"),
        _overlaps_year(ctx, "start_date", "end_date"),
    ]
    return pa.DataFrameSchema(
        {
            "situation_id": _own_id(),
            "young_id": _young_id(ctx),
            "category": _code(True, "Catégorie de situation", "situation_category", feminine=True),
            "nature": _code(
                True,
                "Nature de situation",
                "situation_nature",
                feminine=True,
                after=" pour sa catégorie",
            ),
            "start_date": _date(True),
            "end_date": _date(False),
            "state": _status("État de situation", "situation_state"),
            "ml_implemented": _yes_no(),
        },
        checks=[r.as_check() for r in rows],
        strict=False,
    ), rows


def dispositifs_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    rows = [
        _end_not_before_start("entry_date", "exit_date"),
        _overlaps_year(ctx, "entry_date", "exit_date"),
        _composite_unique(["young_id", "programme", "entry_date"], "entry_date"),
    ]
    return pa.DataFrameSchema(
        {
            "young_id": _young_id(ctx),
            "programme": pa.Column(object, nullable=False),
            "entry_date": _date(True),
            "exit_date": _date(False),
        },
        checks=[r.as_check() for r in rows],
        strict=False,
    ), rows


def aides_schema(ctx: ValidationContext) -> tuple[pa.DataFrameSchema, list[RowCheck]]:
    return pa.DataFrameSchema(
        {
            "aid_id": _own_id(),
            "young_id": _young_id(ctx),
            "aid_type": pa.Column(object, nullable=False),
            "aid_date": _date(True, not_after=ctx.run_date, in_year=ctx.year),
            "amount": pa.Column(
                object,
                nullable=False,
                checks=[
                    pa.Check(
                        lambda s: s != INVALID,
                        name="amount_number",
                        error="Montant « {value} » qui n'est pas un nombre (colonne {header}) : "
                        "corrigez-le dans i-milo ou dans le fichier (forme attendue : "
                        "1234,56 ou 1 234,56 €)",
                    ),
                    pa.Check(
                        lambda s: (s == INVALID) | (s.map(lambda v: isinstance(v, int) and v >= 0)),
                        name="amount_not_negative",
                        error="Montant « {value} » négatif (colonne {header}) : corrigez-le "
                        "dans i-milo",
                    ),
                    pa.Check(
                        lambda s: s.map(lambda v: not isinstance(v, int) or v < MAX_CENTS),
                        name="amount_in_range",
                        error="Montant « {value} » trop grand (colonne {header}) : l'entrepôt "
                        "garde les montants sous 100 000 000 000 000 € ; corrigez-le dans "
                        "i-milo",
                    ),
                ],
            ),
            "status": _status("Statut d'aide", "aid_status"),
        },
        strict=False,
    ), []


SCHEMAS = {
    "evenements": evenements_schema,
    "propositions": propositions_schema,
    "situations": situations_schema,
    "dispositifs": dispositifs_schema,
    "aides": aides_schema,
}

# Sentences for pandera's built-in checks, by check name.
BUILTIN_REASONS = {
    "not_nullable": "Colonne {header} vide alors qu'elle est obligatoire : remplissez-la "
    "dans i-milo et relancez",
}

__all__ = [
    "ValidationContext",
    "RowCheck",
    "SCHEMAS",
    "BUILTIN_REASONS",
    "jeunes_schema",
    "INVALID",
]
