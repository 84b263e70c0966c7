"""Frames read back from the warehouse (`fetch_frame`): through Arrow on both engines (COPY
CSV on PostgreSQL), the same Python values as the driver's own rows, whatever the text holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from pipelines.warehouse import _postgresql_arrow, fetch_frame

HOSTILE_TEXTS = [
    "",  # an empty text stays an empty text, not a NULL
    None,
    'a "quoted", comma',
    "two\nlines\r\nand a tab\t",
    "=SUM(A1:A9)",
    "\\N",  # PostgreSQL's text-format NULL marker, as a value
    "Œuvre — été ₂ 😀",
    "t",  # the CSV's true value, as text
]


def _table(conn: sa.Connection) -> None:
    conn.execute(
        sa.text(
            "CREATE TABLE probe (k INTEGER, txt VARCHAR, amount NUMERIC(16, 2), day DATE, "
            "seen TIMESTAMP, flag BOOLEAN, n BIGINT)"
        )
    )
    rows = [
        {
            "k": i,
            "txt": text,
            "amount": None if i % 3 == 0 else Decimal("4913.00") + i,
            "day": None if i % 4 == 0 else dt.date(2025, 3, 1 + i),
            "seen": dt.datetime(2026, 1, 6, 10, 0, i, 250000 * (i % 2)),
            "flag": None if i == 2 else i % 2 == 0,
            "n": None if i == 5 else 10**12 + i,
        }
        for i, text in enumerate(HOSTILE_TEXTS)
    ]
    conn.execute(
        sa.text("INSERT INTO probe VALUES (:k, :txt, :amount, :day, :seen, :flag, :n)"),
        rows,
    )


def _plain(frame: pd.DataFrame) -> list[list[object]]:
    return [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]


def test_fetch_frame_gives_the_drivers_values(warehouse_url: str) -> None:
    engine = sa.create_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            _table(conn)
            sql = "SELECT * FROM probe WHERE k >= :low ORDER BY k"
            frame = fetch_frame(conn, sql, {"low": 0, "unused": "ignored"})
            rows = conn.execute(sa.text(sql), {"low": 0}).all()
            if engine.dialect.name == "postgresql":
                # the CSV path was taken, not the rows' fallback
                assert _postgresql_arrow(conn, sql, {"low": 0}) is not None
            empty = fetch_frame(conn, "SELECT * FROM probe WHERE k < 0", {})
    finally:
        engine.dispose()
    assert list(frame.columns) == ["k", "txt", "amount", "day", "seen", "flag", "n"]
    assert list(frame["txt"]) == HOSTILE_TEXTS
    got = _plain(frame)
    for mine, theirs in zip(got, rows, strict=True):
        assert mine[:4] == list(theirs[:4])  # k, text, Decimal, date: the same objects
        assert pd.Timestamp(mine[4]) == pd.Timestamp(theirs[4])
        assert mine[5] == theirs[5] and mine[6] == theirs[6]
    assert isinstance(got[1][2], Decimal) and str(got[1][2]) == "4914.00"
    assert isinstance(got[1][3], dt.date)
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_a_type_the_csv_path_does_not_map_falls_back_to_rows(postgres_url: str) -> None:
    """A column PostgreSQL types outside the mapped ones (here JSON, a time zone) is read
    through the driver's rows: right, only slower."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            sql = (
                "SELECT '{\"a\": 1}'::json AS doc, "
                "TIMESTAMPTZ '2026-01-06 10:00:00+01' AS at, 'x' AS txt"
            )
            assert _postgresql_arrow(conn, sql, {}) is None
            frame = fetch_frame(conn, sql, {})
    finally:
        engine.dispose()
    assert frame.loc[0, "doc"] == {"a": 1}
    assert frame.loc[0, "txt"] == "x"
