"""The files of a partition folder: which are read, and their bytes, read once and safely.

Implements `shared/contract/exports.md`, *Folder layout*: what `raw/<STRUCTURE>/<YEAR>/`
holds that the reader reads (xlsx, xlsm, xls, csv), what it skips with a warning (other
extensions, Excel lock files, hidden files, sub-folders, FIFOs, sockets, devices, links out
of `raw/`), and the bound on a file's size (docs/faults.md). What is inside a file is read by
pipelines/read.py.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")
CSV_EXTENSIONS = (".csv",)

# Bounds on what one file may make the reader hold (exports.md, *What bad input gets*;
# docs/faults.md): a file beyond them fails its partition with a message, never the process.
# The bounds on what a workbook declares: pipelines/workbook_checks.py.
MAX_FILE_BYTES = 256 * 1024 * 1024  # a 1 M-row CSV is ≈100 MB, a full Excel sheet less


class UnreadableFileError(Exception):
    """A file of the drop zone that cannot be read: its partition's ingest fails.

    The message names the file (path relative to `raw/`), the cause and what to do.
    """

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file} : {reason}")
        self.file = file
        self.reason = reason


def relative_name(path: Path, raw_root: Path) -> str:
    """`S/Y/name` as listed (a link keeps its own name), else the resolved path."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(raw_root)).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(raw_root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _inside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root)
        return True
    except ValueError:
        return False


def _special_kind(mode: int) -> str | None:
    """What a non-regular, non-folder entry is (in French), or None for a file or folder."""
    if stat.S_ISFIFO(mode):
        return "un tube nommé (FIFO)"
    if stat.S_ISSOCK(mode):
        return "une socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "un périphérique"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "un fichier spécial"


def link_problem(entry: Path, raw_root: Path) -> str | None:
    """Why a symbolic link of the drop zone is not followed (in French), or None when it
    leads to a file or folder inside `raw_root`."""
    try:
        target = entry.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop
        return (
            "lien symbolique cassé (sa cible n'existe pas) : remplacez-le par le fichier "
            "lui-même, ou supprimez-le"
        )
    if not _inside(target, raw_root.resolve()):
        return (
            "lien symbolique vers un emplacement hors de raw/ : il n'est pas suivi ; "
            "copiez le fichier lui-même dans le dossier, ou supprimez le lien"
        )
    return None


def list_export_files(year_dir: Path, raw_root: Path | None = None) -> tuple[list[Path], list[str]]:
    """Files to read in `raw/<S>/<Y>/` (xlsx, xlsm, xls, csv; sorted by name) and warnings
    for the entries skipped (other extensions, Excel `~$` lock files, hidden files,
    sub-folders, FIFOs, sockets and devices, symbolic links leading out of `raw_root`,
    default: two levels up). Never opens a file: a FIFO cannot block the listing."""
    year_dir = Path(year_dir)
    raw_root = Path(raw_root) if raw_root is not None else year_dir.parent.parent
    shown = Path(*year_dir.parts[-2:]) if len(year_dir.parts) >= 2 else year_dir
    files: list[Path] = []
    warnings: list[str] = []
    for entry in sorted(year_dir.iterdir(), key=lambda p: p.name):
        name = (shown / entry.name).as_posix()
        if entry.name.startswith("."):
            warnings.append(f"{name} : ignoré (fichier caché)")
            continue
        if entry.name.startswith("~$"):
            warnings.append(
                f"{name} : ignoré (fichier de verrou d'Excel : le classeur est ouvert dans Excel, "
                "ou Excel ne s'est pas fermé proprement ; il ne contient aucune donnée)"
            )
            continue
        try:
            if entry.is_symlink() and (problem := link_problem(entry, raw_root)):
                warnings.append(f"{name} : ignoré ({problem})")
                continue
            mode = entry.stat().st_mode  # follows a link inside raw/; never opens
        except OSError as exc:
            warnings.append(f"{name} : ignoré (illisible : {os_error(exc)})")
            continue
        if kind := _special_kind(mode):
            warnings.append(
                f"{name} : ignoré (ce n'est pas un fichier mais {kind} ; seuls des fichiers "
                "ordinaires sont lus : retirez-le du dossier)"
            )
        elif stat.S_ISDIR(mode):
            warnings.append(
                f"{name} : ignoré (dossier : les fichiers des sous-dossiers ne sont pas lus)"
            )
        elif entry.suffix.lower() in EXCEL_EXTENSIONS + CSV_EXTENSIONS:
            files.append(entry)
        else:
            warnings.append(
                f"{name} : ignoré (pas un export : seuls les fichiers .xlsx, .xlsm, .xls et .csv "
                "sont lus)"
            )
    return files, warnings


def read_file_bytes(path: Path, file: str, raw_root: Path | None = None) -> bytes:
    """The bytes of one export file, read once (what is parsed, hashed and sized is the same
    version, even if the file is replaced meanwhile). Opened without blocking (a FIFO put in
    the file's place is refused, not waited on); a link must lead inside `raw_root`; at most
    MAX_FILE_BYTES."""
    path = Path(path)
    if raw_root is not None and path.is_symlink() and (problem := link_problem(path, raw_root)):
        raise UnreadableFileError(file, problem)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFileError(
            file, f"impossible d'ouvrir le fichier ({os_error(exc)}) : {_ACCESS}"
        ) from exc
    try:
        info = os.fstat(fd)
        if kind := _special_kind(info.st_mode):
            raise UnreadableFileError(
                file, f"ce n'est pas un fichier mais {kind} : retirez-le du dossier"
            )
        if stat.S_ISDIR(info.st_mode):
            raise UnreadableFileError(
                file,
                "c'est un dossier, pas un fichier : retirez-le du dossier de l'année "
                "(les sous-dossiers ne sont pas lus)",
            )
        if info.st_size > MAX_FILE_BYTES:
            raise UnreadableFileError(file, too_big(info.st_size))
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 22):
            total += len(chunk)
            if total > MAX_FILE_BYTES:  # grew while being read
                raise UnreadableFileError(file, too_big(total))
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFileError(
            file, f"impossible de lire le fichier ({os_error(exc)}) : {_ACCESS}"
        ) from exc
    finally:
        os.close(fd)


_ACCESS = (
    "vérifiez qu'il existe toujours et que le compte qui lance le pipeline a le droit "
    "de le lire, puis relancez"
)
_OS_ERRORS = {  # the causes a drop zone meets; others keep the system's own words
    errno.EACCES: "accès refusé",
    errno.EPERM: "opération non permise",
    errno.ENOENT: "fichier introuvable : déplacé ou supprimé pendant la lecture",
    errno.EIO: "erreur d'entrée-sortie du disque",
    errno.ELOOP: "trop de liens symboliques",
    errno.ENAMETOOLONG: "nom trop long",
    errno.ENXIO: "périphérique absent",
    errno.ESTALE: "partage réseau déconnecté",
}


def os_error(exc: OSError) -> str:
    """The cause of a system error in French (errno), else as the system gives it."""
    return _OS_ERRORS.get(exc.errno or 0) or exc.strerror or type(exc).__name__


def thousands(number: float) -> str:
    """A number as a French reader writes it: 17 179 869 184."""
    return f"{number:,.0f}".replace(",", " ")


def too_big(size: int) -> str:
    return (
        f"le fichier fait {thousands(size / 2**20)} Mio, au-delà de la limite de "
        f"{thousands(MAX_FILE_BYTES // 2**20)} Mio qu'un export peut occuper en mémoire : "
        "découpez l'extraction (par exemple par semestre) en plusieurs fichiers du même "
        "dossier, ou vérifiez que c'est bien un export i-milo"
    )
