"""Checks made before a loader parses anything.

A file is stat-ed before it is opened, so that a symlink loop, a directory, a FIFO (which would
block a reader forever) or a huge file fails fast with a message instead of hanging or filling
memory. The content is sniffed so that a file whose name lies about its format gets a message
naming what it really is.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import zipfile
from pathlib import Path

from ingest.errors import FileTooLarge, NoExtractableText, UnreadableDocument, UnsupportedFormat

#: ceiling on the uncompressed size of a DOCX/XLSX, whatever ``max_bytes`` is
ZIP_CEILING_BYTES = 500 * 1024 * 1024
#: a zip may expand to this many times ``max_bytes`` (XLSX/DOCX compress about 5-15x)
ZIP_EXPANSION_FACTOR = 20

_MB = 1024 * 1024


def read_checked(path: Path, max_bytes: int) -> bytes:
    """Return the bytes of ``path`` after checking it is a readable, non-empty regular file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _stat_error(path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableDocument(
            f"{path} is a directory, not a file: point at the files inside it instead"
        )
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableDocument(
            f"{path} is not a regular file (it is a {_file_kind(st.st_mode)}): "
            "copy its content into an ordinary file and ingest that"
        )
    if st.st_size > max_bytes:
        raise FileTooLarge(
            f"{path} is {_size(st.st_size)}, over the {_size(max_bytes)} limit: "
            "split it into smaller files or raise the max_file_mb setting"
        )
    if st.st_size == 0:
        raise NoExtractableText(f"{path} is empty (0 bytes): there is nothing to ingest")
    if not os.access(path, os.R_OK):
        raise _permission_error(path)
    try:
        with open(path, "rb") as fh:
            data = _read_at_most(fh, max_bytes + 1)
    except PermissionError as exc:
        raise _permission_error(path) from exc
    except OSError as exc:
        raise UnreadableDocument(f"{path} could not be read ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise FileTooLarge(
            f"{path} grew past the {_size(max_bytes)} limit while being read: "
            "ingest it once it is complete, or raise the max_file_mb setting"
        )
    if not data:
        raise NoExtractableText(f"{path} is empty (0 bytes): there is nothing to ingest")
    return data


def _read_at_most(fh: io.BufferedReader, limit: int) -> bytes:
    """Up to ``limit`` bytes, in 1 MB reads: ``read(limit)`` would reserve all of ``limit``
    up front (100 MB for a 2 KB file), which a capped address space refuses."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = fh.read(min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _stat_error(path: Path, exc: OSError) -> UnreadableDocument:
    if exc.errno == errno.ELOOP:
        return UnreadableDocument(
            f"{path} is a symlink loop (a link that points back at itself): fix or remove the link"
        )
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return UnreadableDocument(
                f"{path} is a broken symlink (its target does not exist): fix or remove the link"
            )
        return UnreadableDocument(f"{path} does not exist: check the path")
    if exc.errno == errno.EACCES:
        return _permission_error(path)
    return UnreadableDocument(f"{path} could not be read ({exc.strerror or exc})")


def _permission_error(path: Path) -> UnreadableDocument:
    return UnreadableDocument(
        f"{path} is not readable (permission denied): "
        "give this user read access (e.g. chmod a+r) and ingest it again"
    )


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _size(n: int) -> str:
    if n >= _MB:
        return f"{n / _MB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "a PDF file", ".pdf"),
    (b"PK\x03\x04", "a zip archive (DOCX/XLSX are zips)", ".docx or .xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls)", ".docx/.xlsx"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", ""),
    (b"\xff\xd8\xff", "a JPEG image", ""),
    (b"GIF8", "a GIF image", ""),
    (b"\x1f\x8b", "a gzip archive", ""),
    (b"Rar!", "a RAR archive", ""),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", ""),
    (b"\x7fELF", "a program (ELF)", ""),
)


def sniff(data: bytes, *, at_start: bool = False) -> tuple[str, str] | None:
    """Name a well-known binary format from the first bytes: (description, extension hint).

    A PDF header may follow some junk (readers accept it within the first 1 KB) unless
    ``at_start`` asks for signatures at byte 0 only.
    """
    head = data[:1024]
    for magic, what, ext in _SIGNATURES:
        if head.startswith(magic) or (not at_start and magic == b"%PDF-" and magic in head):
            return what, ext
    return None


def describe(data: bytes) -> str:
    """What the bytes look like, for 'is not a …' messages."""
    found = sniff(data)
    if found:
        return found[0]
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head:
        return "an HTML page"
    if looks_binary(data):
        return "binary data"
    return "plain text"


def looks_binary(data: bytes) -> bool:
    """True when the start of ``data`` has control bytes that text files do not contain."""
    sample = data[:65536]
    if not sample:
        return False
    controls = sum(1 for b in sample if (b < 32 and b not in (9, 10, 12, 13, 27)) or b == 127)
    return b"\x00" in sample or controls > max(2, len(sample) // 100)


def open_zip(path: Path, data: bytes, max_bytes: int, kind: str) -> zipfile.ZipFile:
    """Open an Office file as a zip, refusing bombs; ``kind`` is 'DOCX' or 'XLSX'."""
    if not data.startswith(b"PK\x03\x04"):
        hint = ".xlsx" if kind == "XLSX" else ".docx"
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise UnsupportedFormat(
                f"{path} is not a {kind} (zip) file: it is an old Office file (.doc/.xls); "
                f"open it in Word/Excel or LibreOffice, save it as {hint} and ingest that"
            )
        raise UnsupportedFormat(
            f"{path} is not a {kind} (zip) file: it looks like {describe(data)}; "
            "rename it to its real extension or re-save it from its application"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableDocument(
            f"{path} is a damaged {kind} (zip) file ({exc}): "
            "it may be truncated; re-save or re-download it"
        ) from exc
    limit = min(ZIP_EXPANSION_FACTOR * max_bytes, ZIP_CEILING_BYTES)
    total = sum(info.file_size for info in infos)
    if total > limit:
        archive.close()
        raise UnreadableDocument(
            f"{path} looks like a zip bomb: it would expand to {_size(total)}, over the "
            f"{_size(limit)} allowed; if it is genuine, split it into smaller files"
        )
    return archive
