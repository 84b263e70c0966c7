"""Configuration files load into typed models; a mistyped one is refused at start with a
French message naming the file, the key and the form expected (issue 18, point 3)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from pipelines.compute import catalogue
from pipelines.config import CONFIG_DIR, celery_settings, codes, export_specs, report_layout
from pipelines.config_files import ConfigError, check_configuration
from pipelines.dictionary import meanings
from pipelines.sql_functions import age_sql
from pipelines.view_sql import dimension_labels

pytestmark = pytest.mark.unit


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, folder)
    return folder


def _mistype(folder: Path, name: str, change: Callable[[Any], None]) -> None:
    path = folder / name
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _set(*keys: object, value: object) -> Callable[[Any], None]:
    def change(document: Any) -> None:
        node = document
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


# (file, change, loader, the key path and the form the message must name)
CASES = [
    (
        "codes.yaml",
        _set("event_type", "Autres", value=3),
        codes,
        "event_type.Autres : une liste de libellés est attendue, trouvé un nombre (3)",
    ),
    (
        "codes.yaml",
        _set("aid_status_granted", value=["Accordé", "Remboursé"]),
        codes,
        "aid_status_granted.2 : une catégorie de la liste aid_status est attendue, trouvé un "
        "texte (« Remboursé »)",
    ),
    (
        "codes.yaml",
        _set("situation_category_rewrite", "Scolarité", value={"category": "X"}),
        codes,
        "situation_category_rewrite.Scolarité : une table {category, nature} ou "
        "{category_by_nature, otherwise} est attendue",
    ),
    (
        "codes.yaml",
        _set(
            "situation_category_rewrite",
            "Scolarité",
            value={"category": "Formation", "nature": "Lycée"},
        ),
        codes,
        "situation_category_rewrite.Scolarité : une catégorie de situation_nature (et l'une "
        "de ses natures) est attendue",
    ),
    (
        "exports.yaml",
        _set("evenements", "columns", "event_type", "kind", value="codes"),
        export_specs,
        "evenements.columns.event_type.kind : un genre parmi id, young_id",
    ),
    (
        "exports.yaml",
        _set("jeunes", "columns", "sex", "required", value="oui"),
        export_specs,
        "jeunes.columns.sex.required : vrai ou faux (true/false) est attendu, trouvé un texte",
    ),
    (
        "indicators.yaml",
        _set("age_band_upper_ages", value=[17, 21]),
        catalogue,
        "age_band_upper_ages : une liste croissante d'âges est attendue, un de moins que les "
        "tranches de dimensions.age_band, trouvé une liste",
    ),
    (
        "indicators.yaml",
        _set("indicators", 0, "measure", value="count"),
        catalogue,
        "indicators.1.measure : une mesure parmi distinct_young, rows, amount est attendue",
    ),
    (
        "indicators.yaml",
        _set("indicators", 0, "breakdowns", value=[["sexe"]]),
        catalogue,
        "indicators.1.breakdowns.1 : une dimension de `dimensions` est attendue (« sexe »",
    ),
    (
        "report.yaml",
        _set("title", value=2025),
        report_layout,
        "title : un texte est attendu, trouvé un nombre (2025)",
    ),
    (
        "report.yaml",
        _set("sections", 0, "blocks", 1, value={"tableau": {"title": "x"}}),
        report_layout,
        "sections.1.blocks.2 : un bloc {genre: réglages} est attendu",
    ),
    (
        "report.yaml",
        _set("dimension_headers", "sex", value=1),
        report_layout,
        "dimension_headers.sex : un texte est attendu, trouvé un nombre (1)",
    ),
    (
        "dictionary.yaml",
        _set("columns", "structure", value="Code de la structure"),
        meanings,
        "columns.structure : une table {meaning, example} est attendue, trouvé un texte",
    ),
    (
        "dimension_labels.yaml",
        _set("sex", value=["Sexe"]),
        dimension_labels,
        "sex : un libellé (texte) est attendu, trouvé une liste",
    ),
    (
        "celery.yaml",
        _set("execution", "config", "broker", value=5672),
        lambda folder: celery_settings(folder / "celery.yaml"),
        "execution.config.broker : une adresse (texte) est attendue, trouvé un nombre (5672)",
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "loader", "message"),
    CASES,
    ids=[f"{c[0]}:{c[3].split(' :')[0]}" for c in CASES],
)
def test_a_mistyped_file_is_refused_naming_file_key_and_form(
    tmp_path: Path,
    name: str,
    change: Callable[[Any], None],
    loader: Callable[[Path], object],
    message: str,
) -> None:
    folder = _copy(tmp_path)
    _mistype(folder, name, change)
    with pytest.raises(ConfigError) as refused:
        loader(folder)
    assert f"{folder / name}, {message}" in str(refused.value)
    # the start-up check refuses it too
    with pytest.raises(ConfigError, match=name):
        check_configuration(folder)


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _mistype(folder, "codes.yaml", lambda document: document.pop("event_status_contact"))
    with pytest.raises(
        ConfigError,
        match=r"codes\.yaml, event_status_contact : clé manquante, "
        r"une liste de catégories de la liste event_status",
    ):
        codes(folder)


def test_a_file_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "indicators.yaml").write_text("dimensions: [sex\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"indicators\.yaml : ce n'est pas du YAML valide"):
        catalogue(folder)


def test_the_real_files_load() -> None:
    check_configuration()
    rules = codes()
    assert rules.event_status_contact == ("Présent", "Réalisé", "Non précisé")
    assert rules.situation_category_not_counted == ("Demandeur d'emploi",)
    assert rules.situation_category_rewrite["Scolarité"].nature == "Formation initiale"
    assert rules.open_lists == {"programme", "aid_type"}
    assert catalogue().age_bands == (
        ("16-17 ans", 17),
        ("18-21 ans", 21),
        ("22-25 ans", 25),
        ("26 ans et +", None),
    )
    assert report_layout().sections[0].name == "Le public"
    assert meanings().dimensions["qpv"].example == "Briqueterie"
    assert celery_settings(CONFIG_DIR / "celery.yaml")["backend"] == "rpc://"


@pytest.mark.parametrize(
    ("birth", "on", "band"),
    [
        (date(2008, 12, 31), date(2025, 12, 31), "16-17 ans"),  # 17 on the day
        (date(2007, 12, 31), date(2025, 12, 31), "18-21 ans"),  # 18 on the day
        (date(2004, 1, 1), date(2025, 12, 31), "18-21 ans"),  # 21
        (date(2003, 12, 31), date(2025, 12, 31), "22-25 ans"),  # 22
        (date(2000, 1, 1), date(2025, 6, 30), "22-25 ans"),  # 25
        (date(1999, 6, 30), date(2025, 6, 30), "26 ans et +"),  # 26 on the day
        (None, date(2025, 12, 31), "Non renseigné"),
    ],
)
def test_the_age_band_sql_follows_the_catalogue(birth: date | None, on: date, band: str) -> None:
    """The SQL macro is written from config/indicators.yaml: a real DuckDB applies it."""
    conn = duckdb.connect()
    for statement in age_sql("duckdb"):
        conn.execute(statement)
    row = conn.execute("SELECT age_band(CAST(? AS DATE), CAST(? AS DATE))", [birth, on]).fetchone()
    assert row is not None and row[0] == band
    labels = [label for label, _ in catalogue().age_bands]
    assert band in [*labels, "Non renseigné"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("- La Madeleine\n- Lambersart\n", "attendu des clés `name` et `territory`, trouvé list"),
        ("name: [unclosed\n", "ce n'est pas du YAML valide"),
        ("name: ML\nterritory: []\n", "il faut un `name` et une liste `territory` non vide"),
        ("name: ML\nterritory:\n  - {insee: '59368'}\n", "l'entrée 1 de `territory` demande"),
    ],
)
def test_a_wrong_structure_yaml_is_refused_in_french(tmp_path: Path, text: str, said: str) -> None:
    """A structure.yaml written as a list (or any other wrong shape) is refused with the file
    named and an example to copy, not a Python error."""
    from pipelines.config import StructureConfigError, load_structure

    (tmp_path / "structure.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(StructureConfigError) as caught:
        load_structure(tmp_path)
    assert said in str(caught.value)
    assert str(tmp_path / "structure.yaml") in str(caught.value)
