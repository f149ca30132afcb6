"""PDF: one paragraph Block per paragraph, with its page, headings found by font.

pypdf's plain text has no paragraphs: every printed line ends in a newline, running headers
and "Page N of M" footers sit in the middle of the text, and a paragraph cut by a page break is
two pieces. So the text is collected with its position and font (pypdf's ``visitor_text``),
grouped into printed lines, and lines are grouped into paragraphs by layout:

- a line whose left edge leaves the column margin (a first-line indent, or a hanging label)
  starts a paragraph, as does a larger gap above it, a change of font size, or a short line
  before it (the last line of a justified paragraph stops short of the right margin);
- bold or larger lines are headings, levelled by size;
- lines at the top or bottom of most pages that repeat with only their digits changed are
  running headers and footers and are dropped;
- a paragraph continues over a page break when the next page's first line is not indented
  and the last line before the break ran to the right margin.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError

try:  # pypdf's decompression and parsing limits (older releases have none: the sandbox's
    from pypdf.errors import LimitReachedError  # memory ceiling is then the only bound)
except ImportError:  # pragma: no cover
    LimitReachedError = type("LimitReachedError", (Exception,), {})  # type: ignore[misc,assignment]

from ingest.errors import (
    EncryptedPDF,
    IngestError,
    NoExtractableText,
    UnreadableDocument,
    UnsupportedFormat,
)
from ingest.loaders.guards import describe
from ingest.loaders.text import join_lines
from ingest.models import Block, LoadedDocument

_BOLD_NAMES = ("bold", "black", "heavy", "semibold", "demibold")


@dataclass
class _Fragment:
    x: float
    y: float
    size: float
    bold: bool
    text: str
    end: float | None = None  # x where the text ended, when pypdf reported it


@dataclass
class _Line:
    x0: float
    y: float
    size: float
    bold: bool
    text: str


@dataclass
class _Paragraph:
    page: int
    heading: bool
    style: tuple[float, bool]
    lines: list[_Line] = field(default_factory=list)


def load_pdf(path: Path, data: bytes) -> LoadedDocument:
    """Load a PDF; see the module docstring for how paragraphs are rebuilt."""
    if b"%PDF-" not in data[:1024]:
        raise UnsupportedFormat(
            f"{path} is named .pdf but is not a PDF (no %PDF header; it looks like "
            f"{describe(data)}): give it its real extension or re-export it as PDF"
        )
    if b"%%EOF" not in data.rstrip(b"\x00\r\n\t\f ")[-1024:]:
        raise UnreadableDocument(
            f"{path} is truncated (it has no %%EOF end marker): the download or copy was cut "
            "short; fetch or export it again"
        )
    with _pypdf_warnings() as warnings:
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                _decrypt(path, reader)
            pages = [_page_lines(page) for page in reader.pages]
            title = _metadata_title(reader)
        except IngestError:
            raise
        except LimitReachedError as exc:
            raise UnreadableDocument(
                f"{path} goes past pypdf's safety limits ({exc}): it may be a decompression "
                "bomb, or built to exhaust parsers; re-export it (qpdf in.pdf out.pdf) and "
                "ingest that, or leave it out"
            ) from exc
        except Exception as exc:  # pypdf raises many types on damaged files
            raise UnreadableDocument(
                f"{path} is damaged and could not be read ({type(exc).__name__}: {exc}): "
                "re-export it, or try repairing it with qpdf (qpdf in.pdf repaired.pdf)"
            ) from exc
    if not pages:
        raise UnreadableDocument(f"{path} has no pages: it is damaged; re-export it")
    if not any(pages):
        detail = f" (pypdf also reported: {warnings[0]})" if warnings else ""
        raise NoExtractableText(
            f"{path} has no extractable text: scanned? run OCR first (e.g. ocrmypdf "
            f"in.pdf out.pdf) and ingest the result{detail}"
        )
    blocks = _blocks(_drop_running_lines(pages))
    if not blocks:
        raise NoExtractableText(
            f"{path} has no extractable text apart from page headers and footers: scanned? "
            "run OCR first (e.g. ocrmypdf in.pdf out.pdf) and ingest the result"
        )
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), None)
    return LoadedDocument(path=path, format="pdf", blocks=blocks, title=title)


def _decrypt(path: Path, reader: PdfReader) -> None:
    """Open a PDF encrypted with an empty user password (common: 'no printing' PDFs)."""
    try:
        opened = reader.decrypt("")
    except DependencyError as exc:
        raise EncryptedPDF(
            f"{path} is encrypted with AES, which needs the 'cryptography' package even to "
            "try an empty password: pip install cryptography, or remove the encryption "
            "(qpdf --decrypt in.pdf out.pdf) and ingest it again"
        ) from exc
    except (FileNotDecryptedError, NotImplementedError, ValueError) as exc:
        raise EncryptedPDF(
            f"{path} is encrypted in a way pypdf cannot open ({exc}): remove the encryption "
            "(qpdf --decrypt in.pdf out.pdf) and ingest it again"
        ) from exc
    if not opened:
        raise EncryptedPDF(
            f"{path} is password-protected: remove the password (qpdf --decrypt "
            "--password=PASSWORD in.pdf out.pdf) and ingest it again"
        )


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        meta = reader.metadata
        title = str(meta.title).strip() if meta and meta.title else ""
    except Exception:
        return None
    if not title or title.lower() in {"untitled", "title"} or title.startswith("Microsoft Word -"):
        return None
    return title


@contextmanager
def _pypdf_warnings() -> Iterator[list[str]]:
    """Collect pypdf's logged warnings (it logs, rather than raises, on damaged streams)."""
    found: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record.getMessage())

    handler = _Collect(logging.WARNING)
    logger = logging.getLogger("pypdf")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def _page_lines(page: Any) -> list[_Line]:
    """The printed lines of one page, top to bottom."""
    fragments: list[_Fragment] = []
    bold_fonts: dict[int, bool] = {}

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        a = tm[0] * cm[0] + tm[1] * cm[2]
        b = tm[0] * cm[1] + tm[1] * cm[3]
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if not text.strip():
            last = fragments[-1] if fragments else None
            if last is not None and abs(last.y - y) < 0.5 and x > last.x:
                last.end = x
            return
        if abs(b) > abs(a):  # rotated text (margin notes, watermarks)
            return
        key = id(font)
        if key not in bold_fonts:
            name = str(font.get("/BaseFont", "")) if font is not None else ""
            bold_fonts[key] = any(word in name.lower() for word in _BOLD_NAMES)
        eff = abs(size) * math.hypot(c, d) or abs(size)
        for i, part in enumerate(text.split("\n")):
            if part.strip():
                fragments.append(_Fragment(x, y - i * eff * 1.2, eff, bold_fonts[key], part))

    page.extract_text(visitor_text=visit)
    return _group_lines(fragments)


def _group_lines(fragments: list[_Fragment]) -> list[_Line]:
    fragments.sort(key=lambda f: -f.y)
    rows: list[list[_Fragment]] = []
    for frag in fragments:
        if rows and abs(rows[-1][0].y - frag.y) <= 0.4 * max(frag.size, rows[-1][0].size):
            rows[-1].append(frag)
        else:
            rows.append([frag])
    lines = []
    for row in rows:
        row.sort(key=lambda f: f.x)
        text = ""
        for prev, frag in zip([None, *row[:-1]], row, strict=True):
            if prev is not None and not text.endswith(" ") and not frag.text.startswith(" "):
                prev_end = (
                    prev.end if prev.end is not None else prev.x + 0.5 * prev.size * len(prev.text)
                )
                if frag.x - prev_end > 0.2 * frag.size:
                    text += " "
            text += frag.text
        text = " ".join(text.split())
        if not text:
            continue
        main = max(row, key=lambda f: len(f.text))
        bold_chars = sum(len(f.text) for f in row if f.bold)
        lines.append(
            _Line(
                x0=row[0].x,
                y=row[0].y,
                size=round(main.size, 1),
                bold=bold_chars * 2 > sum(len(f.text) for f in row),
                text=text,
            )
        )
    return lines


_TERMINAL = (".", ":", ";", "?", "!", ")", "。", "；", "：", "？", "！", "）")
_NARROW = frozenset("fijlrtI.,;:!|'()[]{}-/`")
_WIDE = frozenset("mwMW")


def _extent(line: _Line) -> float:
    """Estimated x where the line's text ends (Times-like widths, in ems of its size)."""
    ems = 0.0
    for ch in line.text:
        if ch == " ":
            ems += 0.25
        elif ch in _NARROW:
            ems += 0.3
        elif ch in _WIDE:
            ems += 0.8
        elif ch.isupper():
            ems += 0.68
        elif ord(ch) > 0x2E80:
            ems += 1.0
        else:
            ems += 0.48
    return line.x0 + ems * line.size


_HEADING_START = re.compile(
    r"^(?:§|subpart\b|appendix\b|chapter\b|part\b|section\b|article\b|第[一二三四五六七八九十百千零〇\d]+[编章节条])",
    re.IGNORECASE,
)
_PAGE_NUMBER = re.compile(
    r"^(?:(?:page|p\.)\s*#+(?:\s*(?:of|/)\s*#+)?|[-–—\s]*#+[-–—\s]*|#+\s*/\s*#+"
    r"|第\s*#+\s*页(?:\s*[,，/]?\s*共\s*#+\s*页)?)$"
)
_EDGE_LINES = 2


def _running_key(text: str) -> str:
    return " ".join(re.sub(r"\d+", "#", text.lower()).split())


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Drop running headers/footers: edge lines repeating (digits aside) on most pages,
    and edge lines that are just a page number."""
    seen: Counter[str] = Counter()
    for lines in pages:
        edges = lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]
        seen.update({_running_key(line.text) for line in edges})
    threshold = max(2, math.ceil(0.5 * len(pages))) if len(pages) > 1 else math.inf
    out = []
    for lines in pages:
        edge_ids = {id(line) for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]}
        kept = []
        for line in lines:
            if id(line) in edge_ids:
                key = _running_key(line.text)
                if seen[key] >= threshold or _PAGE_NUMBER.match(key):
                    continue
            kept.append(line)
        out.append(kept)
    return out


@dataclass
class _Layout:
    """Measurements of the body text that paragraph decisions are made against."""

    body_size: float
    body_bold: bool
    margins: dict[float, float]
    pitches: dict[float, float]
    right: float | None  # where full lines end, estimated

    def margin(self, line: _Line) -> float:
        return self.margins.get(line.size, self.margins.get(self.body_size, line.x0))

    def off_margin(self, line: _Line) -> bool:
        return abs(line.x0 - self.margin(line)) > max(3.0, 0.3 * line.size)

    def short(self, line: _Line) -> bool:
        """Whether the line stops well short of the right margin: a paragraph's last line.

        pypdf does not report where a line ends reliably (justification spacing is lost), so
        the end is estimated from the line's start and its text set in a Times-like font.
        """
        if self.right is None:
            return False
        width = max(self.right - self.margin(line), 1.0)
        shortfall = (self.right - _extent(line)) / width
        return shortfall > 0.4 or (shortfall > 0.2 and line.text.endswith(_TERMINAL))

    def gap(self, above: _Line, below: _Line) -> bool:
        pitch = self.pitches.get(below.size, 1.25 * below.size)
        return above.y - below.y > 1.6 * pitch

    def heading(self, line: _Line) -> bool:
        if len(line.text) > 200:
            return False
        return (line.bold and not self.body_bold) or line.size >= 1.15 * self.body_size


def _measure(pages: list[list[_Line]]) -> _Layout:
    chars: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            chars[line.size] += len(line.text)
    body_size = chars.most_common(1)[0][0]
    body_chars = chars[body_size]
    bold_chars = sum(len(li.text) for ls in pages for li in ls if li.size == body_size and li.bold)
    starts: dict[float, Counter[float]] = {}
    steps: dict[float, list[float]] = {}
    ends: list[float] = []
    for lines in pages:
        for above, line in zip([None, *lines[:-1]], lines, strict=True):
            starts.setdefault(line.size, Counter())[round(line.x0 * 2) / 2] += 1
            if line.size == body_size:
                ends.append(_extent(line))
            if (
                above is not None
                and above.size == line.size
                and 0 < above.y - line.y < 3 * line.size
            ):
                steps.setdefault(line.size, []).append(above.y - line.y)
    margins = {size: counter.most_common(1)[0][0] for size, counter in starts.items()}
    pitches = {size: sorted(values)[len(values) // 2] for size, values in steps.items()}
    right = None
    if len(ends) >= 3:
        ends.sort()
        right = ends[int(0.75 * (len(ends) - 1))]
    return _Layout(
        body_size=body_size,
        body_bold=bold_chars * 2 > body_chars,
        margins=margins,
        pitches=pitches,
        right=right,
    )


def _blocks(pages: list[list[_Line]]) -> list[Block]:
    if not any(pages):
        return []
    layout = _measure(pages)
    paragraphs: list[_Paragraph] = []
    for page_no, lines in enumerate(pages, start=1):
        above: _Line | None = None
        for line in lines:
            heading = layout.heading(line)
            style = (line.size, line.bold)
            current = paragraphs[-1] if paragraphs else None
            if current is None or not _continues(layout, current, above, line, heading, style):
                paragraphs.append(_Paragraph(page=page_no, heading=heading, style=style))
            paragraphs[-1].lines.append(line)
            above = line
    levels = _heading_levels(p.style for p in paragraphs if p.heading)
    blocks = []
    for para in paragraphs:
        text = join_lines([line.text for line in para.lines])
        if para.heading:
            blocks.append(
                Block(text=text, kind="heading", level=levels[para.style], page=para.page)
            )
        else:
            blocks.append(Block(text=text, kind="paragraph", page=para.page))
    return blocks


def _continues(
    layout: _Layout,
    current: _Paragraph,
    above: _Line | None,
    line: _Line,
    heading: bool,
    style: tuple[float, bool],
) -> bool:
    """Whether ``line`` carries on ``current`` (``above`` is None at the top of a page)."""
    last = current.lines[-1]
    if heading or current.heading:
        # a wrapped heading: same style, set solid, not the start of another heading
        return (
            heading
            and current.heading
            and style == current.style
            and above is not None
            and above.y - line.y <= 1.5 * line.size
            and not _HEADING_START.match(line.text)
        )
    if abs(line.size - last.size) > 0.5 or layout.off_margin(line) or layout.short(last):
        return False
    return above is None or not layout.gap(above, line)


def _heading_levels(styles: Any) -> dict[tuple[float, bool], int]:
    ordered = sorted(set(styles), key=lambda s: (-s[0], not s[1]))
    return {style: min(i + 1, 6) for i, style in enumerate(ordered)}
