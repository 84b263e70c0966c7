"""Private pseudonymisation keys (issue 13, point 4; warehouse.md, *Personal data*): real
exports never run with a key anyone can read in the code, a key is made once and kept
owner-only outside raw/ and warehouse/, and each partition records the fingerprint of its
key, so that two keys never mix in one structure."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.pseudonym import DEMO_KEY, PUBLIC_KEYS, fingerprint
from tests.conftest import RUN_DATE, query
from tests.test_scale import _region

OBSERVATOIRE = Path(sys.executable).parent / "observatoire"
KEY_A = "premiere-cle-de-test-0123456789abcdef"
KEY_B = "seconde-cle-de-test-fedcba9876543210"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(OBSERVATOIRE), *args], env=env, capture_output=True, text=True, timeout=300
    )


def _env(tmp_path: Path, key: str | None = None, **extra: str) -> dict[str, str]:
    """No key but the one given; a config folder of the test's own (no key file)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WAREHOUSE_PSEUDONYM_KEY", "WAREHOUSE_PSEUDONYM_KEY_FILE")
    }
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    if key is not None:
        env["WAREHOUSE_PSEUDONYM_KEY"] = key
    env.update(extra)
    return env


def _run(tmp_path: Path, raw: Path, url: str, env: dict[str, str], *more: str):
    return _cli(
        "run",
        "--raw",
        str(raw),
        "--warehouse",
        url,
        "--run-date",
        RUN_DATE,
        "--no-history",
        *more,
        env=env,
    )


def _fingerprints(url: str) -> dict[tuple[str, int], str]:
    return {
        (r["structure"], r["year"]): r["fingerprint"]
        for r in query(
            url,
            "SELECT structure, year, key_fingerprint AS fingerprint FROM staging.partition_loads",
        )
    }


def test_real_exports_without_a_key_are_refused_saying_how_to_make_one(tmp_path: Path) -> None:
    raw = _region(tmp_path / "raw")
    url = f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}"
    done = _run(tmp_path, raw, url, _env(tmp_path))
    assert done.returncode == 1
    assert "aucune clé de pseudonymisation" in done.stdout
    assert "observatoire key create" in done.stdout
    assert "0 terminée(s), 3 en échec" in done.stdout
    assert not (tmp_path / "wh" / "observatoire.duckdb").exists() or not query(
        url, "SELECT * FROM staging.partition_loads"
    )


@pytest.mark.parametrize("public", sorted(PUBLIC_KEYS))
def test_a_key_published_in_the_code_is_refused(tmp_path: Path, public: str) -> None:
    raw = _region(tmp_path / "raw")
    done = _run(tmp_path, raw, f"duckdb:///{tmp_path / 'wh.duckdb'}", _env(tmp_path, public))
    assert done.returncode == 1
    assert "est publique" in done.stdout


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    raw = _region(tmp_path / "raw")
    done = _run(tmp_path, raw, f"duckdb:///{tmp_path / 'wh.duckdb'}", _env(tmp_path, "secret"))
    assert done.returncode == 1
    assert "trop courte" in done.stdout


def test_key_create_writes_an_owner_only_key_once_and_runs_find_it(tmp_path: Path) -> None:
    env = _env(tmp_path)
    made = _cli("key", "create", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    path = tmp_path / "config" / "observatoire" / "pseudonym.key"
    assert str(path) in made.stdout and "une clé perdue change tous les pseudonymes" in made.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip()
    assert len(secret) == 64 and secret not in PUBLIC_KEYS
    again = _cli("key", "create", env=env)
    assert again.returncode == 1 and "existe déjà" in again.stdout
    assert path.read_text().strip() == secret

    raw = _region(tmp_path / "raw")
    url = f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}"
    done = _run(tmp_path, raw, url, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(_fingerprints(url).values()) == {fingerprint(secret.encode())}
    # the pseudonyms are those of that key, and the key itself is nowhere in the warehouse
    ids = {
        r["young_id"]
        for r in query(
            url, "SELECT young_id FROM conformed.jeunes WHERE structure = 'TST' AND year = 2025"
        )
    }
    assert hmac.new(secret.encode(), b"TST:1001", hashlib.sha256).hexdigest() in ids
    assert secret.encode() not in (tmp_path / "wh" / "observatoire.duckdb").read_bytes()

    path.chmod(0o644)
    leaked = _run(tmp_path, raw, url, env)
    assert leaked.returncode == 1 and "chmod 600" in leaked.stdout


def test_only_synthetic_data_uses_the_demo_key(tmp_path: Path) -> None:
    raw = _region(tmp_path / "raw")
    for code in ("TST", "AUT"):
        path = raw / code / "structure.yaml"
        path.write_text(
            yaml.safe_dump(
                {**yaml.safe_load(path.read_text()), "synthetic": True}, allow_unicode=True
            )
        )
    url = f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}"
    done = _run(tmp_path, raw, url, _env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(_fingerprints(url).values()) == {fingerprint(DEMO_KEY.encode())}


def test_another_key_for_a_loaded_structure_is_refused_unless_it_reloads_it_all(
    tmp_path: Path,
) -> None:
    raw = _region(tmp_path / "raw")
    url = f"duckdb:///{tmp_path / 'wh' / 'observatoire.duckdb'}"
    first = _run(tmp_path, raw, url, _env(tmp_path, KEY_A))
    assert first.returncode == 0, first.stdout + first.stderr
    before = query(url, "SELECT young_id FROM conformed.jeunes WHERE year = 2025 ORDER BY young_id")

    other = _run(tmp_path, raw, url, _env(tmp_path, KEY_B), "--structure", "TST", "--year", "2025")
    assert other.returncode == 1
    assert "n'est pas celle avec laquelle TST a été chargé" in other.stdout
    assert "--new-key" in other.stdout
    assert (
        query(url, "SELECT young_id FROM conformed.jeunes WHERE year = 2025 ORDER BY young_id")
        == before
    )
    assert set(_fingerprints(url).values()) == {fingerprint(KEY_A.encode())}

    mixed = _run(tmp_path, raw, url, _env(tmp_path, KEY_B), "--new-key", "--year", "2025")
    assert mixed.returncode == 2 and "--year" in mixed.stdout

    rekeyed = _run(tmp_path, raw, url, _env(tmp_path, KEY_B), "--structure", "TST", "--new-key")
    assert rekeyed.returncode == 0, rekeyed.stdout + rekeyed.stderr
    assert _fingerprints(url) == {
        ("TST", 2024): fingerprint(KEY_B.encode()),
        ("TST", 2025): fingerprint(KEY_B.encode()),
        ("AUT", 2025): fingerprint(KEY_A.encode()),
    }
