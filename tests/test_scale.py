"""What the pipeline needs to stay fast at a region's size (bench/README.md)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import query
from tests.test_bad_inputs import base_zone


def test_postgresql_conformed_tables_have_fresh_statistics(postgres_url: str, tmp_path: Path,
                                                           run) -> None:
    # Without statistics PostgreSQL takes freshly loaded tables for empty and joins events to
    # young people by nested loops: a 100 k-row partition's indicator_units ran for minutes.
    raw = base_zone(tmp_path / "raw")
    assert not run(raw, postgres_url).failed
    stats = query(postgres_url, "SELECT relname, last_analyze FROM pg_stat_user_tables "
                                "WHERE schemaname = 'conformed'")
    analysed = {s["relname"] for s in stats if s["last_analyze"] is not None}
    assert {"jeunes", "evenements", "propositions", "situations", "dispositifs",
            "aides"} <= analysed
