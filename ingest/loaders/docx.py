"""DOCX: paragraphs, headings by style, and table rows, in document order.

python-docx lists ``document.paragraphs`` and ``document.tables`` separately, which would move
every table to the end; the body's children are walked instead (``iter_inner_content``) so a
table stays between the paragraphs around it. Page headers and footers are not body content
and are left out.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from ingest.errors import NoExtractableText, UnreadableDocument, UnsupportedFormat
from ingest.loaders.guards import open_zip
from ingest.models import Block, LoadedDocument

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def load_docx(path: Path, data: bytes, *, max_bytes: int) -> LoadedDocument:
    """Load a .docx file (after the zip-bomb check)."""
    import docx  # python-docx: 0.2 s to import, and most corpora have no DOCX
    from docx.table import Table

    with open_zip(path, data, max_bytes, "DOCX") as archive:
        names = set(archive.namelist())
    if "word/document.xml" not in names:
        raise UnsupportedFormat(
            f"{path} is a zip file but not a Word document (no word/document.xml): "
            "give it its real extension, or re-save it from Word as .docx"
        )
    try:
        document = docx.Document(io.BytesIO(data))
        blocks, title = _body(document, Table)
    except Exception as exc:  # python-docx/lxml raise many types on damaged parts, and read
        # some parts (styles, properties) only when asked, so the whole walk is guarded
        raise UnreadableDocument(
            f"{path} is a damaged Word document ({type(exc).__name__}: {exc}): "
            "open and re-save it in Word or LibreOffice, then ingest it again"
        ) from exc
    if not blocks:
        raise NoExtractableText(f"{path} has no text in its body: there is nothing to ingest")
    if title is None:
        title = _property_title(document)
    return LoadedDocument(path=path, format="docx", blocks=blocks, title=title)


def _body(document: Any, table_type: type) -> tuple[list[Block], str | None]:
    """Blocks of the body in document order, and the title its headings give."""
    blocks: list[Block] = []
    title: str | None = None
    for item in document.iter_inner_content():
        if isinstance(item, table_type):
            blocks.extend(_table_rows(item))
            continue
        text = item.text.strip()
        if not text:
            continue
        level = _heading_level(item)
        if level:
            blocks.append(Block(text=text, kind="heading", level=level))
            if title is None and (level == 1 or _style_name(item) == "title"):
                title = text
        else:
            blocks.append(Block(text=text))
    return blocks, title


def _property_title(document: Any) -> str | None:
    """The title in the document's properties; a damaged properties part just has none."""
    try:
        return (document.core_properties.title or "").strip() or None
    except Exception:
        return None


def _style_name(paragraph: Any) -> str:
    style = paragraph.style
    return (style.name or "").strip().lower() if style is not None else ""


def _heading_level(paragraph: Any) -> int:
    """Level from the style: 'Title' is 1, 'Heading N' is N (capped at 6), others 0."""
    name = _style_name(paragraph)
    if name == "title":
        return 1
    match = _HEADING_STYLE.match(name)
    return min(int(match.group(1)), 6) if match else 0


def _table_rows(table: Any) -> list[Block]:
    """One table_row Block per row, cells joined by ' | ' (merged cells counted once)."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if len(cells) > 1:
            rows.append(Block(text=" | ".join(cells), kind="table_row"))
        elif cells:
            rows.append(Block(text=cells[0]))
    return rows
