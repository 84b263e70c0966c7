"""Validate stage: staged text rows -> parsed rows that pass the contract, and the rejects.

For each export type: parse every cell (`pipelines.cells`), merge rows read twice (same own
id, same parsed values), then run the type's pandera schema (`schemas.exports`) lazily. Every
failing cell becomes a quarantine row with its file, sheet, Excel row number, the column as
written in the file and a sentence in French naming the value and saying what to do
(`fill_reason`). Descriptive facts about a young person never reject the row: unknown values
count as `Non renseigné` and are reported as warnings (French sentences that begin with
"<export type>, <column> : ", counted in rows).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import pandera.pandas as pa

from pipelines.cells import (
    INVALID,
    INVALID_DATE,
    CodeList,
    code_list,
    parse_amounts,
    parse_dates,
    parse_id,
    parse_text,
    parse_yes_no,
)
from pipelines.config import (
    NON_RENSEIGNE,
    ColumnSpec,
    ExportSpec,
    Nature,
    Rewrite,
    codes,
    export_specs,
    normalise_insee,
)
from schemas.exports import (
    BUILTIN_REASONS,
    FUTURE_DATE,
    SCHEMAS,
    RowCheck,
    ValidationContext,
    jeunes_schema,
)

SOURCE = ["source_file", "source_sheet", "source_row"]
PERSONAL_VALUE_COLUMNS = {"young_id"}  # quarantine keeps no value for these


@dataclass
class TypeResult:
    """One export type of a partition after validation."""

    export_type: str
    valid: pd.DataFrame  # parsed rows that passed, with SOURCE columns
    rejects: pd.DataFrame  # quarantine rows (one per failing cell)
    row_status: pd.Series  # per staged row: loaded | rejected | merged
    row_files: pd.Series  # per staged row: its file (relative to raw/)
    warnings: Counter = field(default_factory=Counter)
    retry_on: date | None = None  # the earliest date rejected as after the run day


def _headers_of(
    headers: dict[tuple[str, str | None], dict[str, str]], file: str, sheet: str | None, column: str
) -> str:
    return headers.get((file, sheet), {}).get(column, column)


# --- parsing -----------------------------------------------------------------------------------


def _nature_lists() -> dict[str, tuple[CodeList | None, dict[str, Nature]]]:
    """Per situation category: the natures' code list (None = any label) and their metadata."""
    out: dict[str, tuple[CodeList | None, dict[str, Nature]]] = {}
    for category, natures in codes().situation_nature.items():
        if natures is None:
            out[category] = (None, {})
        else:
            mapping = {k: v.values for k, v in natures.items()}
            out[category] = (CodeList.from_mapping(f"nature:{category}", mapping), natures)
    return out


def _as_typed(raw: pd.Series) -> pd.Series:
    """A label kept as typed: trimmed, None when empty."""
    return raw.map(lambda v: str(v).strip() if pd.notna(v) and str(v).strip() else None)


def _parse_situation_codes(frame: pd.DataFrame, parsed: pd.DataFrame) -> None:
    """Category, nature and the breakdown detail, with the contract's category rewrites
    (codes.yaml, situation_category_rewrite)."""
    categories = code_list("situation_category").categorise(frame["category"])
    natures_raw = frame["nature"]
    lists = _nature_lists()
    nature = pd.Series(None, index=frame.index, dtype=object)
    detail = pd.Series(None, index=frame.index, dtype=object)
    is_pec = pd.Series(False, index=frame.index, dtype=object)
    category = categories.copy()

    # rewritten with a fixed nature: their own nature is not read, empty included
    fixed = pd.Series(False, index=frame.index)
    fixed_natures: list[tuple[pd.Series, Rewrite]] = []
    for source, rewrite in codes().situation_category_rewrite.items():
        rows = categories == source
        if rewrite.category is not None:
            category[rows] = rewrite.category
            fixed |= rows
            fixed_natures.append((rows, rewrite))
        elif rows.any() and rewrite.category_by_nature and rewrite.otherwise:
            by_nature = lists[rewrite.category_by_nature][0]
            assert by_nature is not None, "a rewrite by nature needs a category with natures"

            def is_of(value: object, natures: CodeList = by_nature) -> bool:
                return natures.match(value) is not None

            matches = natures_raw[rows].map(is_of)
            category[rows] = matches.map(
                {True: rewrite.category_by_nature, False: rewrite.otherwise}
            )

    for cat, (clist, meta) in lists.items():
        rows = (category == cat) & ~fixed
        if not rows.any():
            continue
        raw = natures_raw[rows]
        if clist is None:  # any label, kept as typed
            nature[rows] = _as_typed(raw)
            continue
        matched = clist.categorise(raw)
        nature[rows] = matched
        known = matched.notna() & (matched != INVALID)
        target = rows & known.reindex(frame.index, fill_value=False)
        detail[target] = matched[known].map({k: v.detail for k, v in meta.items()})
        is_pec[target] = matched[known].map({k: v.pec for k, v in meta.items()})
    for rows, rewrite in fixed_natures:
        nature[rows] = rewrite.nature
        fixed_nature = lists[str(rewrite.category)][1].get(str(rewrite.nature))
        detail[rows] = fixed_nature.detail if fixed_nature else None
        is_pec[rows] = fixed_nature.pec if fixed_nature else False
    # An unknown category already rejects the row: do not also blame its nature.
    nature[categories == INVALID] = natures_raw[categories == INVALID]
    parsed["category"] = category
    parsed["category_as_typed"] = frame["category"]
    parsed["nature"] = nature
    parsed["nature_as_typed"] = natures_raw
    parsed["detail"] = detail
    parsed["is_pec"] = is_pec


_PLACEHOLDER_END = re.compile(r"(?:^|\D)(?:2[3-9]\d\d|[3-9]\d\d\d)(?:\D|$)")


def _open_ended(
    raw: pd.Series, dates: pd.Series, export_type: str, header: str, warnings: Counter
) -> pd.Series:
    """An end such as 31/12/9999 is i-milo's way of saying "no end yet": still running,
    with a warning, rather than a rejected row (beyond 2261 no date fits a date column)."""
    placeholder = (dates == INVALID_DATE) & raw.astype("string").str.contains(
        _PLACEHOLDER_END, na=False
    )
    if placeholder.any():
        n = int(placeholder.sum())
        warnings[
            f"{export_type}, {header} : {_rows(n)} dont la fin est au-delà de 2261 (par "
            f"exemple 31/12/9999), lue{'s' if n > 1 else ''} comme « pas encore de fin » "
            f"(toujours en cours) : rien à corriger si c'est voulu dans i-milo"
        ] += n
    return dates.mask(placeholder)  # NaT: a datetime column


def _rows(n: int, noun: str = "ligne") -> str:
    """`1 ligne`, `3 lignes`."""
    return f"{n} {noun}{'s' if n > 1 else ''}"


def unknown_value_warning(
    where: str, value: object, n: int, codes_name: str, noun: str = "ligne"
) -> str:
    """The warning for a code that matches nothing and counts as `Non renseigné`."""
    return (
        f"{where} : valeur « {_in_reason(str(value))} » inconnue, comptée comme "
        f"{NON_RENSEIGNE} ({_rows(n, noun)}) : ajoutez-la comme alias dans "
        f"config/codes.yaml ({codes_name}), ou corrigez-la dans i-milo"
    )


def _pattern_codes(series: pd.Series, name: str) -> pd.Series:
    """A value of the list's pattern stands for the part captured (codes.yaml,
    `code_patterns`): a full ROME code (`K2111`) written in `Secteur` is its domain letter
    (exports.md)."""
    pattern = codes().code_patterns.get(name)
    if not pattern:
        return series
    text = series.astype("string").str.strip()
    letter = text.str.extract(pattern, expand=False)
    return series.where(letter.isna(), letter.str.upper()).astype(object)


def _missing_when_unknown(
    export_type: str, col: ColumnSpec, series: pd.Series, warnings: Counter
) -> pd.Series:
    """A fact that never rejects its row (`unknown_is_missing` in exports.yaml): a code that
    matches nothing, or an empty required one, counts as `Non renseigné`, with a warning."""
    name = str(col.codes)
    noun = "jeune" if export_type == "jeunes" else "ligne"
    what = f"{export_type}, {col.header}"
    values = code_list(name).categorise(series)
    unknown = values == INVALID
    for value, n in series[unknown].value_counts().items():
        warnings[unknown_value_warning(what, value, int(n), name, noun=noun)] += int(n)
    empty = values.isna()
    if col.required and empty.any():
        n = int(empty.sum())
        warnings[
            f"{what} : vide pour {_rows(n, noun)}, compté comme {NON_RENSEIGNE} : "
            f"complétez-le dans i-milo quand il est connu"
        ] += n
    return values.where(values.notna() & ~unknown, NON_RENSEIGNE)


def _parse_code(
    export_type: str, col: ColumnSpec, frame: pd.DataFrame, parsed: pd.DataFrame, warnings: Counter
) -> None:
    """A code column, as exports.yaml and codes.yaml say: kept as typed beside its code, an
    open list (unknown labels kept as typed), a fact (unknown counts as `Non renseigné`), or a
    strict list (unknown rejects the row)."""
    name = str(col.codes)
    if name == "situation_nature":
        return  # its list depends on the category: read with it
    if name == "situation_category":
        _parse_situation_codes(frame, parsed)
        return
    raw = _pattern_codes(frame[col.name], name)
    if col.as_typed:
        parsed[f"{col.name}_as_typed"] = frame[col.name]
    if col.unknown_is_missing:
        parsed[col.name] = _missing_when_unknown(export_type, col, raw, warnings)
    elif name in codes().open_lists:
        known = code_list(name).categorise(raw)
        parsed[col.name] = known.where(known != INVALID, _as_typed(raw))
    else:
        parsed[col.name] = code_list(name).categorise(raw)


def parse_frame(
    export_type: str, frame: pd.DataFrame, ctx: ValidationContext, warnings: Counter
) -> pd.DataFrame:
    """Typed values of a staged frame (same index); sentinels where a value is invalid."""
    spec = export_specs()[export_type]
    frame = frame.copy()
    for col in spec.columns:
        if not col.personal and col.name not in frame.columns:
            frame[col.name] = None
    parsed = frame[SOURCE].copy()
    for col in spec.columns:
        if col.personal:
            continue
        raw = frame[col.name]
        if col.kind in ("young_id", "id"):
            parsed[col.name] = parse_id(raw)
        elif col.kind == "date":
            parsed[col.name] = parse_dates(raw, ctx.run_date.year)
            if not col.required:
                parsed[col.name] = _open_ended(
                    raw, parsed[col.name], export_type, col.header, warnings
                )
        elif col.kind == "amount":
            parsed[col.name] = parse_amounts(raw)
        elif col.kind == "yesno":
            parsed[col.name] = parse_yes_no(raw)
        elif col.kind == "insee":
            parsed[col.name] = parse_text(raw).map(normalise_insee, na_action="ignore")
        elif col.kind in ("text", "label"):
            parsed[col.name] = parse_text(raw)
        elif col.kind == "code":
            _parse_code(export_type, col, frame, parsed, warnings)
    if export_type == "jeunes":
        _young_dates_and_answers(spec, parsed, ctx, warnings)
    return parsed


def _young_dates_and_answers(
    spec: ExportSpec, parsed: pd.DataFrame, ctx: ValidationContext, warnings: Counter
) -> None:
    """A young person's dates and yes/no answers never reject them: an impossible date is
    treated as empty, an answer that is not yes/no as no, with a warning."""
    today = pd.Timestamp(ctx.run_date)
    for column in ("birth_date", "first_reception_date"):
        what = spec.column(column).header
        dates = parsed[column]
        bad = dates.notna() & (
            (dates == INVALID_DATE) | (dates < pd.Timestamp("1990-01-01")) | (dates > today)
        )
        if bad.any():
            n = int(bad.sum())
            warnings[
                f"jeunes, {what} : date invalide (illisible, avant 1990 ou après le jour "
                f"du run) pour {_rows(n, 'jeune')}, traitée comme vide : corrigez-la dans "
                f"i-milo"
            ] += n
        parsed[column] = dates.mask(bad)  # NaT: a datetime column
    empty_reception = parsed["first_reception_date"].isna()
    if empty_reception.any():
        n = int(empty_reception.sum())
        what = spec.column("first_reception_date").header
        warnings[
            f"jeunes, {what} : vide pour {_rows(n, 'jeune')} (gardés, "
            f"non comptés comme nouveaux accueils) : complétez-la dans i-milo si le jeune "
            f"a été accueilli"
        ] += n
    for column in ("rqth", "driving_licence"):
        what = spec.column(column).header
        values = parsed[column]
        bad = values == INVALID
        if bad.any():
            n = int(bad.sum())
            warnings[
                f"jeunes, {what} : valeur qui n'est pas un oui/non pour {_rows(n, 'jeune')}, "
                f"comptée comme non : corrigez-la dans i-milo (Oui/Non, O/N, 1/0 ou "
                f"Vrai/Faux)"
            ] += n
        parsed[column] = values.where(values.notna() & ~bad, False).astype(bool)


# --- merging repeats and validating -------------------------------------------------------------


def _kept_columns(parsed: pd.DataFrame) -> list[str]:
    return [c for c in parsed.columns if c not in SOURCE and not c.endswith("_as_typed")]


def merge_repeats(export_type: str, parsed: pd.DataFrame) -> pd.Series:
    """Rows that share an own id and whose parsed values are all equal are one row.

    Returns a boolean Series, True for the repeats to drop (the first occurrence stays).
    Rows without an own id are never merged.
    """
    spec = export_specs()[export_type]
    own = list(spec.own_id) if export_type != "jeunes" else ["young_id"]
    if not own:
        return pd.Series(False, index=parsed.index)
    has_id = parsed[own].notna().all(axis=1)
    repeat = pd.Series(False, index=parsed.index)
    # only rows whose own id comes more than once can be repeats (a cheap pre-filter)
    ids = parsed.loc[has_id, own]
    shared = ids.index[ids.astype(str).duplicated(keep=False)]
    if len(shared):
        comparable = parsed.loc[shared, _kept_columns(parsed)].astype(str)
        repeat[shared] = comparable.duplicated(keep="first")
    return repeat


def _failure_rows(errors: pa.errors.SchemaErrors, row_checks: dict[str, str]) -> pd.DataFrame:
    """pandera failure cases -> (index, column, reason template), one per failing cell."""
    fc = errors.failure_cases
    fc = fc[fc["index"].notna()]
    template = fc["check"].astype(str)
    # a row-wise check is reported once, under its own column
    own_column = template.map(row_checks)
    keep = (fc["schema_context"] != "DataFrameSchema") | (
        own_column.notna() & (fc["column"] == own_column)
    )
    out = pd.DataFrame(
        {
            "index": fc.loc[keep, "index"].astype(int),
            "column": fc.loc[keep, "column"],
            "template": template[keep].map(lambda t: BUILTIN_REASONS.get(t, t)),
        }
    )
    return out.drop_duplicates().reset_index(drop=True)


def validate_type(
    export_type: str,
    staged: pd.DataFrame,
    ctx: ValidationContext,
    headers: dict,
    loaded_at: pd.Timestamp,
    structure: str,
) -> TypeResult:
    """Parse, merge repeats, validate one export type of a partition."""
    warnings: Counter = Counter()
    staged = staged.reset_index(drop=True)
    parsed = parse_frame(export_type, staged, ctx, warnings)
    repeat = merge_repeats(export_type, parsed)
    candidates = parsed[~repeat]
    row_checks: list[RowCheck] = []
    if export_type == "jeunes":
        schema = jeunes_schema(ctx)
    else:
        schema, row_checks = SCHEMAS[export_type](ctx)
    try:
        schema.validate(candidates, lazy=True)
        failures = pd.DataFrame(columns=["index", "column", "template"])
    except pa.errors.SchemaErrors as errors:
        failures = _failure_rows(errors, {r.error: r.column for r in row_checks})
    rejected_idx = set(failures["index"].astype(int))
    status = pd.Series("loaded", index=staged.index, dtype=object)
    status[repeat] = "merged"
    status[list(rejected_idx)] = "rejected"
    rejects = _quarantine_rows(
        export_type, staged, failures, headers, loaded_at, structure, ctx.year
    )
    valid = parsed.loc[status == "loaded"].copy()
    return TypeResult(
        export_type,
        valid,
        rejects,
        status,
        staged["source_file"],
        warnings,
        _retry_on(parsed, failures),
    )


def _retry_on(parsed: pd.DataFrame, failures: pd.DataFrame) -> date | None:
    """The day the earliest row rejected as dated after the run day becomes valid."""
    future = failures[failures["template"].astype(str).str.contains(FUTURE_DATE, regex=False)]
    cells = [
        parsed.at[int(i), c]
        for i, c in zip(future["index"], future["column"], strict=True)
        if c in parsed.columns
    ]
    days = [d for d in cells if isinstance(d, pd.Timestamp) and not pd.isna(d)]
    return min(days).date() if days else None


def retry_on(results: dict[str, TypeResult]) -> date | None:
    """The earliest day a partition's rows dated after the run day become valid."""
    days = [r.retry_on for r in results.values() if r.retry_on is not None]
    return min(days) if days else None


def _quoted(value: str) -> str:
    return f" « {_in_reason(value)} »"


def fill_reason(template: str, header: str, value: str | None) -> str:
    """A quarantine reason from its schema template: the column as written in the file, and
    the value quoted right after the noun it qualifies. `value` None (a personal column, the
    young person's id included, or an empty cell) leaves the value out of the sentence."""
    reason = template.replace("{header}", header)
    if not value:
        return reason.replace(" « {value} »", "").replace("{value}", "")
    return reason.replace(" « {value} »", _quoted(value)).replace("{value}", _in_reason(value))


def generic_reason(reason: str, value: object) -> str:
    """A quarantine reason with its value left out, so that similar reasons count together in
    summaries: « Type d'événement « Visio » inconnu (colonne …) : … » becomes « Type
    d'événement inconnu (colonne …) : … », still a sentence. Show one value beside it as an
    example (`example_note`), never inside it."""
    if isinstance(value, str) and value:
        return reason.replace(_quoted(value), "", 1)
    return reason


def example_note(value: object) -> str:
    """How a grouped summary shows one of the values behind a reason: labelled as the value
    found, so that it does not read as a suggested fix."""
    return f"exemple de valeur refusée : « {_in_reason(str(value), 40)} »"


def _in_reason(value: str | None, limit: int = 80) -> str:
    """A value as quoted in a reason: long cells (up to 32 767 characters) are shortened there
    (the `value` column keeps them whole)."""
    text = value or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quarantine_rows(
    export_type: str,
    staged: pd.DataFrame,
    failures: pd.DataFrame,
    headers: dict,
    loaded_at: pd.Timestamp,
    structure: str,
    year: int,
) -> pd.DataFrame:
    rows = []
    # column arrays, read once (staged has a RangeIndex: positions are its labels)
    arrays = {
        c: staged[c].to_numpy()
        for c in set(failures["column"]) | set(SOURCE)
        if c in staged.columns
    }
    for idx, column, template in failures.itertuples(index=False, name=None):
        file, sheet = arrays["source_file"][idx], arrays["source_sheet"][idx]
        sheet = None if pd.isna(sheet) else sheet
        header = _headers_of(headers, file, sheet, column)
        raw = arrays[column][idx] if column in arrays else None
        shown = None if column in PERSONAL_VALUE_COLUMNS or pd.isna(raw) else str(raw)
        reason = fill_reason(template, header, shown)
        rows.append(
            {
                "structure": structure,
                "year": year,
                "file": file,
                "sheet": sheet,
                "row_number": int(arrays["source_row"][idx]),
                "export_type": export_type,
                "column": header,
                "value": shown,
                "reason": reason,
                "loaded_at": loaded_at,
            }
        )
    cols = [
        "structure",
        "year",
        "file",
        "sheet",
        "row_number",
        "export_type",
        "column",
        "value",
        "reason",
        "loaded_at",
    ]
    return pd.DataFrame(rows, columns=cols)


def validate_partition(
    staged: dict[str, pd.DataFrame], headers: dict, year: int, run_date: date, structure: str
) -> dict[str, TypeResult]:
    """Validate every export type of a partition; `jeunes` first (the others refer to it)."""
    loaded_at = pd.Timestamp.now().floor("s")
    base = ValidationContext(year=year, run_date=run_date)
    results: dict[str, TypeResult] = {}
    jeunes = staged.get("jeunes")
    if jeunes is None:
        jeunes = pd.DataFrame(columns=SOURCE + ["young_id"])
    results["jeunes"] = validate_type("jeunes", jeunes, base, headers, loaded_at, structure)
    ctx = ValidationContext(
        year=year,
        run_date=run_date,
        young_ids=frozenset(results["jeunes"].valid["young_id"].dropna()),
    )
    for export_type in export_specs():
        if export_type == "jeunes":
            continue
        frame = staged.get(export_type)
        if frame is None or frame.empty:
            continue
        results[export_type] = validate_type(export_type, frame, ctx, headers, loaded_at, structure)
    return results
