"""HTML: the page's own text as Blocks, without its navigation, scripts and furniture.

Web pages carry menus, breadcrumbs, cookie banners and footers on every page; indexed, they
match every query about "safety" and crowd out the regulation text. They are removed by tag
(nav, header, footer, aside, ...) and by class/id/role words (nav, menu, breadcrumb, cookie,
footer) before the remaining tree is walked in document order.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from bs4 import BeautifulSoup, Tag
from bs4.element import (
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    PageElement,
    ProcessingInstruction,
)

from ingest.errors import NoExtractableText
from ingest.loaders.text import decode_bytes
from ingest.models import Block, LoadedDocument

_DROP_TAGS = frozenset(
    {
        "script", "style", "nav", "aside", "noscript", "form", "template", "iframe",
        "svg", "canvas", "button", "select", "textarea", "head", "object", "embed",
    }
)  # fmt: skip
#: page-level header/footer; inside <article>/<main> they belong to the content
_PAGE_FURNITURE = frozenset({"header", "footer"})
_NAV_WORDS = ("nav", "menu", "breadcrumb", "cookie", "footer", "skip-link", "skiplink")
_NAV_ROLES = frozenset({"navigation", "menu", "menubar", "banner", "contentinfo", "search"})
_KEEP_ALWAYS = frozenset({"html", "body", "main", "article"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "section", "article",
        "main", "body", "html", "figure", "figcaption", "address", "details", "summary",
        "center", "hr", "header", "footer", "caption", "fieldset", "legend", "tr", "td",
        "th", "tbody", "thead", "tfoot",
    }
)  # fmt: skip
_SKIP_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)

_DECLARED = re.compile(
    rb"""(?:<meta[^>]*?charset|<\?xml[^>]*?encoding)\s*=\s*["']?\s*([\w.:-]+)""", re.I
)
#: what browsers actually do with these labels (WHATWG Encoding Standard)
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
}  # fmt: skip


def decode_html(data: bytes, path: Path) -> tuple[str, str]:
    """Decode with the charset the page declares (BOM first), else detect it."""
    declared = _DECLARED.search(data[:4096])
    if declared and not data.startswith(
        (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    ):
        label = declared.group(1).decode("ascii", "ignore").lower()
        name = _ALIASES.get(label, label)
        try:
            codecs.lookup(name)
            return data.decode(name).replace("\r\n", "\n"), name
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common; fall back to detection
    return decode_bytes(data, path)


def _is_navigation(tag: Tag, in_content: bool) -> bool:
    """``in_content``: whether ``tag`` is inside an ``<article>`` or ``<main>``."""
    if tag.name in _KEEP_ALWAYS:
        return False
    if tag.name in _DROP_TAGS:
        return True
    if tag.name in _PAGE_FURNITURE and not in_content:
        return True
    attrs = tag.attrs or {}
    if str(attrs.get("role", "")).lower() in _NAV_ROLES:
        return True
    words: list[str] = []
    for name in ("class", "id"):
        value = attrs.get(name)
        if value:
            words.extend(value if isinstance(value, list) else str(value).split())
    for word in words:
        for part in re.split(r"[-_\s]+", word.lower()):
            if part.startswith(_NAV_WORDS):
                return True
    return False


def _text(node: Tag) -> str:
    return " ".join(node.get_text(" ").split())


def _drop_navigation(soup: BeautifulSoup) -> None:
    """Remove navigation subtrees, top down, with a stack rather than recursion: a page of
    100,000 nested ``<div>`` s must not exhaust Python's recursion limit (nor, as a loop over
    ``find_all`` asking each tag whether it was decomposed would, take quadratic time)."""
    stack: list[tuple[Tag, bool]] = [(soup, False)]
    while stack:
        node, in_content = stack.pop()
        for child in list(node.children):
            if not isinstance(child, Tag):
                continue
            if _is_navigation(child, in_content):
                child.decompose()
            else:
                stack.append((child, in_content or child.name in ("article", "main")))


class _Walker:
    """Walks the cleaned tree, gathering inline text into paragraphs (with a stack of
    frames, not recursion, for the same reason as :func:`_drop_navigation`)."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []

    def flush(self, buffer: list[str]) -> None:
        text = " ".join("".join(buffer).split())
        if text:
            self.blocks.append(Block(text=text))
        buffer.clear()

    def walk(self, root: Tag) -> None:
        # a frame: the children still to visit, the paragraph buffer they add to, and
        # whether the buffer is the frame's own (a block tag's), flushed when it ends
        stack: list[tuple[Iterator[PageElement], list[str], bool]] = [
            (iter(root.children), [], True)
        ]
        while stack:
            children, buffer, own = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if own:
                    self.flush(buffer)
                continue
            if isinstance(child, NavigableString):
                if not isinstance(child, _SKIP_STRINGS):
                    buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _HEADINGS:
                self.flush(buffer)
                text = _text(child)
                if text:
                    self.blocks.append(Block(text=text, kind="heading", level=_HEADINGS[name]))
            elif name == "table":
                self.flush(buffer)
                self.table(child)
            elif name == "pre":
                self.flush(buffer)
                text = child.get_text().strip("\n")
                if text.strip():
                    self.blocks.append(Block(text=text))
            elif name == "br":
                buffer.append(" ")
            elif name in _BLOCK_TAGS:
                self.flush(buffer)
                stack.append((iter(child.children), [], True))
            else:
                stack.append((iter(child.children), buffer, False))

    def table(self, table: Tag) -> None:
        caption = table.find("caption")
        if caption is not None and _text(caption):
            self.blocks.append(Block(text=_text(caption)))
        for row in _rows(table):  # a nested table's rows come out as its cell's text
            cells = [_text(cell) for cell in row.find_all(("td", "th"), recursive=False)]
            cells = [c for c in cells if c]
            if len(cells) > 1:
                self.blocks.append(Block(text=" | ".join(cells), kind="table_row"))
            elif cells:
                self.blocks.append(Block(text=cells[0]))


def _rows(table: Tag) -> Iterator[Tag]:
    """The table's own rows (direct, or in its thead/tbody/tfoot), not nested tables' rows."""
    for child in table.children:
        if not isinstance(child, Tag):
            continue
        if child.name == "tr":
            yield child
        elif child.name in ("thead", "tbody", "tfoot"):
            yield from (row for row in child.children if isinstance(row, Tag) and row.name == "tr")


def html_blocks(text: str) -> tuple[list[Block], str | None]:
    """Blocks and title (``<title>``, else the first ``h1``) of an HTML page."""
    soup = BeautifulSoup(text, "lxml")
    title_tag = soup.find("title")
    title = _text(title_tag) if title_tag is not None else ""
    _drop_navigation(soup)
    walker = _Walker()
    walker.walk(soup.body or soup)
    if not title:
        title = next((b.text for b in walker.blocks if b.kind == "heading" and b.level == 1), "")
    return walker.blocks, title or None


def load_html(path: Path, data: bytes) -> LoadedDocument:
    """Load an .html/.htm page."""
    text, encoding = decode_html(data, path)
    blocks, title = html_blocks(text)
    if not blocks:
        raise NoExtractableText(
            f"{path} has no text outside navigation, scripts and page furniture: "
            "if its content is built by JavaScript, save the rendered page (or print it to PDF) "
            "and ingest that"
        )
    return LoadedDocument(path=path, format="html", blocks=blocks, title=title, encoding=encoding)
