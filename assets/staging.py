"""Staging: the rows of every export file as read (text), personal columns dropped."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.raw import raw_exports
from pipelines.config import export_specs, load_structure
from pipelines.inputs import inputs_digest
from pipelines.jobs import STAGING_EXPORTS
from pipelines.partitions import discover_partitions, partition_of, partitions_def
from pipelines.pseudonym import PseudonymKey, PseudonymKeyError, resolve_key
from pipelines.read import UnreadableFileError
from pipelines.recovery import pause_point
from pipelines.resources import DropZoneResource, WarehouseResource
from pipelines.staging import stage_partition
from pipelines.store import key_fingerprints, prepare, remove_partitions, write_staging


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            STAGING_EXPORTS,
            deps=[raw_exports],
            group_name="staging",
            kinds={"sql"},
            description="Lignes de chaque export telles que lues (texte), sans données "
            "personnelles, identifiant pseudonymisé : une table par type d'export (staging."
            "jeunes, staging.evenements…), les fichiers et feuilles lus (staging.sheets : type "
            "reconnu, ligne d'en-tête, en-têtes tels qu'écrits, empreinte sha256).",
        ),
    ],
    partitions_def=partitions_def,
    name="staging_exports",
    pool="warehouse",
)
def staging_exports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, drop_zone: DropZoneResource
) -> Iterator[dg.MaterializeResult]:
    """Read every export file of the partition's folder into the staging schema.

    A file that cannot be read fails the partition before anything is written, so the
    warehouse keeps the partition's last good state. A partition whose folder is gone
    (deleted, or its structure's folder renamed) leaves every layer: raw/ is the source of
    truth.
    """
    structure, year = partition_of(context)
    root = drop_zone.root
    year_dir = root / structure / str(year)
    if not year_dir.is_dir():
        yield from _remove(context, warehouse, root, structure, year)
        return
    # refuse a structure without structure.yaml, early
    synthetic = load_structure(root / structure).synthetic
    try:
        pseudonym_key = resolve_key(synthetic=synthetic)
    except PseudonymKeyError as exc:
        raise dg.Failure(description=f"{structure} {year} : {exc}") from exc
    with warehouse.open() as wh:
        prepare(wh)
        loaded_with = key_fingerprints(wh, structure)
    _refuse_another_key(
        structure, year, pseudonym_key, loaded_with, structure in drop_zone.new_key_structures
    )
    try:
        staged = stage_partition(
            year_dir, root, structure, year, pd.Timestamp.now().floor("s"), pseudonym_key.secret
        )
    except UnreadableFileError as exc:
        raise dg.Failure(description=str(exc)) from exc
    for warning in staged.warnings:
        context.log.warning(warning)
    with warehouse.open() as wh:
        write_staging(
            wh, staged, structure, year, pseudonym_key.fingerprint, inputs_digest(root / structure)
        )
    pause_point("staging-written")
    files_md = (
        dg.MetadataValue.md(staged.files[["file", "sha256", "size_bytes"]].to_markdown(index=False))
        if not staged.files.empty
        else ""
    )
    labels = {name: spec.label for name, spec in export_specs().items()}
    rows = {labels[name]: len(frame) for name, frame in staged.tables.items()}
    yield dg.MaterializeResult(
        asset_key=STAGING_EXPORTS,
        metadata={
            "dagster/row_count": sum(rows.values()),
            "lignes par export": dg.MetadataValue.json(rows),
            "feuilles lues": len(staged.sheets),
            "lignes lues": staged.rows_read,
            "fichiers sources": files_md,
            "avertissements": staged.warnings,
            "empreinte de la clé": pseudonym_key.fingerprint,
        },
    )


def _refuse_another_key(
    structure: str, year: int, key: PseudonymKey, loaded_with: dict[int, str], new_key: bool
) -> None:
    """Pseudonyms of two keys in one structure would silently break the counts of distinct
    young people across years: refused, unless this run reloads the whole structure."""
    others = {y: f for y, f in loaded_with.items() if y != year and f != key.fingerprint}
    if not others or new_key:
        return
    years = ", ".join(str(y) for y in sorted(others))
    raise dg.Failure(
        description=(
            f"{structure} {year} : la clé de pseudonymisation ({key.source}, empreinte "
            f"{key.fingerprint}) n'est pas celle avec laquelle {structure} a été chargé "
            f"(années {years} : empreinte {', '.join(sorted(set(others.values())))}). Des "
            f"pseudonymes faits avec deux clés fausseraient le décompte des jeunes d'une année "
            f"sur l'autre. Remettez l'ancienne clé, ou rechargez toutes les années de {structure} "
            f"avec la nouvelle : observatoire run --structure {structure} --new-key"
        )
    )


def _remove(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    root: Path,
    structure: str,
    year: int,
) -> Iterator[dg.MaterializeResult]:
    """The partition's folder is gone: its rows leave every layer, in one transaction."""
    if not discover_partitions(root):
        # an empty or unmounted drop zone is not the deletion of every partition
        raise dg.Failure(
            description=(
                f"{structure} {year} : la zone de dépôt {root} est vide ou absente ; rien n'est "
                f"retiré de l'entrepôt. Vérifiez que le dossier raw/ est bien monté"
            )
        )
    with warehouse.open() as wh:
        prepare(wh)
        removed = remove_partitions(wh, [(structure, year)])
    reason = (
        f"dossier raw/{structure}/{year}/ disparu (supprimé, ou dossier de la structure "
        f"renommé) : {removed[(structure, year)]} lignes retirées de toutes les couches"
    )
    context.log.info(f"{structure} {year} : {reason}")
    yield dg.MaterializeResult(
        asset_key=STAGING_EXPORTS, metadata={"dagster/row_count": 0, "partition retirée": reason}
    )
