"""What a workbook declares and holds, checked before calamine reads it (hostile files).

A forged or damaged workbook must fail its partition with a message, never the process
(exports.md, *What bad input gets*; docs/faults.md): `check_zip_workbook` for .xlsx/.xlsm,
`check_xls_workbook` for .xls. Called by pipelines/read.py before fastexcel opens the bytes.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator

from pipelines.export_files import MAX_FILE_BYTES, UnreadableFileError, thousands

MAX_SHEET_CELLS = 50_000_000  # rows × columns calamine holds for one sheet (≈40 bytes each)
MAX_UNCOMPRESSED_BYTES = 2 * 1024 * 1024 * 1024  # XML parts of one workbook, as declared
MAX_ZIP_MEMBERS = 10_000

# Measured with fastexcel 0.21 (docs/faults.md): calamine holds a sheet as a dense grid
# from A1 to its farthest cell holding a value (≈40 bytes a cell), so one value in
# XFD1048576 asks for ≈512 GiB and aborts the process; it also reserves room for the
# shared strings' declared `uniqueCount`, and, in a .xls, for the DIMENSIONS record's area
# and the SST's declared count. The `<dimension ref>` of a .xlsx, empty formatted cells
# (`<c r="XFD1048576" s="1"/>`) and formatted empty rows cost nothing: such files are read
# as they are.

_XLSX_SMALL_OR_ODD = re.compile(  # a cell tag not of the usual small form `<c r="BZ99999"`
    rb'<c(?:[>/\t\r\n]| (?!r="[A-B]?[A-Z]?[0-9]{1,5}"))'
)
_XLSX_PREFIXED_CELL = re.compile(rb":c[\s>/]")  # apart: an alternation slows the search 4x
_XLSX_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*?(/?)>')
_XLSX_TAG = re.compile(  # any row or cell tag, any prefix, any attribute layout
    rb"<(/?)(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*?)(/?)>"
)
_XLSX_REF = re.compile(rb'(?:^|\s)r\s*=\s*["\']\s*([A-Za-z$]*)\$?([0-9]*)')
_SST_UNIQUE = re.compile(rb'(\suniqueCount\s*=\s*["\'])([0-9]+)(["\'])')
_REL_TARGET = re.compile(rb'Target\s*=\s*["\']([^"\']+)["\']')
_CHUNK = 8 << 20


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        if not 65 <= ch <= 90:
            return 1 << 20  # not a column calamine knows: count it as far away
        n = n * 26 + ch - 64
    return n


def _column_letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out or "A"


class _Extent:
    """The farthest row and column holding a value in one worksheet part, as calamine
    places cells (a cell's `r`, else the row's and a running column)."""

    def __init__(self) -> None:
        self.rows = 0
        self.cols = 0
        self.row = 0  # calamine's running position, for cells without `r`
        self.col = 0

    def fast(self, text: bytes) -> bool:
        """The usual layout (every cell `<c r="..."`, near A1): nothing to do. False when
        the exact pass is needed."""
        return _XLSX_SMALL_OR_ODD.search(text) is None and (
            b":c" not in text or _XLSX_PREFIXED_CELL.search(text) is None
        )

    def exact(self, text: bytes) -> None:
        cells = _XLSX_CELL.findall(text)
        if (
            len(cells) == text.count(b"<c ") == text.count(b'<c r="')
            and b":c" not in text
            and re.search(rb"<c[>/\t\r\n]", text) is None
        ):
            filled = [(c, r) for c, r, closed in cells if not closed]
            if filled:  # every cell has its own `r`: no running position to follow
                self.rows = max(self.rows, max(int(r) for _, r in filled))
                self.cols = max(self.cols, max(_column_number(c) for c in {c for c, _ in filled}))
                self.row, self.col = int(filled[-1][1]) - 1, _column_number(filled[-1][0])
            return
        self.follow(text)

    def follow(self, text: bytes) -> None:
        """Tag by tag, as calamine's cell reader does (rare layouts: prefixes, no `r`)."""
        for closing, tag, attrs, empty in _XLSX_TAG.findall(text):
            if tag == b"row":
                if closing:
                    self.row, self.col = self.row + 1, 0
                    continue
                m = _XLSX_REF.search(attrs)
                if m and m.group(2):
                    self.row = int(m.group(2)) - 1
                if empty:  # <row/>: opened and closed
                    self.row, self.col = self.row + 1, 0
                continue
            if closing:
                continue
            m = _XLSX_REF.search(attrs)
            if m and (m.group(1) or m.group(2)):
                row = int(m.group(2)) - 1 if m.group(2) else self.row
                col = _column_number(m.group(1)) - 1 if m.group(1) else self.col
            else:
                row, col = self.row, self.col
            if not empty:  # a self-closed cell holds no value: calamine skips it
                self.rows = max(self.rows, row + 1)
                self.cols = max(self.cols, col + 1)
            self.col = col + 1


def _member_chunks(content: bytes, info: zipfile.ZipInfo, file: str) -> Iterator[bytes]:
    """The decompressed bytes of one zip member, a chunk at a time; refuses a member that
    decompresses to more than it declares (what a zip bomb does)."""
    offset = info.header_offset
    if content[offset : offset + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack_from("<HH", content, offset + 26)
    start = offset + 30 + name_len + extra_len
    raw = memoryview(content)[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(raw), _CHUNK):
            yield bytes(raw[i : i + _CHUNK])
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise UnreadableFileError(
            file,
            f"la partie {info.filename} du classeur est compressée d'une façon "
            f"qu'Excel n'emploie pas (méthode {info.compress_type}) : ouvrez le fichier dans "
            "Excel et enregistrez-le de nouveau en .xlsx",
        )
    inflate = zlib.decompressobj(-15)
    produced, pos = 0, 0
    pending: bytes | memoryview = b""
    while True:
        if not pending:
            if pos >= len(raw):
                break
            pending, pos = raw[pos : pos + _CHUNK], pos + _CHUNK
        chunk = inflate.decompress(pending, _CHUNK)
        pending = inflate.unconsumed_tail
        produced += len(chunk)
        if produced > info.file_size:
            raise UnreadableFileError(
                file,
                f"la partie {info.filename} du classeur se décompresse en plus que les "
                f"{info.file_size} octets qu'elle déclare (fichier forgé ou endommagé, une "
                "« bombe zip ») : il n'est pas lu ; extrayez-le de nouveau depuis i-milo",
            )
        if chunk:
            yield chunk
        if inflate.eof:
            break


def _scan_sheet(content: bytes, info: zipfile.ZipInfo, file: str) -> None:
    extent, carry = _Extent(), b""
    for chunk in _member_chunks(content, info, file):
        text = carry + chunk
        cut = text.rfind(b"<")  # a tag cut by the chunk's end waits for the next chunk
        text, carry = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
        if not extent.fast(text):
            extent.exact(text)
    if carry:
        extent.exact(carry)
    cells = extent.rows * extent.cols
    if cells > MAX_SHEET_CELLS:
        far = f"{_column_letters(extent.cols)}{extent.rows}"
        raise UnreadableFileError(
            file,
            f"une feuille a une cellule remplie jusqu'en {far} (partie {info.filename}) : la "
            f"lire demanderait de tenir {thousands(cells)} cellules en mémoire, au-delà de la "
            f"limite de {thousands(MAX_SHEET_CELLS)} ; ouvrez le fichier dans Excel, allez à la "
            "dernière cellule (Ctrl+Fin), supprimez les lignes et colonnes au-delà des données, "
            "enregistrez et relancez",
        )


def _shared_strings(content: bytes, info: zipfile.ZipInfo, file: str) -> tuple[int, int]:
    """(uniqueCount declared, an upper bound of the strings actually there)."""
    declared, found, carry = -1, 0, b""
    for chunk in _member_chunks(content, info, file):
        text = carry + chunk  # 2 bytes carried: a `<si` cut in two is counted once
        if declared < 0 and (m := re.search(rb"<(?:[\w.-]+:)?sst\b[^>]*>", text)):
            unique = _SST_UNIQUE.search(m.group())
            declared = int(unique.group(2)) if unique else 0
        found += text.count(b"<si") + text.count(b":si")
        carry = text[-2:]
    return max(declared, 0), found


def _sheet_parts(zf: zipfile.ZipFile) -> set[str]:
    """Every part calamine may read as a sheet: the `xl/` XML parts, and whatever the
    workbook's relationships point at (a sheet may have any name)."""
    names = set(zf.namelist())
    parts = {n for n in names if n.lower().endswith(".xml") and n.startswith("xl/")}
    if "xl/_rels/workbook.xml.rels" in names:
        rels = zf.read("xl/_rels/workbook.xml.rels")[: 1 << 20]
        for target in _REL_TARGET.findall(rels):
            t = target.decode("utf-8", "replace")
            part = t.lstrip("/") if t.startswith("/") else os.path.normpath(f"xl/{t}")
            if part in names:
                parts.add(part)
    return parts


def check_zip_workbook(content: bytes, file: str) -> bytes:
    """Check what a .xlsx/.xlsm declares before calamine reads it; return the bytes to read
    (the same, or a copy whose shared strings' `uniqueCount` is set to the real number).

    Refuses (UnreadableFileError) a workbook whose reading would exceed the bounds: more
    than MAX_ZIP_MEMBERS parts, XML parts over MAX_UNCOMPRESSED_BYTES declared, a part
    decompressing to more than it declares, a sheet whose farthest value makes a grid of
    more than MAX_SHEET_CELLS cells."""
    zf = zipfile.ZipFile(io.BytesIO(content))
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UnreadableFileError(
            file,
            f"le classeur compte {len(infos)} parties (au-delà de {MAX_ZIP_MEMBERS}) : "
            "ce n'est pas un export ; extrayez-le de nouveau depuis i-milo",
        )
    parts = _sheet_parts(zf)
    declared = sum(i.file_size for i in infos if i.filename in parts)
    if declared > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableFileError(
            file,
            f"le classeur déclare {thousands(declared / 2**20)} Mio une fois décompressé, "
            f"au-delà de la limite de {thousands(MAX_UNCOMPRESSED_BYTES // 2**20)} Mio : découpez "
            "l'extraction en plusieurs fichiers",
        )
    rewrite: dict[str, bytes] = {}
    for info in infos:
        if info.filename not in parts or info.is_dir():
            continue
        if info.filename.lower().endswith("sharedstrings.xml"):
            declared_unique, found = _shared_strings(content, info, file)
            if declared_unique > found:  # calamine reserves room for uniqueCount strings
                rewrite[info.filename] = _SST_UNIQUE.sub(
                    rb"\g<1>" + str(found).encode() + rb"\g<3>", zf.read(info), count=1
                )
        else:
            _scan_sheet(content, info, file)
    if not rewrite:
        return content
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in infos:
            copy.writestr(
                info,
                rewrite.get(info.filename) or zf.read(info),
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return out.getvalue()


# .xls (BIFF8 in an OLE2 container): record types whose first two fields are (row, col)
_BIFF_CELLS = {0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006}
_BIFF_MULRK, _BIFF_DIMENSIONS, _BIFF_SST, _BIFF_BOF = 0x00BD, 0x0200, 0x00FC, 0x0809


def check_xls_workbook(content: bytes, file: str) -> None:
    """Check what a .xls declares before calamine reads it (it reads every sheet at once):
    the DIMENSIONS records' areas, the SST's declared count and the farthest cell of each
    sheet. Refuses (UnreadableFileError) what would exceed MAX_SHEET_CELLS."""
    import olefile  # late import: only .xls files need it

    try:
        ole = olefile.OleFileIO(io.BytesIO(content))
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        if name is None:
            return  # not a workbook: calamine says so itself
        stream = ole.openstream(name).read(MAX_FILE_BYTES)
    except Exception:  # a container olefile cannot parse: calamine reports it, with its cause
        return
    refuse = (
        "ouvrez le fichier dans Excel, supprimez les lignes et colonnes au-delà des données "
        "et enregistrez-le en .xlsx, puis relancez"
    )
    rows = cols = 0
    pos, size = 0, len(stream)
    while pos + 4 <= size:
        kind, length = struct.unpack_from("<HH", stream, pos)
        data = stream[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if kind == _BIFF_BOF:
            rows = cols = 0
        elif kind in _BIFF_CELLS and length >= 4:
            row, col = struct.unpack_from("<HH", data)
            rows, cols = max(rows, row + 1), max(cols, col + 1)
        elif kind == _BIFF_MULRK and length >= 6:
            (row,) = struct.unpack_from("<H", data)
            (last,) = struct.unpack_from("<H", data, length - 2)
            rows, cols = max(rows, row + 1), max(cols, last + 1)
        elif kind == _BIFF_DIMENSIONS and length in (10, 14):
            if length == 14:
                first_row, last_row, first_col, last_col = struct.unpack_from("<IIHH", data)
            else:
                first_row, last_row, first_col, last_col = struct.unpack_from("<HHHH", data)
            # calamine reserves (last - first) rows × columns, in u32 (a last before the
            # first wraps round to ≈4 billion)
            area = 1
            if last_row >= 1 and last_col >= 1:
                area = ((last_row - first_row) % 2**32) * ((last_col - first_col) % 2**32)
            if area > MAX_SHEET_CELLS:
                raise UnreadableFileError(
                    file,
                    f"une feuille déclare {thousands(area)} cellules (enregistrement "
                    f"DIMENSIONS), au-delà de la limite de {thousands(MAX_SHEET_CELLS)} : {refuse}",
                )
        elif kind == _BIFF_SST and length >= 8:
            (unique,) = struct.unpack_from("<i", data, 4)
            if unique < 0 or unique > size // 3:  # each string takes 3 bytes at least
                raise UnreadableFileError(
                    file,
                    f"la table des textes déclare {unique} textes, impossible dans un "
                    f"fichier de cette taille (fichier forgé ou endommagé) : {refuse}",
                )
        if rows * cols > MAX_SHEET_CELLS:
            raise UnreadableFileError(
                file,
                f"une feuille a une cellule remplie jusqu'en {_column_letters(cols)}"
                f"{rows} : la lire demanderait de tenir {thousands(rows * cols)} cellules en "
                f"mémoire, au-delà de la limite de {thousands(MAX_SHEET_CELLS)} : {refuse}",
            )
