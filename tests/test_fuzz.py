"""Property tests (hypothesis) of the parts that see raw text: header recognition, cell
parsers, code lists and the whole validation of a partition.

Examples are bounded so the suite stays fast; hypothesis keeps the failing examples it finds
in .hypothesis/ and replays them first.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from pipelines.cells import (
    EXCEL_EPOCH,
    INVALID,
    INVALID_DATE,
    code_list,
    parse_amount_text,
    parse_amounts,
    parse_date_text,
    parse_dates,
    parse_id,
    parse_yes_no,
)
from pipelines.config import Commune, Structure, code_lists, export_specs, fold
from pipelines.conform import conform_partition, ingested_files_frame
from pipelines.read import recognise
from pipelines.tables import staging_tables
from pipelines.validate import validate_partition

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RUN_YEAR = 2026
YEAR = 2025
RUN_DATE = dt.date(2026, 1, 6)

# --- spellings: what folding (exports.md, *Headers*) must not see -------------------------------

SEPARATORS = [
    " ",
    "  ",
    "_",
    "__",
    "-",
    " - ",
    ".",
    "'",
    "’",
    "/",
    "\n",
    "\t",
    "\u00a0",
    "\u202f",
    "°",
    "(",
    ")",
    "*",
    ":",
    ", ",
    " + ",
    "€",
]
VARIANTS = {
    "a": "aàâäA",
    "e": "eéèêëE",
    "i": "iîïI",
    "o": "oôöO",
    "u": "uùûüU",
    "c": "cçC",
    "n": "nñN",
    "y": "yÿY",
}


@st.composite
def spelled(draw: st.DrawFn, name: str) -> str:
    """`name` respelled: case, accents, œ/æ, any punctuation between words, around it."""
    words = []
    for word in fold(name).split():
        chars = [draw(st.sampled_from(VARIANTS.get(ch, ch + ch.upper()))) for ch in word]
        text = "".join(chars)
        if "oe" in text and draw(st.booleans()):
            text = text.replace("oe", draw(st.sampled_from(["œ", "Œ"])))
        if "ae" in text and draw(st.booleans()):
            text = text.replace("ae", "æ")
        words.append(text)
    seps = st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=2).map("".join)
    out = draw(st.sampled_from(["", " ", "* ", "\n"]))
    for i, word in enumerate(words):
        out += (draw(seps) if i else "") + word
    return out + draw(st.sampled_from(["", " ", " :", "\u00a0", "*"]))


@FAST
@given(
    name=st.sampled_from(
        [
            "Date de 1er accueil",
            "Mise en œuvre par la ML",
            "N° dossier",
            "Référence de l'aide",
            "Montant (€)",
        ]
    ),
    data=st.data(),
)
def test_spelled_folds_back(name: str, data: st.DataObject) -> None:
    assert fold(data.draw(spelled(name))) == fold(name)


ALL_NAMES = {n for spec in export_specs().values() for c in spec.columns for n in c.folded_names}
NOISE = [
    "Colonne libre",
    "Xyz",
    "Champ 12",
    "Date d'export",
    "Référent ML",
    "Code postal",
    "Remarque interne",
]
assert not {fold(n) for n in NOISE} & ALL_NAMES


@FAST
@given(export_type=st.sampled_from(list(export_specs())), data=st.data())
def test_header_spellings_are_recognised_as_their_type(
    export_type: str, data: st.DataObject
) -> None:
    spec = export_specs()[export_type]
    optional = [c for c in spec.columns if not c.required]
    chosen = (
        [
            *spec.required,
            *data.draw(st.lists(st.sampled_from(optional), unique_by=lambda c: c.name)),
        ]
        if optional
        else list(spec.required)
    )
    cells = [
        (c.name, data.draw(spelled(data.draw(st.sampled_from([c.header, *c.aliases])))))
        for c in chosen
    ]
    cells += [
        (None, data.draw(spelled(n)))
        for n in data.draw(st.lists(st.sampled_from(NOISE), max_size=3))
    ]
    order = data.draw(st.permutations(range(len(cells))))
    header = [cells[i][1] for i in order]
    found, columns, explanation = recognise(header)
    assert found == export_type, (header, explanation)
    assert columns == {cells[i][0]: pos for pos, i in enumerate(order) if cells[i][0]}


# --- dates ----------------------------------------------------------------------------------------


def _two_digit_year(year: int) -> int:
    yy = year % 100
    return 2000 + yy if yy <= RUN_YEAR % 100 else 1900 + yy


@FAST
@given(
    day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2035, 12, 31)),
    form=st.sampled_from(["dd/mm/yyyy", "d/m/yyyy", "dd/mm/yy", "yyyy-mm-dd", "serial"]),
    time=st.sampled_from(["", " 10:30", " 00:00:00", "T08:15:00", " 23:59:59.123"]),
    pad=st.sampled_from(["", " ", "\u00a0", "\t"]),
)
def test_dates_in_the_five_forms(day: dt.date, form: str, time: str, pad: str) -> None:
    expected = pd.Timestamp(day)
    if form == "dd/mm/yyyy":
        text = f"{day:%d/%m/%Y}"
    elif form == "d/m/yyyy":
        text = f"{day.day}/{day.month}/{day.year}"
    elif form == "dd/mm/yy":
        text = f"{day:%d/%m/%y}"
        try:
            expected = pd.Timestamp(day.replace(year=_two_digit_year(day.year)))
        except ValueError:  # 29 February of a year that is not leap a century away
            expected = INVALID_DATE
    elif form == "yyyy-mm-dd":
        text = f"{day:%Y-%m-%d}"
    else:  # an Excel serial number, a fraction is the time of day
        text = str((pd.Timestamp(day) - EXCEL_EPOCH).days)
        time = {"": "", " 10:30": ".4375", " 00:00:00": ".0"}.get(time, ".999")
    assert parse_date_text(pad + text + time + pad, RUN_YEAR) == expected


@FAST
@given(
    st.one_of(
        st.text(),
        st.text(alphabet="0123456789/-.: T", max_size=25),
        st.from_regex(r"\A\d{1,2}/\d{1,2}/\d{1,6}\Z"),
        st.from_regex(r"\A\d{1,6}-\d{1,3}-\d{1,3}\Z"),
        st.from_regex(r"\A\d{1,30}\Z"),
    )
)
def test_what_is_not_a_date_never_raises(text: str) -> None:
    value = parse_date_text(text, RUN_YEAR)
    assert isinstance(value, pd.Timestamp) and not pd.isna(value)


@FAST
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=12),
            st.dates(min_value=dt.date(1990, 1, 1)).map(lambda d: f"{d:%d/%m/%Y}"),
        ),
        max_size=20,
    )
)
@example(values=["", "\x00", "a\x00b", None])  # found by hypothesis: a NUL ended the string
def test_a_date_column_is_parsed_whole(values: list) -> None:
    parsed = parse_dates(pd.Series(values, dtype=object), RUN_YEAR)
    assert str(parsed.dtype) == "datetime64[ns]"
    assert [pd.isna(v) for v in parsed] == [v is None for v in values]


# --- amounts ----------------------------------------------------------------------------------


def _grouped(digits: str, sep: str) -> str:
    head = len(digits) % 3 or 3
    return sep.join([digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)])


@FAST
@given(
    cents=st.integers(-(10**13), 10**13),
    style=st.sampled_from(
        ["point", "comma", "french", "dots", "commas", "integer", "number", "one decimal"]
    ),
    space=st.sampled_from([" ", "\u00a0", "\u202f", "\u2009"]),
    euro=st.sampled_from(["", " €", "€", "€ "]),
    plus=st.booleans(),
)
def test_amounts_in_many_formats(cents: int, style: str, space: str, euro: str, plus: bool) -> None:
    sign = "-" if cents < 0 else ("+" if plus else "")
    units, rest = divmod(abs(cents), 100)
    if style == "integer":
        assume(rest == 0)
        text = f"{sign}{units}"
    elif style == "one decimal":
        assume(rest % 10 == 0)
        text = f"{sign}{units},{rest // 10}"
    elif style == "number":  # a number cell, as the reader renders it (shortest text)
        assume(abs(cents) < 10**15)
        text = repr(cents / 100).removesuffix(".0")
    elif style == "point":
        text = f"{sign}{units}.{rest:02d}"
    elif style == "comma":
        text = f"{sign}{units},{rest:02d}"
    elif style == "french":  # 1 234,56 € with any kind of space
        text = f"{sign}{_grouped(str(units), space)},{rest:02d}"
    elif style == "dots":  # 1.234,56
        text = f"{sign}{_grouped(str(units), '.')},{rest:02d}"
    else:  # 1,234.56
        text = f"{sign}{_grouped(str(units), ',')}.{rest:02d}"
    assert parse_amount_text(text + euro) == cents, text + euro


@FAST
@given(st.one_of(st.text(), st.text(alphabet="0123456789,. €eE+-\u00a0", max_size=30)))
def test_what_is_not_an_amount_never_raises(text: str) -> None:
    value = parse_amount_text(text)
    assert value == INVALID or isinstance(value, int)
    column = parse_amounts(pd.Series([text, None], dtype=object))
    assert column[0] == value and pd.isna(column[1])


# --- codes ------------------------------------------------------------------------------------

FLAT_LISTS = sorted(name for name in code_lists() if name != "yes_no")
SUFFIXES = ["", " (xq)", " - zz 9", " n° 42"]


@FAST
@given(name=st.sampled_from(FLAT_LISTS), data=st.data())
def test_code_spellings_give_their_category(name: str, data: st.DataObject) -> None:
    body = code_lists()[name]
    category = data.draw(st.sampled_from(sorted(body)))
    value = data.draw(st.sampled_from([category, *body[category]]))
    text = data.draw(spelled(value)) + data.draw(st.sampled_from(SUFFIXES))
    assume(fold(text))
    assert code_list(name).match(text) == category, (value, text)


@FAST
@given(
    name=st.sampled_from(FLAT_LISTS), values=st.lists(st.one_of(st.none(), st.text()), max_size=10)
)
def test_what_is_not_a_code_is_invalid(name: str, values: list) -> None:
    parsed = code_list(name).categorise(pd.Series(values, dtype=object))
    allowed = set(code_lists()[name]) | {INVALID}
    for raw, got in zip(values, parsed, strict=True):
        if raw is None or not fold(raw):
            assert got is None or got == INVALID
        else:
            assert got in allowed


@FAST
@given(data=st.data(), answer=st.sampled_from(["yes", "no"]))
def test_yes_no_spellings(data: st.DataObject, answer: str) -> None:
    value = data.draw(st.sampled_from(code_lists()["yes_no"][answer]))
    text = data.draw(spelled(value))
    assert parse_yes_no(pd.Series([text, "peut-être", None], dtype=object)).tolist() == [
        answer == "yes",
        INVALID,
        None,
    ]


# --- the whole validation of a partition ------------------------------------------------------

YOUNG = ["y1", "y2", "y3", "y4"]


def _values(spec_kind: str, codes: str | None) -> st.SearchStrategy:
    garbage = st.one_of(st.text(max_size=8), st.sampled_from(["NC", "#N/A", "0", "-1", " "]))
    dates = st.dates(min_value=dt.date(1985, 1, 1), max_value=dt.date(2027, 12, 31))
    if spec_kind == "young_id":
        good = st.sampled_from(YOUNG)
    elif spec_kind == "id":
        good = st.sampled_from(["R1", "R2", "R3", "1234.0", "1234"])
    elif spec_kind == "date":
        good = st.one_of(
            dates.map(lambda d: f"{d:%d/%m/%Y}"),
            dates.map(lambda d: f"{d:%Y-%m-%d}"),
            dates.map(lambda d: str((pd.Timestamp(d) - EXCEL_EPOCH).days)),
            st.sampled_from(["15/06/2025", "2025-03-01", "31/02/2025"]),
        )
    elif spec_kind == "amount":
        good = st.sampled_from(["150", "1 234,56 €", "-5", "12,5", "99999999999999999999", "0"])
    elif spec_kind == "yesno":
        good = st.sampled_from(["Oui", "Non", "O", "n", "1", "Vrai"])
    elif spec_kind == "code" and codes in code_lists() and codes != "situation_nature":
        body = code_lists()[codes]
        good = st.sampled_from(sorted({v for k, vs in body.items() for v in [k, *vs]}))
    elif codes == "situation_nature":
        good = st.sampled_from(
            [
                "CDD",
                "CDI",
                "PEC",
                "Apprentissage",
                "PMSMP",
                "Stage",
                "Formation initiale",
                "Bénévolat",
            ]
        )
    else:
        good = st.sampled_from(["Lambersart", "LA MADELEINE", "59328", "Briqueterie", "x"])
    return st.one_of(st.none(), good, good, good, garbage)


@st.composite
def staged_frame(draw: st.DrawFn, export_type: str) -> pd.DataFrame:
    spec = export_specs()[export_type]
    columns = [c.name for c in staging_tables[export_type].columns]
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        row = {
            "structure": "TST",
            "year": YEAR,
            "source_file": f"TST/{YEAR}/{export_type}.xlsx",
            "source_sheet": "Export",
        }
        for col in spec.columns:
            if not col.personal:
                row[col.name] = draw(_values(col.kind, col.codes))
        rows.append(row)
    # re-exported rows: exact repeats of some rows
    if rows:
        rows += [dict(rows[i]) for i in draw(st.lists(st.integers(0, len(rows) - 1), max_size=3))]
    for number, row in enumerate(rows, start=2):
        row["source_row"] = number
    return pd.DataFrame(rows, columns=columns).astype(object)


TERRITORY = Structure(
    "TST", "Test", (Commune("59328", "Lambersart"), Commune("59368", "La Madeleine"))
)


@SLOW
@given(data=st.data())
def test_validate_partition_accounts_for_every_row(data: st.DataObject) -> None:
    staged = {
        t: data.draw(staged_frame(t))
        for t in export_specs()
        if t == "jeunes" or data.draw(st.booleans())
    }
    results = validate_partition(staged, {}, YEAR, RUN_DATE, "TST")
    for export_type, result in results.items():
        frame = staged.get(export_type)
        n = 0 if frame is None else len(frame)
        status = result.row_status
        assert len(status) == n and set(status) <= {"loaded", "rejected", "merged"}
        assert (status == "loaded").sum() == len(result.valid)
        rejected_rows = (
            set(frame.loc[status.to_numpy() == "rejected", "source_row"]) if n else set()
        )
        assert set(result.rejects["row_number"]) == rejected_rows  # each with a reason
        assert result.rejects["reason"].map(lambda r: isinstance(r, str) and len(r) > 10).all()
        assert not result.rejects["reason"].str.contains("{header}|{value}").any()
    # conforming the valid rows never fails either, and the accounting holds per file
    conform_partition(results, TERRITORY, YEAR)
    sheets = pd.DataFrame(
        [
            {
                "file": f"TST/{YEAR}/{t}.xlsx",
                "sheet": "Export",
                "export_type": t,
                "rows_read": len(f),
            }
            for t, f in staged.items()
        ]
    )
    files = pd.DataFrame({"file": sheets["file"], "sha256": "0" * 64})
    ingested = ingested_files_frame(results, sheets, files, "TST", YEAR, pd.Timestamp.now())
    for row in ingested.itertuples():
        merged = (
            int((results[row.export_type].row_status == "merged").sum())
            if row.export_type in results
            else 0
        )
        assert row.rows_read == row.rows_loaded + row.rows_rejected + merged


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.just(float("nan")),
            st.text(),
            st.from_regex(r"\s*\d{1,12}\.0*\s*", fullmatch=True),
            st.integers(0, 10**12).map(lambda n: f"{n}.0"),
        ),
        max_size=30,
    )
)
def test_ids_parsed_in_one_pass_as_one_by_one(values: list[str | float | None]) -> None:
    # parse_id's vectorised path (Arrow kernels) must read every id as the per-value rule
    from pipelines.cells import _id_text

    expected = [None if v is None or v != v else _id_text(v) for v in values]
    assert parse_id(pd.Series(values, dtype=object)).tolist() == expected
