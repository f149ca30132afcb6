"""CSV and XLSX record sets: one Record per row, with an id, a text and the other fields.

Accident sets arrive with different column names (``summary``, ``narrative``, ``abstract``,
``事故经过``), so the id and text columns are guessed by name and content unless the caller
names them. The id must be unique because it becomes the record's source (``file#id``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.errors import (
    IngestError,
    NoExtractableText,
    NoTextColumn,
    UnreadableDocument,
    UnsupportedFormat,
)
from ingest.loaders.guards import open_zip
from ingest.loaders.text import decode_bytes
from ingest.models import LoadedDocument, Record

_ID_NAMES = ("id", "record_id", "case_id", "编号")
_TEXT_WORDS = (
    "summary",
    "narrative",
    "abstract",
    "description",
    "text",
    "content",
    "描述",
    "经过",
    "内容",
)
_TITLE_NAMES = frozenset({"title", "event_description", "标题", "事故名称"})
#: a column guessed by content alone must average this many characters to count as text
_MIN_FREE_TEXT = 40
#: a named text column (summary, narrative …) must average at least this many characters
_MIN_NAMED_TEXT = 10
#: Excel's own column limit; a wider header is not a record set (or a mis-detected delimiter)
MAX_COLUMNS = 16384
#: cells an XLSX may yield beyond one per byte of its unpacked XML: openpyxl pads every row to
#: its last cell and yields every missing row, so a tiny sheet with a cell at XFD1048576 or
#: a row numbered 10^12 would otherwise be billions of empty cells
_PADDING_CELLS = 1_000_000


def load_csv(
    path: Path, data: bytes, *, id_column: str | None = None, text_column: str | None = None
) -> LoadedDocument:
    """Load a .csv file (any delimiter the csv sniffer recognises; encodings as for text)."""
    text, encoding = decode_bytes(data, path)
    csv.field_size_limit(64 * 1024 * 1024)
    try:
        rows = [
            row
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
            if any(c.strip() for c in row)
        ]
    except csv.Error as exc:
        raise UnreadableDocument(
            f"{path} is not well-formed CSV ({exc}): check its quoting, or re-export it as CSV"
        ) from exc
    records = _records(path, rows, id_column, text_column)
    return LoadedDocument(path=path, format="csv", records=records, encoding=encoding)


def _delimiter(text: str) -> str:
    """The delimiter of the header row: the commonest of , ; tab | (csv.Sniffer guesses
    quoting too, and gets it wrong on narratives full of quotes)."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in ",;\t|"}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def load_xlsx(
    path: Path,
    data: bytes,
    *,
    max_bytes: int,
    id_column: str | None = None,
    text_column: str | None = None,
) -> LoadedDocument:
    """Load the first non-empty sheet of a .xlsx workbook (read-only, cached values)."""
    import openpyxl  # 0.3 s to import, and most corpora have no XLSX

    with open_zip(path, data, max_bytes, "XLSX") as archive:
        names = set(archive.namelist())
        unpacked = sum(info.file_size for info in archive.infolist())
    if "xl/workbook.xml" not in names:
        raise UnsupportedFormat(
            f"{path} is a zip file but not an Excel workbook (no xl/workbook.xml): "
            "give it its real extension, or re-save it from Excel as .xlsx"
        )
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on damaged parts
        raise UnreadableDocument(
            f"{path} is a damaged workbook ({type(exc).__name__}: {exc}): "
            "open and re-save it in Excel or LibreOffice, then ingest it again"
        ) from exc
    budget = unpacked + _PADDING_CELLS
    try:
        rows: list[list[str]] = []
        for sheet in workbook.worksheets:
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # a stated <dimension> can be anything; read the cells
            rows = []
            for values in sheet.iter_rows(values_only=True):
                budget -= max(1, len(values))
                if budget < 0:
                    raise UnreadableDocument(
                        f"{path} spreads a few cells over millions of empty rows or columns "
                        "(e.g. a cell at XFD1048576), more than a workbook of its size holds: "
                        "re-save it in Excel or LibreOffice (or export the sheet as CSV) and "
                        "ingest that"
                    )
                cells = [_cell(v) for v in values]
                if any(cells):
                    rows.append(cells)
            if len(rows) >= 2:
                break
    except IngestError:
        raise
    except Exception as exc:  # damaged sheet XML is only read here, row by row
        raise UnreadableDocument(
            f"{path} is a damaged workbook ({type(exc).__name__}: {exc}): "
            "open and re-save it in Excel or LibreOffice, then ingest it again"
        ) from exc
    finally:
        workbook.close()
    records = _records(path, rows, id_column, text_column)
    return LoadedDocument(path=path, format="xlsx", records=records)


def _cell(value: Any) -> str:
    """A cell as text: integral floats without '.0', dates without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value).strip()


def _header(raw: list[str]) -> list[str]:
    """Column names, stripped, with blanks and duplicates given unique names (in linear
    time: a header of 100,000 copies of one name must not take 100,000² steps)."""
    names: list[str] = []
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    for i, name in enumerate(raw, start=1):
        name = name.strip().lstrip("\ufeff") or f"column_{i}"
        base, n = name, next_suffix.get(name, 2)
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        next_suffix[base] = n
        names.append(name)
        taken.add(name)
    return names


def _records(
    path: Path, rows: list[list[str]], id_column: str | None, text_column: str | None
) -> list[Record]:
    if not rows:
        raise NoExtractableText(f"{path} has no rows: there is nothing to ingest")
    header = _header(rows[0])
    width = len(header)
    if width > MAX_COLUMNS:
        raise UnreadableDocument(
            f"{path} has {width} columns, more than the {MAX_COLUMNS} a spreadsheet holds: it "
            "is not a table of records (or its delimiter was mis-detected); re-export it as "
            "CSV with one record per row"
        )
    # rows keep their own length (missing cells read as empty): padding every row to the
    # header's width would let a wide header over many one-field rows fill memory; a row
    # with nothing under the header (only cells past its last column) is a blank row
    table = [
        cells for cells in ([c.strip() for c in row[:width]] for row in rows[1:]) if any(cells)
    ]
    if not table:
        raise NoExtractableText(
            f"{path} has a header row but no data rows: there is nothing to ingest"
        )
    columns = _Columns(header, table)
    text_col = (
        _pick_column(path, header, text_column, "text_column")
        if text_column
        else _guess_text(path, header, columns)
    )
    id_col = (
        _pick_column(path, header, id_column, "id_column")
        if id_column
        else _guess_id(header, columns, text_col)
    )
    title_col = next((h for h in header if h.lower() in _TITLE_NAMES and h != text_col), None)
    ids = _unique_ids(columns[id_col] if id_col else [str(n) for n in range(1, len(table) + 1)])

    text_at = header.index(text_col)
    title_at = header.index(title_col) if title_col else None
    skip = {text_col, id_col, title_col}
    records = []
    for n, row in enumerate(table):
        text = _at(row, text_at)
        if not text:
            continue
        fields = {header[i]: v for i, v in enumerate(row) if v and header[i] not in skip}
        title = (_at(row, title_at) or None) if title_at is not None else None
        records.append(Record(id=ids[n], text=text, fields=fields, title=title))
    if not records:
        raise NoExtractableText(
            f"{path} has no rows with text in its text column '{text_col}': "
            "fill it in, or name another column with text_column"
        )
    return records


def _at(row: list[str], i: int) -> str:
    return row[i] if i < len(row) else ""


class _Columns:
    """The table's columns, built only when asked for; average lengths from one pass."""

    def __init__(self, header: list[str], table: list[list[str]]) -> None:
        self._index = {name: i for i, name in enumerate(header)}
        self._table = table
        totals = [0] * len(header)
        for row in table:
            for i, value in enumerate(row):
                totals[i] += len(value)
        self.averages = {name: totals[i] / len(table) for name, i in self._index.items()}

    def values(self, name: str) -> Iterator[str]:
        i = self._index[name]
        return (_at(row, i) for row in self._table)

    def __getitem__(self, name: str) -> list[str]:
        return list(self.values(name))


def _pick_column(path: Path, header: list[str], wanted: str, what: str) -> str:
    """The header name matching ``wanted`` (case-insensitively)."""
    for name in header:
        if name == wanted or name.lower() == wanted.strip().lower():
            return name
    listing = ", ".join(header)
    if what == "text_column":
        raise NoTextColumn(
            f"{path} has no column '{wanted}': its columns are {listing}; name one of them"
        )
    raise IngestError(
        f"{path} has no id column '{wanted}': its columns are {listing}; name one of them"
    )


def _guess_text(path: Path, header: list[str], columns: _Columns) -> str:
    average = columns.averages
    named = [h for h in header if any(w in h.lower() for w in _TEXT_WORDS)]
    named = [h for h in named if average[h] >= _MIN_NAMED_TEXT]
    if named:
        return max(named, key=lambda h: average[h])
    best = max(header, key=lambda h: average[h])
    if average[best] >= _MIN_FREE_TEXT and not _numeric(columns[best]):
        return best
    raise NoTextColumn(
        f"{path}: no text column found: columns are {', '.join(header)}; name one with "
        "text_column=<column> (or the manifest's text_column), or call the column with the "
        "record's text 'summary', 'narrative', 'description' or 'text'"
    )


_ID_LIKE = re.compile(r"(^|_)id$|^编号$", re.IGNORECASE)


def _guess_id(header: list[str], columns: _Columns, text_col: str) -> str | None:
    """A unique, never-empty column named like an id; else the first column if unique."""
    ordered = [h for h in header if h.lower() in _ID_NAMES]
    listed = set(ordered)
    ordered += [h for h in header if _ID_LIKE.search(h) and h not in listed]
    if header[0] not in ordered:
        ordered.append(header[0])
    for name in ordered:
        if name != text_col and _filled_and_unique(columns.values(name)):
            return name
    return None


def _filled_and_unique(values: Iterator[str]) -> bool:
    """Stops at the first blank or repeat, so rejecting a column costs little."""
    seen: set[str] = set()
    for value in values:
        if not value or value in seen:
            return False
        seen.add(value)
    return True


def _numeric(values: list[str]) -> bool:
    filled = [v for v in values if v]
    return bool(filled) and all(re.fullmatch(r"[-+.,\d\s%]+", v) for v in filled)


def _unique_ids(values: list[str]) -> list[str]:
    """Ids as given, with blanks replaced by the row number and repeats suffixed '-2', '-3'."""
    seen: dict[str, int] = {}
    out = []
    for n, value in enumerate(values, start=1):
        value = value or str(n)
        if value in seen:
            seen[value] += 1
            value = f"{value}-{seen[value]}"
        else:
            seen[value] = 1
        out.append(value)
    return out
