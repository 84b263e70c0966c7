"""The `observatoire` command: progress, summary, exit status."""

from pathlib import Path

import pytest

from pipelines.cli import main
from tests.builders import JEUNES_HEADERS, write_structure, write_xlsx, young


def test_run_prints_progress_and_summary_and_fails_naming_the_partition(tmp_path: Path, capsys):
    raw = tmp_path / "raw"
    write_structure(raw, "OK1")
    write_xlsx(raw / "OK1" / "2025" / "jeunes.xlsx", JEUNES_HEADERS, [young("1"), young(None)])
    write_structure(raw, "BAD")
    (raw / "BAD" / "2025").mkdir(parents=True)
    (raw / "BAD" / "2025" / "jeunes.xlsx").write_bytes(b"")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    status = main(
        ["run", "--raw", str(raw), "--warehouse", url, "--run-date", "2026-01-06", "--no-history"]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "[1/2] BAD 2025 : ÉCHEC" in out and "[2/2] OK1 2025 : terminé" in out
    assert "partitions : 1 terminée(s), 1 en échec" in out
    assert "ÉCHEC BAD 2025 : BAD/2025/jeunes.xlsx : le fichier est vide" in out
    assert "lignes lues : 2 ; chargées : 1" in out
    assert "cellules en quarantaine : 1" in out


def test_run_on_an_empty_drop_zone_says_what_to_do(tmp_path: Path, capsys):
    status = main(
        [
            "run",
            "--raw",
            str(tmp_path),
            "--warehouse",
            f"duckdb:///{tmp_path / 'w.duckdb'}",
            "--no-history",
        ]
    )
    assert status == 1
    assert "dossiers attendus : raw/<STRUCTURE>/<ANNÉE>/" in capsys.readouterr().out


def _help(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "command", [[], ["run"], ["demo"], ["report"], ["anomalies"], ["key"], ["key", "create"]]
)
def test_every_help_is_in_french(command: list[str], capsys) -> None:
    text = _help(command, capsys)
    assert text.startswith("utilisation : observatoire"), text
    assert "affiche cette aide" in text
    for english in ("usage:", "show this help", "positional arguments", "(default", "the "):
        assert english not in text, (english, text)


def test_report_help_and_a_usage_error_speak_french(capsys) -> None:
    assert "écrit le rapport d'activité annuel" in _help([], capsys)
    report = _help(["report"], capsys)
    assert "--year ANNÉE" in report and "l'année (par défaut : la dernière" in report
    with pytest.raises(SystemExit) as done:
        main(["anomalies", "--year", "deux mille"])
    assert done.value.code == 2
    error = capsys.readouterr().err
    assert "observatoire anomalies : erreur : argument --year : nombre entier attendu" in error
