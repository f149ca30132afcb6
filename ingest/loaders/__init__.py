"""Loaders: one file in, one :class:`~ingest.models.LoadedDocument` out.

``load(path)`` picks the loader by extension, after :mod:`ingest.loaders.guards` has checked
that the file is a readable regular file under the size limit. Each format has its own module
(pdf, html, markdown, text, docx, records); they sniff the content too, so a file whose name
lies about its format fails with a message saying what it really is. Every failure is an
:class:`~ingest.errors.IngestError` subclass whose message says what to do next.

The ingest pipeline calls ``load`` through :mod:`ingest.loaders.sandbox`, in a child process
under a time limit and a memory ceiling (settings ``parse_timeout_s``, ``parse_max_memory_mb``;
``parse_isolation=false`` loads in-process). The loaders themselves stay linear in their input
(no recursion over nesting depth, no backtracking regular expressions, no padding of sparse
tables) and refuse zip and XML bombs, so the limits are a backstop, not the first defence.
"""

from __future__ import annotations

from pathlib import Path

from ingest.errors import UnsupportedFormat
from ingest.loaders.docx import load_docx
from ingest.loaders.guards import read_checked
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import load_pdf
from ingest.loaders.records import load_csv, load_xlsx
from ingest.loaders.text import load_text
from ingest.models import LoadedDocument

__all__ = ["SUPPORTED_EXTENSIONS", "load"]

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".pdf", ".html", ".htm", ".md", ".markdown", ".txt", ".docx", ".csv", ".xlsx"}
)

DEFAULT_MAX_BYTES = 100 * 1024 * 1024


def load(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    id_column: str | None = None,
    text_column: str | None = None,
) -> LoadedDocument:
    """Load one file. ``id_column``/``text_column`` name the columns of a CSV/XLSX record set
    (otherwise they are guessed); other formats ignore them.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        shown = f"'{ext}'" if ext else "no extension"
        raise UnsupportedFormat(
            f"{path} has {shown}, which Anquan cannot read: supported are "
            f"{', '.join(sorted(SUPPORTED_EXTENSIONS))}; convert it to one of them (e.g. PDF, "
            "DOCX or UTF-8 text) or leave it out"
        )
    data = read_checked(path, max_bytes)
    if ext == ".pdf":
        return load_pdf(path, data)
    if ext in (".html", ".htm"):
        return load_html(path, data)
    if ext in (".md", ".markdown"):
        return load_markdown(path, data)
    if ext == ".txt":
        return load_text(path, data)
    if ext == ".docx":
        return load_docx(path, data, max_bytes=max_bytes)
    if ext == ".csv":
        return load_csv(path, data, id_column=id_column, text_column=text_column)
    return load_xlsx(path, data, max_bytes=max_bytes, id_column=id_column, text_column=text_column)
