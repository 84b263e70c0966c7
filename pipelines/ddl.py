"""Schema changes beside analysts (PostgreSQL): the pipeline's DDL waits a bounded time for
a lock an analyst's session holds, says who holds it, and replaces a view or function only
when its text changed (its fingerprint is kept in the object's comment)."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# An analyst's open transaction that read a view holds a lock that CREATE OR REPLACE VIEW
# must wait for, as long as the transaction stays open: the pipeline replaces an object only
# when its text changed (`replace_changed`), waits at most `lock_timeout()` for a lock, and
# then says who holds it (`waiting_for_lock`). Its writes need no timeout: a role that may
# only SELECT takes no lock that DELETE, INSERT, COPY or ANALYZE wait for (LOCK TABLE above
# ACCESS SHARE and SELECT … FOR UPDATE/SHARE need write privileges; tests/test_postgres_readers.py).
LOCK_TIMEOUT_VARIABLE = "OBSERVATOIRE_PG_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = "30s"
_LOCK_TIMEOUT_FORMAT = re.compile(r"[0-9]+(ms|s|min|h)?")
_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of "canceling statement due to lock timeout"
# Modes held by others that hold back each mode the pipeline's DDL asks for (PostgreSQL's
# table of conflicting lock modes); None: every mode.
_CONFLICTING_MODES: dict[str, set[str] | None] = {
    "AccessExclusiveLock": None,
    "ShareLock": {
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    },
}
_REPLACEABLE = re.compile(r"CREATE\s+OR\s+REPLACE\s+(VIEW|FUNCTION)\s+([\w.]+)", re.IGNORECASE)
_FINGERPRINT = "Observatoire : créé par le pipeline, empreinte {}/{}"


class LockWaitTimeout(RuntimeError):
    """The pipeline's DDL waited `lock_timeout()` for a lock another session holds."""


def lock_timeout() -> str:
    """How long the pipeline's DDL waits for a lock: $OBSERVATOIRE_PG_LOCK_TIMEOUT in
    PostgreSQL's units (500ms, 30s, 2min; a bare number is milliseconds; 0 waits without
    end), 30s by default."""
    value = os.environ.get(LOCK_TIMEOUT_VARIABLE, "").strip().replace(" ", "")
    if not value:
        return DEFAULT_LOCK_TIMEOUT
    if not _LOCK_TIMEOUT_FORMAT.fullmatch(value):
        raise ValueError(
            f"{LOCK_TIMEOUT_VARIABLE}={value!r} : durée attendue, par exemple "
            f"30s, 500ms ou 2min (0 : attendre sans fin)"
        )
    return value


def limit_lock_wait(conn: Connection) -> None:
    """PostgreSQL: statements of this transaction wait at most `lock_timeout()` for a lock
    (SET LOCAL: the transaction's end ends it, a pooled connection keeps no trace)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"SET LOCAL lock_timeout = '{lock_timeout()}'"))


@contextmanager
def waiting_for_lock(
    conn: Connection, what: str, relation: str | None = None, mode: str = "AccessExclusiveLock"
) -> Iterator[None]:
    """Turn PostgreSQL's lock timeout inside the block into a `LockWaitTimeout` saying what
    waited (`what`, in French) and which sessions hold the lock: those holding a mode that
    conflicts with `mode` on `relation` (schema.name), or any lock in the database when the
    relation is not known."""
    started = time.monotonic()
    try:
        yield
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        own = driver_connection(conn).info.backend_pid
        message = lock_wait_message(
            conn.engine, what, time.monotonic() - started, own, relation, mode
        )
        raise LockWaitTimeout(message) from exc


def lock_wait_message(
    engine: Engine,
    what: str,
    waited: float,
    own_pid: int,
    relation: str | None = None,
    mode: str = "AccessExclusiveLock",
) -> str:
    """« L'entrepôt PostgreSQL a attendu 30 s un verrou sur <what>, tenu par la session … »,
    from pg_locks and pg_stat_activity read on a new connection (the waiting transaction
    has failed)."""
    conflicting = _CONFLICTING_MODES.get(mode)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT l.pid, l.mode, a.usename, a.application_name, a.state, a.xact_start "
                "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid() "
                "AND l.pid <> :own AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND (CAST(:relation AS text) IS NULL OR l.relation = to_regclass(:relation)) "
                "ORDER BY a.xact_start NULLS LAST, l.pid"
            ),
            {"own": own_pid, "relation": relation},
        ).all()
    holders: dict[int, str] = {}
    for pid, held, user, application, state, since in rows:
        if (relation is None or conflicting is None or held in conflicting) and pid not in holders:
            holders[pid] = _session(pid, user, application, state, since)
    head = f"L'entrepôt PostgreSQL a attendu {waited:.0f} s un verrou sur {what}"
    limit = (
        f"(délai : {LOCK_TIMEOUT_VARIABLE}={lock_timeout()}, voir docs/operations.md, "
        f"« PostgreSQL »)"
    )
    if not holders:
        return f"{head} ; la session qui le tenait l'a rendu depuis : relancez {limit}."
    shown = list(holders.items())[:5]
    sessions = " ; ".join(text for _, text in shown)
    terminate = " ; ".join(f"SELECT pg_terminate_backend({pid})" for pid, _ in shown)
    return (
        f"{head}, tenu par {sessions} : demandez-lui de fermer sa transaction (COMMIT ou "
        f"ROLLBACK), ou terminez la session (administrateur) avec {terminate} ; "
        f"puis relancez {limit}."
    )


def _session(
    pid: int, user: str | None, application: str | None, state: str | None, since: object
) -> str:
    details = [f"utilisateur {user or 'inconnu'}"]
    if application:
        details.append(f"application {application}")
    at = ""
    if hasattr(since, "astimezone"):
        local = since.astimezone()
        same_day = local.date() == local.now(local.tzinfo).date()
        at = local.strftime("%H:%M:%S" if same_day else "%d/%m/%Y %H:%M:%S")
    if state is None:  # another role's session, without pg_read_all_stats
        details.append("état invisible pour le rôle du pipeline (pg_read_all_stats)")
    elif state.startswith("idle in transaction"):
        details.append(f"inactive dans une transaction ouverte depuis {at}")
    elif state == "active":
        details.append(f"requête en cours, transaction ouverte depuis {at}")
    else:
        details.append(state)
    return f"la session {pid} ({', '.join(details)})"


def replace_changed(conn: Connection, statements: list[str]) -> list[str]:
    """Run each `CREATE OR REPLACE VIEW|FUNCTION` statement whose object is missing, was made
    from another text, or was changed since; returns the objects replaced. What was run is
    kept as a fingerprint in the object's comment (text of the statement, and the
    definition the database made of it), so an unchanged warehouse gets no DDL, in any
    process. DuckDB: views only."""
    state = _replaceable_state(conn)
    replaced: list[tuple[str, str, str]] = []
    for statement in statements:
        found = _REPLACEABLE.match(statement.strip())
        if found is None:
            raise ValueError(f"not a CREATE OR REPLACE VIEW/FUNCTION: {statement[:60]!r}")
        kind, name = found.group(1).upper(), found.group(2)
        # a view of the default schema (the analysts' `indicateurs`): public or main
        default = "public" if conn.dialect.name == "postgresql" else "main"
        qualified = name if "." in name else f"{default}.{name}"
        comment, definition = state.get(qualified, (None, ""))
        if comment is not None and comment == _fingerprint(statement, definition):
            continue
        label = "la vue" if kind == "VIEW" else "la fonction"
        with waiting_for_lock(
            conn,
            f"{label} {qualified} (à recréer : sa définition a changé)",
            relation=qualified if kind == "VIEW" else None,
        ):
            conn.execute(sa.text(statement))
        replaced.append((kind, qualified, statement))
    if replaced:
        state = _replaceable_state(conn)
        for kind, qualified, statement in replaced:
            fingerprint = _fingerprint(statement, state[qualified][1]).replace("'", "''")
            conn.execute(sa.text(f"COMMENT ON {kind} {qualified} IS '{fingerprint}'"))
    return [qualified for _, qualified, _ in replaced]


def _fingerprint(statement: str, definition: str) -> str:
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    return _FINGERPRINT.format(digest(statement), digest(definition))


def _replaceable_state(conn: Connection) -> dict[str, tuple[str | None, str]]:
    """Views (and on PostgreSQL functions) as they are: qualified name -> (comment,
    definition as the database writes it back)."""
    if conn.dialect.name == "postgresql":
        sql = (
            "SELECT n.nspname || '.' || c.relname, obj_description(c.oid, 'pg_class'), "
            "pg_get_viewdef(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "UNION ALL "
            "SELECT n.nspname || '.' || p.proname, obj_description(p.oid, 'pg_proc'), "
            "pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.prokind = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        )
    else:
        sql = (
            "SELECT schema_name || '.' || view_name, comment, sql FROM duckdb_views() "
            "WHERE NOT internal AND database_name = current_database()"
        )
    # reading a view's definition waits for another worker replacing it
    with waiting_for_lock(conn, "le catalogue des vues (lecture des définitions)"):
        return {
            name: (comment, definition or "")
            for name, comment, definition in conn.execute(sa.text(sql))
        }


def driver_connection(conn: Connection) -> Any:
    """The driver's own connection: duckdb's register, psycopg's copy and info are outside
    the DB-API protocol that SQLAlchemy types it with."""
    return conn.connection.dbapi_connection
