"""Markdown: headings, paragraphs, list items and table rows as Blocks.

A small line parser rather than a Markdown library: the structure (``#`` headings, blank-line
paragraphs, one list item per paragraph) is all the chunker needs, and the text must stay as
written (``第一条 …``, ``(a)(1) …``), not be re-rendered.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.errors import NoExtractableText
from ingest.loaders.text import decode_bytes, join_lines
from ingest.models import Block, LoadedDocument

_FRONT_MATTER = re.compile(r"\A---\n.*?\n(?:---|\.\.\.)\n", re.DOTALL)
# the patterns avoid nested quantifiers over the same characters (a lazy ``.*?`` before
# ``[ \t]*$``, a ``[^\]]+`` that can restart at every ``[``): on a hostile line those take
# quadratic time (a 100 KB heading line of spaces took minutes)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s{0,8}(?:[-*+]|(\d{1,9}[.)]))\s+(.*)$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?")

_IMAGE = re.compile(r"!\[([^\[\]]*)\]\([^()]*\)")
_LINK = re.compile(r"\[([^\[\]]+)\]\([^()]*\)")
_STRONG_STARS = re.compile(r"\*\*(?=[^*\s])([^*]*[^*\s])\*\*")
_STRONG_UNDERSCORES = re.compile(r"__(?=[^_\s])([^_]*[^_\s])__")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _STRONG_STARS.sub(r"\1", text)
    text = _STRONG_UNDERSCORES.sub(r"\1", text)
    return _CODE.sub(r"\1", text).strip()


def _heading_text(raw: str) -> str:
    """An ATX heading's text without its optional closing ``#`` sequence."""
    text = raw.rstrip(" \t")
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):
        text = bare.rstrip(" \t")
    return text


def _strip_comments(text: str) -> str:
    """Drop ``<!-- … -->`` comments (an unclosed one is kept as text), in linear time."""
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("<!--", pos)
        end = text.find("-->", start + 4) if start >= 0 else -1
        if end < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        pos = end + 3


def markdown_blocks(text: str) -> list[Block]:
    """Parse Markdown text into Blocks (no pages)."""
    text = _FRONT_MATTER.sub("", text)
    text = _strip_comments(text)
    blocks: list[Block] = []
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            para = _inline(join_lines(buffer))
            if para:
                blocks.append(Block(text=para))
            buffer.clear()

    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = _QUOTE.sub("", lines[i])
        i += 1
        fence = _FENCE.match(line)
        if fence:
            flush()
            code: list[str] = []
            while i < len(lines) and not lines[i].lstrip().startswith(fence.group(1)):
                code.append(lines[i])
                i += 1
            i += 1
            body = "\n".join(code).strip("\n")
            if body.strip():
                blocks.append(Block(text=body))
            continue
        if not line.strip():
            flush()
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            title = _inline(_heading_text(atx.group(2) or ""))
            if title:
                blocks.append(Block(text=title, kind="heading", level=len(atx.group(1))))
            continue
        setext = _SETEXT.match(line)
        if setext and buffer:
            title = _inline(join_lines(buffer))
            buffer.clear()
            level = 1 if setext.group(1).startswith("=") else 2
            blocks.append(Block(text=title, kind="heading", level=level))
            continue
        if _THEMATIC.match(line):
            flush()
            continue
        if _TABLE_ROW.match(line):
            flush()
            if not _TABLE_RULE.match(line):
                cells = [_inline(c) for c in line.strip().strip("|").split("|")]
                row = " | ".join(c for c in cells if c)
                if row:
                    blocks.append(Block(text=row, kind="table_row"))
            continue
        item = _LIST_ITEM.match(line)
        if item:
            flush()
            number = item.group(1)
            buffer.append(f"{number} {item.group(2)}" if number else item.group(2))
            continue
        buffer.append(line)
    flush()
    return blocks


def load_markdown(path: Path, data: bytes) -> LoadedDocument:
    """Load a .md/.markdown file; the title is the first ``# `` heading."""
    text, encoding = decode_bytes(data, path)
    blocks = markdown_blocks(text)
    if not blocks:
        raise NoExtractableText(f"{path} has no text outside comments: there is nothing to ingest")
    title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), None)
    return LoadedDocument(
        path=path, format="markdown", blocks=blocks, title=title, encoding=encoding
    )
