"""A full disk (issue 13, point 8), on real file systems: a small tmpfs mounted under the
warehouse's folder, then filled. The run says so clearly, prints its summary, leaves the
published copy as it was and no temporary file. Needs root (mount): skipped, saying why,
elsewhere."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import RUN_DATE
from tests.test_scale import _region

OBSERVATOIRE = Path(sys.executable).parent / "observatoire"


def _mount_reason() -> str | None:
    probe = Path("/tmp") / f"observatoire-mount-probe-{uuid.uuid4().hex[:8]}"
    probe.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            return f"cannot mount a tmpfs to make a full disk: {done.stderr.strip()}"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    except OSError as exc:
        return f"cannot mount a tmpfs to make a full disk: {exc}"
    finally:
        probe.rmdir()


MOUNT_SKIP = _mount_reason()
pytestmark = pytest.mark.skipif(MOUNT_SKIP is not None, reason=MOUNT_SKIP or "")


@contextmanager
def _mounted(point: Path, *options: str) -> Iterator[Path]:
    point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *options, str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=True)


def _fill(folder: Path) -> None:
    """Leave no free byte on the file system of `folder`."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for block in (1 << 20, 4096, 1):
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def _run(raw: Path, url: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(OBSERVATOIRE),
            "run",
            "--raw",
            str(raw),
            "--warehouse",
            url,
            "--run-date",
            RUN_DATE,
        ],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _more_rows(raw: Path) -> None:
    """A change to load: the next run has to write."""
    from tests.builders import JEUNES_HEADERS, write_xlsx, young

    write_xlsx(
        raw / "TST" / "2025" / "jeunes-bis.xlsx",
        JEUNES_HEADERS,
        [young(str(9000 + i), first="10/03/2025") for i in range(300)],
    )


def test_a_full_disk_under_the_working_warehouse(tmp_path: Path) -> None:
    raw = _region(tmp_path / "raw")
    folder = tmp_path / "wh"
    url = f"duckdb:///{folder / 'observatoire.duckdb'}"
    with _mounted(folder / "work", "-t", "tmpfs", "-o", "size=64m", "tmpfs") as work:
        first = _run(raw, url, tmp_path / "home")
        assert first.returncode == 0, first.stdout + first.stderr
        published = _digest(folder / "observatoire.duckdb")
        _fill(work)
        _more_rows(raw)
        full = _run(raw, url, tmp_path / "home")
        assert full.returncode == 1
        assert "Résumé" in full.stdout
        assert "disque plein" in full.stdout, full.stdout
        assert "Traceback" not in full.stdout
        assert _digest(folder / "observatoire.duckdb") == published
        assert not list(folder.glob(".*.tmp"))


def test_a_full_disk_at_publication(tmp_path: Path) -> None:
    raw = _region(tmp_path / "raw")
    folder = tmp_path / "wh"
    url = f"duckdb:///{folder / 'observatoire.duckdb'}"
    working = tmp_path / "working-disk"
    working.mkdir()
    with (
        _mounted(folder, "-t", "tmpfs", "-o", "size=64m", "tmpfs"),
        _mounted(folder / "work", "--bind", str(working)),
    ):
        first = _run(raw, url, tmp_path / "home")
        assert first.returncode == 0, first.stdout + first.stderr
        published = _digest(folder / "observatoire.duckdb")
        _fill(folder)
        _more_rows(raw)
        full = _run(raw, url, tmp_path / "home")
        assert full.returncode == 1
        assert "Résumé" in full.stdout
        # the catalogue's run, the first to publish (the data dictionary), says it first
        assert "disque plein : la copie publiée de l'entrepôt" in full.stdout, full.stdout
        assert "Traceback" not in full.stdout
        assert _digest(folder / "observatoire.duckdb") == published
        assert not list(folder.glob(".*.tmp"))
        (folder / "filler").unlink()
        freed = _run(raw, url, tmp_path / "home")
        assert freed.returncode == 0, freed.stdout + freed.stderr
        assert _digest(folder / "observatoire.duckdb") != published
