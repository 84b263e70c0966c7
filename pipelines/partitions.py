"""Partitions: structure x year, discovered from the drop zone `raw/<STRUCTURE>/<YEAR>/`."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import dagster as dg

from pipelines.config import STRUCTURE_CODE

structure_partitions = dg.DynamicPartitionsDefinition(name="structure")
year_partitions = dg.DynamicPartitionsDefinition(name="year")
partitions_def = dg.MultiPartitionsDefinition(
    {"structure": structure_partitions, "year": year_partitions}
)

YEAR_FOLDER = re.compile(r"^(19|20)\d\d$")


def _folders(parent: Path, root: Path) -> list[Path]:
    """The sub-folders of `parent`, sorted; a symbolic link counts only when it leads to a
    folder inside `root` (the drop zone never leads the pipeline elsewhere). Only stat, never
    open: a FIFO cannot block the scan."""
    out = []
    for entry in parent.iterdir():
        try:
            if not entry.is_dir():
                continue
            if entry.is_symlink() and not entry.resolve(strict=True).is_relative_to(root):
                continue
        except (OSError, RuntimeError):  # vanished, or a link loop
            continue
        out.append(entry)
    return sorted(out)


def discover_partitions(raw_dir: Path) -> list[tuple[str, int]]:
    """(structure, year) for every `raw/<STRUCTURE>/<YEAR>/` folder, sorted (years ascending,
    so a year's trends can read the previous year's figures). Folders linked from outside
    `raw/` are not followed (see `drop_zone_warnings`)."""
    found: list[tuple[str, int]] = []
    if not raw_dir.is_dir():
        return found
    root = raw_dir.resolve()
    for structure_dir in _folders(raw_dir, root):
        if structure_dir.name.startswith(".") or not STRUCTURE_CODE.match(structure_dir.name):
            continue
        for year_dir in _folders(structure_dir, root):
            if YEAR_FOLDER.match(year_dir.name):
                found.append((structure_dir.name, int(year_dir.name)))
    return sorted(found, key=lambda sy: (sy[1], sy[0]))


def _odd_entry(entry: Path, root: Path, shown: str) -> str | None:
    """A warning (French) for an entry of raw/ or of a structure folder that is a link
    leading out of raw/, a broken link, or a FIFO, socket or device; None otherwise."""
    try:
        if entry.is_symlink():
            target = entry.resolve(strict=True)
            if not target.is_relative_to(root):
                what = "un dossier" if target.is_dir() else "un fichier"
                return (
                    f"{shown} : ignoré (lien symbolique vers {what} hors de raw/, jamais "
                    "suivi) : copiez son contenu dans raw/, ou supprimez le lien"
                )
        mode = entry.stat().st_mode
    except (OSError, RuntimeError):
        return f"{shown} : ignoré (lien symbolique cassé, ou illisible) : supprimez-le"
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return (
            f"{shown} : ignoré (ni fichier ni dossier : un tube, une socket ou un "
            "périphérique) : retirez-le de raw/"
        )
    return None


def drop_zone_warnings(raw_dir: Path) -> list[str]:
    """What the drop zone holds that no partition reads, in French, for the run's summary:
    folders that are neither a structure (a folder holding `structure.yaml`, named with
    letters, digits, - and _) nor a year (four digits, 1900-2099), symbolic links leading
    out of `raw/` (never followed), FIFOs, sockets and devices. Each message names the
    entry (path under raw/) and what to do. Only stat, never open: it cannot block."""
    out: list[str] = []
    if not raw_dir.is_dir():
        return out
    root = raw_dir.resolve()
    for entry in sorted(raw_dir.iterdir()):
        shown = entry.name + ("/" if entry.is_dir() else "")
        if entry.name.startswith("."):
            continue
        if (problem := _odd_entry(entry, root, shown)) or not entry.is_dir():
            if problem:
                out.append(problem)
            continue
        if not STRUCTURE_CODE.match(entry.name):
            out.append(
                f"{shown} : dossier ignoré (un dossier de structure se nomme par son "
                "code : lettres sans accent, chiffres, - et _, sans espace) : "
                "renommez-le, par exemple "
                f"{re.sub(r'[^A-Za-z0-9_-]+', '_', entry.name).strip('_') or 'MNO'}/, "
                "et placez-y structure.yaml"
            )
            continue
        if not (entry / "structure.yaml").is_file():
            out.append(
                f"{shown} : ce dossier n'a pas de structure.yaml, ce n'est donc pas une "
                "structure : ajoutez-y structure.yaml (nom et territoire, voir "
                "docs) ou retirez le dossier de raw/"
            )
        for sub in sorted(entry.iterdir()):
            shown_sub = f"{entry.name}/{sub.name}" + ("/" if sub.is_dir() else "")
            if sub.name.startswith("."):
                continue
            if problem := _odd_entry(sub, root, shown_sub):
                out.append(problem)
            elif sub.is_dir() and not YEAR_FOLDER.match(sub.name):
                out.append(
                    f"{shown_sub} : dossier ignoré (un dossier d'année se nomme par "
                    "ses quatre chiffres, par exemple 2025) : renommez-le, ou "
                    f"déplacez ses fichiers dans {entry.name}/<ANNÉE>/"
                )
    return out


def partition_key(structure: str, year: int) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"structure": structure, "year": str(year)})


def partition_of(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[str, int]:
    """(structure, year) of the partition being materialised."""
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        key = partitions_def.get_partition_key_from_str(key)
    keys = key.keys_by_dimension
    return keys["structure"], int(keys["year"])


def register_partitions(instance: dg.DagsterInstance, partitions: list[tuple[str, int]]) -> None:
    """Add the discovered structures and years to the instance's dynamic partitions."""
    structures = sorted({s for s, _ in partitions})
    years = sorted({str(y) for _, y in partitions})
    known_s = set(instance.get_dynamic_partitions("structure"))
    known_y = set(instance.get_dynamic_partitions("year"))
    if new := [s for s in structures if s not in known_s]:
        instance.add_dynamic_partitions("structure", new)
    if new := [y for y in years if y not in known_y]:
        instance.add_dynamic_partitions("year", new)
