"""PostgreSQL beside analysts (docs/operations.md, *PostgreSQL*), on the real server.

The read-only setup is run as written in the docs: part 1 by an administrator with
CREATEROLE (not a superuser), part 2 by the database's owner, the pipeline's role, without
superuser or CREATEROLE; the pipeline then runs as that owner. An analyst's login reads, and
cannot write even after turning its read-only setting off. An analyst's idle open
transaction never holds a run without end: an unchanged warehouse gets no DDL, and DDL that
is needed gives up after the lock timeout with a message naming the analyst's session.

Roles are cluster-wide: every test makes its own, with unique names, and drops them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.compute import view_statements
from pipelines.ddl import LOCK_TIMEOUT_VARIABLE, lock_timeout, replace_changed
from pipelines.sql_functions import age_sql
from pipelines.store import prepare
from pipelines.warehouse import Warehouse
from tests.builders import JEUNES_HEADERS, write_structure, write_xlsx, young
from tests.conftest import PG_ADMIN_URL, PG_SKIP, RUN_DATE

ROOT = Path(__file__).resolve().parents[1]
KEY_VARIABLE, KEY = "WAREHOUSE_PSEUDONYM_KEY", "cle-de-test-des-lecteurs-postgresql-0123456789"
EVENT_HEADERS = [
    "Identifiant événement",
    "N° dossier",
    "Date",
    "Nature du contact",
    "Statut",
    "Lieu",
    "Conseiller",
]
INSUFFICIENT_PRIVILEGE = "42501"
READ_ONLY_TRANSACTION = "25006"


@dataclass
class Cluster:
    """One test's roles and database: `owner` owns `database` (same name), `admin` has
    CREATEROLE, `analyst` is the documented login `alice`, `stranger` a login outside the
    readers' group."""

    owner: str
    admin: str
    reader: str
    analyst: str
    stranger: str

    @property
    def database(self) -> str:
        return self.owner

    def url(self, user: str, database: str | None = None) -> str:
        return (
            sa.make_url(PG_ADMIN_URL)
            .set(username=user, database=database or self.database)
            .render_as_string(hide_password=False)
        )


def _autocommit(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A database owned by a role without superuser, CREATEROLE or CREATEDB, and an
    administrator that has CREATEROLE only; everything dropped afterwards."""
    if PG_SKIP:
        pytest.skip(PG_SKIP)
    base = f"obs_{uuid.uuid4().hex[:10]}"
    c = Cluster(
        owner=base,
        admin=f"{base}_admin",
        reader=f"{base}_reader",
        analyst=f"{base}_alice",
        stranger=f"{base}_bob",
    )
    admin = _autocommit(PG_ADMIN_URL)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {c.owner} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB"))
        conn.execute(sa.text(f"CREATE ROLE {c.admin} LOGIN NOSUPERUSER CREATEROLE"))
        conn.execute(sa.text(f"CREATE DATABASE {c.database} OWNER {c.owner}"))
    try:
        yield c
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": c.database},
            )
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {c.database}"))
            for role in (c.analyst, c.stranger, c.reader, c.admin, c.owner):
                conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def documented_statements(part: str, c: Cluster) -> list[str]:
    """The statements of part "1." or "2." of the setup in docs/operations.md, with the
    test's role and database names."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text[text.index("### PostgreSQL") : text.index("## A shared deployment")]
    block = next(
        b for b in re.findall(r"```sql\n(.*?)```", section, re.S) if b.startswith(f"-- {part}")
    )
    code = re.sub(r"--[^\n]*", "", block)
    names = {"observatoire_reader": c.reader, "observatoire": c.owner, "alice": c.analyst}
    code = re.sub(r"\b(observatoire_reader|observatoire|alice)\b", lambda m: names[m[1]], code)
    return [s.strip() for s in code.split(";") if s.strip()]


def set_up_readers(c: Cluster) -> None:
    """Part 1 as the CREATEROLE administrator, part 2 as the owner, as documented."""
    for user, part in ((c.admin, "1."), (c.owner, "2.")):
        engine = _autocommit(c.url(user))
        try:
            with engine.connect() as conn:
                for statement in documented_statements(part, c):
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()


def small_zone(raw: Path) -> Path:
    """TST/2025: three young people and their events."""
    write_structure(raw)
    folder = raw / "TST" / "2025"
    write_xlsx(
        folder / "jeunes.xlsx",
        JEUNES_HEADERS,
        [
            young("1001"),
            young("1002", sex="H", commune="La Madeleine"),
            young("1003", commune="Marcq-en-Barœul"),
        ],
    )
    write_xlsx(
        folder / "evenements.xlsx",
        EVENT_HEADERS,
        [
            ["E1", "1001", "03/02/2025", "Entretien individuel", None, "Siège", "Mme A"],
            ["E2", "1002", "2025-04-01", "Atelier", "Présent", "Antenne", "M. B"],
            ["E3", "1003", "05/05/2025", "Téléphone", "Absent", None, "M. B"],
        ],
    )
    return raw


def sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def refused(engine: sa.Engine, *statements: str, session: str | None = None) -> str | None:
    """Run `session` (a SET) in a transaction of its own, then the statements in one
    transaction, on one connection; the SQLSTATE of the error, None if none."""
    with engine.connect() as conn:
        if session:
            conn.execute(sa.text(session))
            conn.commit()
        try:
            for statement in statements:
                conn.execute(sa.text(statement))
            conn.commit()
        except sa.exc.DBAPIError as exc:
            return sqlstate(exc)
    return None


def run_observatoire(
    raw: Path, url: str, timeout: float = 240, **env: str
) -> tuple[subprocess.CompletedProcess, float]:
    """`observatoire run` in a new process (nothing prepared in it yet), with a deadline: a
    run held by a lock fails the test instead of hanging it."""
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--raw",
            str(raw),
            "--warehouse",
            url,
            "--run-date",
            RUN_DATE,
            "--no-history",
        ],
        cwd=ROOT,
        env={**os.environ, KEY_VARIABLE: KEY, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, time.monotonic() - started


def test_documented_read_only_setup_works_for_an_owner_without_superuser(
    cluster: Cluster, tmp_path: Path, run, monkeypatch
) -> None:
    c = cluster
    set_up_readers(c)  # before any run: what the pipeline creates later is readable too
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    summary = run(small_zone(tmp_path / "raw"), c.url(c.owner))
    assert not summary.failed, summary.failed

    alice = sa.create_engine(c.url(c.analyst))
    try:
        with alice.connect() as conn:
            settings = {
                name: conn.execute(sa.text(f"SHOW {name}")).scalar()
                for name in ("default_transaction_read_only", "idle_in_transaction_session_timeout")
            }
            counts = {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                for table in (
                    "indicator_values",
                    "conformed.jeunes",
                    "conformed.contact_events",
                    "marts.indicator_units",
                    "staging.jeunes",
                    "ingested_files",
                )
            }
        # the settings reach the login itself (not only its group)
        assert settings == {
            "default_transaction_read_only": "on",
            "idle_in_transaction_session_timeout": "10min",
        }
        assert all(n > 0 for n in counts.values()), counts
        insert = "INSERT INTO conformed.jeunes (structure, year) VALUES ('X', 2025)"
        assert refused(alice, insert) == READ_ONLY_TRANSACTION

        # turning the setting off is allowed, and gives no right to write: privileges do
        writes = [
            insert,
            "UPDATE conformed.jeunes SET sex = NULL",
            "DELETE FROM conformed.jeunes",
            "TRUNCATE marts.indicator_units",
            "CREATE TABLE public.mine (a int)",
            "CREATE TABLE marts.mine (a int)",
            "CREATE VIEW conformed.mine AS SELECT 1 AS a",
            "ALTER TABLE conformed.jeunes ADD COLUMN mine int",
            "DROP VIEW conformed.contact_events",
            # locks a DELETE of the pipeline would wait for
            "SELECT * FROM conformed.jeunes FOR UPDATE",
            "SELECT * FROM conformed.jeunes FOR KEY SHARE",
            "LOCK TABLE conformed.jeunes IN ROW EXCLUSIVE MODE",
            "LOCK TABLE conformed.jeunes IN SHARE MODE",
        ]
        for write in writes:
            assert (
                refused(alice, write, session="SET default_transaction_read_only = off")
                == INSUFFICIENT_PRIVILEGE
            ), write
            assert refused(alice, "SET TRANSACTION READ WRITE", write) == INSUFFICIENT_PRIVILEGE, (
                write
            )
        assert (
            refused(alice, f"ALTER ROLE {c.analyst} SET default_transaction_read_only = off")
            is None
        )  # allowed for oneself: hence privileges, not settings
        alice.dispose()
        with alice.connect() as conn:
            assert conn.execute(sa.text("SHOW default_transaction_read_only")).scalar() == "off"
        for write in writes:
            assert refused(alice, write) == INSUFFICIENT_PRIVILEGE, write
        # what an analyst may do: read, and a temporary table of the session's own
        assert (
            refused(
                alice,
                "CREATE TEMPORARY TABLE scratch AS SELECT * FROM conformed.jeunes",
                "LOCK TABLE conformed.jeunes IN ACCESS SHARE MODE",
            )
            is None
        )
    finally:
        alice.dispose()

    # a login outside the readers' group cannot even connect (CONNECT revoked from PUBLIC)
    with _autocommit(c.url(c.admin, "postgres")).connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {c.stranger} LOGIN"))
    stranger = sa.create_engine(c.url(c.stranger))
    try:
        with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
            stranger.connect().close()
    finally:
        stranger.dispose()


def test_an_analysts_open_transaction_delays_a_run_never_blocks_it(
    cluster: Cluster, tmp_path: Path, run, monkeypatch
) -> None:
    c = cluster
    set_up_readers(c)
    raw = small_zone(tmp_path / "raw")
    owner_url = c.url(c.owner)
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    assert not run(raw, owner_url).failed

    # an analyst reads a view, then leaves the transaction open (lunch)
    alice = sa.create_engine(c.url(c.analyst))
    analyst = alice.connect()
    try:
        analyst.begin()
        analyst.execute(sa.text("SELECT count(*) FROM conformed.contact_events")).scalar()
        alice_pid = analyst.execute(sa.text("SELECT pg_backend_pid()")).scalar()

        # the same figures again, in a new process: no DDL, so no wait
        done, _ = run_observatoire(raw, owner_url, **{LOCK_TIMEOUT_VARIABLE: "2s"})
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 terminée(s), 0 en échec" in done.stdout, done.stdout

        # a view whose text changed (its fingerprint gone, as after an upgrade): the run
        # waits for the analyst at most the lock timeout, then says who holds it back
        with _autocommit(owner_url).connect() as conn:
            conn.execute(sa.text("COMMENT ON VIEW conformed.contact_events IS NULL"))
        done, _ = run_observatoire(raw, owner_url, **{LOCK_TIMEOUT_VARIABLE: "2s"})
        # the summary's ÉCHEC line, or the traceback's last line when the catalogue step
        # (the run's first DDL) is the one that fails (pipelines/runner.py raises then)
        out = " ".join((done.stdout + done.stderr).split())
        assert done.returncode != 0, out
        assert (
            "L'entrepôt PostgreSQL a attendu 2 s un verrou sur la vue conformed.contact_events"
        ) in out, out
        assert (
            f"tenu par la session {alice_pid} (utilisateur {c.analyst}, "
            f"inactive dans une transaction ouverte depuis"
        ) in out, out
        assert f"SELECT pg_terminate_backend({alice_pid})" in out, out
        assert f"{LOCK_TIMEOUT_VARIABLE}=2s" in out, out
        # the analyst's session was left alone
        assert analyst.execute(sa.text("SELECT count(*) FROM conformed.jeunes")).scalar() > 0
    finally:
        analyst.close()
        alice.dispose()

    # transaction closed: the next run replaces the view and records its fingerprint again
    done, _ = run_observatoire(raw, owner_url, **{LOCK_TIMEOUT_VARIABLE: "2s"})
    assert done.returncode == 0, done.stdout + done.stderr
    with _autocommit(owner_url).connect() as conn:
        comment = conn.execute(
            sa.text("SELECT obj_description('conformed.contact_events'::regclass, 'pg_class')")
        ).scalar()
    assert comment.startswith("Observatoire : créé par le pipeline, empreinte ")


def test_views_and_helpers_are_replaced_only_when_their_text_changed(warehouse_url: str) -> None:
    """A new `Warehouse` (as in a new process): nothing replaced when nothing changed; one
    changed view replaced, and only once."""
    wh = Warehouse(warehouse_url)
    try:
        prepare(wh)
        statements = view_statements()
        helpers = age_sql("postgresql") if wh.dialect == "postgresql" else []
        changed = [s.replace("WHERE is_contact", "WHERE is_contact AND true") for s in statements]
        assert changed != statements
        with wh.transaction() as conn:
            assert replace_changed(conn, statements + helpers) == []
        with wh.transaction() as conn:
            assert replace_changed(conn, changed) == ["conformed.contact_events"]
        with wh.transaction() as conn:
            assert replace_changed(conn, changed) == []
            assert replace_changed(conn, statements) == ["conformed.contact_events"]
            conn.execute(sa.text("DROP VIEW conformed.granted_aids"))
            assert replace_changed(conn, statements) == ["conformed.granted_aids"]
    finally:
        wh.dispose()


def test_the_lock_timeout_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(LOCK_TIMEOUT_VARIABLE, raising=False)
    assert lock_timeout() == "30s"
    monkeypatch.setenv(LOCK_TIMEOUT_VARIABLE, "2min")
    assert lock_timeout() == "2min"
    monkeypatch.setenv(LOCK_TIMEOUT_VARIABLE, "30 s'; DROP TABLE x")
    with pytest.raises(ValueError, match="durée attendue"):
        lock_timeout()
