"""Plain text: decoding, paragraph splitting and a conservative heading guess.

Decoding is shared by every text-based format (Markdown, CSV, HTML without a declared charset):
Chinese safety documents still circulate as GBK, and Windows tools write UTF-16 with a BOM, so
UTF-8 alone is not enough, while a blind charset detector mislabels short Chinese files.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from charset_normalizer import from_bytes

from ingest.errors import NoExtractableText, UnreadableDocument, UnsupportedFormat
from ingest.loaders.guards import looks_binary, sniff
from ingest.models import Block, BlockKind, LoadedDocument

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_bytes(data: bytes, path: Path) -> tuple[str, str]:
    """Decode text, returning (text, encoding name); newlines come back as ``\\n``.

    Order: a byte-order mark; UTF-16 without BOM (every other byte NUL); UTF-8, strictly;
    GB18030 (a superset of GBK and GB2312), strictly, when the result is mostly CJK/ASCII;
    then charset-normalizer. Binary data fails rather than decoding to mojibake.
    """
    if sniff(data, at_start=True):
        raise _binary_error(data, path)
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return _newlines(data[len(bom) :].decode(name)), name
            except UnicodeDecodeError as exc:
                raise UnreadableDocument(
                    f"{path} starts with a {name} byte-order mark but is not valid {name} "
                    f"({exc.reason} at byte {exc.start}): re-save it as UTF-8"
                ) from exc
    utf16 = _utf16_without_bom(data)
    if utf16:
        try:
            return _newlines(data.decode(utf16)), utf16
        except UnicodeDecodeError:
            pass
    if looks_binary(data):
        raise _binary_error(data, path)
    try:
        return _newlines(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if text and _mostly_cjk_or_ascii(text):
        return _newlines(text), "gb18030"
    best = from_bytes(data[: 1024 * 1024]).best()
    if best is not None and best.encoding:
        try:
            text = data.decode(best.encoding)
        except (UnicodeDecodeError, LookupError):
            text = ""
        if text and _printable_share(text) > 0.97:
            return _newlines(text), best.encoding
    raise UnreadableDocument(
        f"{path} could not be decoded as text (tried UTF-8, UTF-16, GB18030 and detection): "
        "save it as UTF-8 and ingest it again"
    )


def _binary_error(data: bytes, path: Path) -> Exception:
    found = sniff(data)
    if found:
        what, ext = found
        hint = f"give it the {ext} extension" if ext else "convert it to a supported format"
        return UnsupportedFormat(f"{path} is named as text but is {what}: {hint}")
    return UnreadableDocument(
        f"{path} contains binary data, not text: if it is a document in another format, "
        "give it that format's extension (or convert it to text) and ingest it again"
    )


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def _utf16_without_bom(data: bytes) -> str | None:
    """Spot UTF-16 text without a BOM by its NUL bytes (mostly-ASCII text only)."""
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 4 or b"\x00" not in sample:
        return None
    even = sum(1 for i in range(0, pairs * 2, 2) if sample[i] == 0)
    odd = sum(1 for i in range(1, pairs * 2, 2) if sample[i] == 0)
    if odd > 0.4 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.4 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def is_cjk(ch: str) -> bool:
    """CJK ideographs, CJK punctuation, kana, Hangul and full-width forms."""
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFE30 <= code <= 0xFE4F
        or 0xFF00 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x2FA1F
    )


def _mostly_cjk_or_ascii(text: str) -> bool:
    """Whether a GB18030 decoding looks like Chinese: only CJK and ASCII, and enough CJK.

    Latin-1 text often decodes as GB18030 too (an accented letter and the letter after it
    make one ideograph), but then the ideographs are a sprinkle among ASCII letters.
    """
    sample = text[:200_000]
    cjk = sum(1 for ch in sample if is_cjk(ch))
    ascii_ok = sum(1 for ch in sample if ch.isascii() and (ch.isprintable() or ch in "\t\n\r"))
    visible = sum(1 for ch in sample if not ch.isspace())
    return cjk + ascii_ok >= 0.95 * len(sample) and cjk >= 0.2 * visible


def _printable_share(text: str) -> float:
    sample = text[:200_000]
    if not sample:
        return 0.0
    good = sum(1 for ch in sample if ch.isprintable() or ch in "\t\n\r")
    return good / len(sample)


_CLOSING = set(".,;:!?)]}%\u201d\u2019") | set("。，、；：！？）」』】》〉")
_OPENING = set("([{\u201c\u2018") | set("（「『【《〈")


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines of one paragraph: a space between words, none between CJK
    characters, none before closing or after opening punctuation, none after a soft hyphen.

    A hyphen at a line end is kept and the words are joined without a space ("low-" +
    "sloped" is "low-sloped", "1,2-" + "Dichloroethylene"): browsers and office suites break
    lines only at real hyphens, so dropping it would corrupt compound words and codes.
    """
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
        elif out[-1] == "\u00ad":
            out = out[:-1] + line
        elif _joins_tight(out, line):
            out += line
        else:
            out += " " + line
    return out


def _joins_tight(before: str, after: str) -> bool:
    last, first = before[-1], after[0]
    if last == "-":
        # a suspended hyphen ("natural- and synthetic") keeps its space
        return (
            len(before) > 1
            and before[-2].isalnum()
            and first.isalnum()
            and after.split(" ", 1)[0] not in ("and", "or", "to", "nor")
        )
    return (is_cjk(last) and is_cjk(first)) or first in _CLOSING or last in _OPENING


# "\n" written out as two characters, at a line end or next to Chinese text (CN coal files)
_LITERAL_NEWLINE = re.compile(
    r"\\n(?=[ \t\u3000]*(?:\n|$))|(?<=[\u2e80-\u9fff\uff00-\uffef])\\n|\\n(?=[\u2e80-\u9fff\uff00-\uffef])"
)
_TERMINAL = tuple(".;:!?\"')”’。；：！？）」』")


def literal_newlines_to_real(text: str) -> str:
    """Turn literal backslash-n markers into line breaks; leave code-like ``\\n`` alone."""
    if "\\n" not in text:
        return text
    out: list[str] = []
    for line in text.split("\n"):
        out.append(_LITERAL_NEWLINE.sub("\n", line).rstrip("\n"))
    return "\n".join(out)


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs: blank-line separated, or one per line when lines are paragraphs.

    A file with no blank lines has one paragraph per line. A file with blank lines is split on
    them and the lines in between are joined, unless most lines already end a sentence (the CN
    coal files: one paragraph per line with a stray blank line here and there).
    """
    lines = [line.strip() for line in text.split("\n")]
    groups: list[list[str]] = [[]]
    for line in lines:
        if line:
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    groups = [g for g in groups if g]
    if not groups:
        return []
    inner = [line for g in groups for line in g[:-1]]
    one_per_line = len(groups) == 1 or (
        bool(inner) and sum(line.endswith(_TERMINAL) for line in inner) >= 0.6 * len(inner)
    )
    if one_per_line:
        return [line for g in groups for line in g]
    return [join_lines(g) for g in groups]


_CN_HEADING = re.compile(r"^第[一二三四五六七八九十百千零〇两\d]+([编章节])")
_EN_NUMBERED = re.compile(
    r"^(chapter|part|subpart|appendix|annex)\s+[\dIVXLC]+[A-Z]?\b", re.IGNORECASE
)
_MINOR_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "nor",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "by",
        "with",
        "at",
        "from",
        "as",
        "per",
        "via",
        "into",
        "onto",
        "under",
        "over",
        "vs",
        "versus",
        "than",
        "its",
        "their",
        "his",
        "her",
        "is",
        "are",
        "be",
        "not",
    ]
)
_WORD = re.compile(r"[^\W\d_][\w'’&/-]*")


def heading_level(text: str, *, has_next: bool) -> int:
    """Guess whether a one-line paragraph of plain text is a heading; 0 when it is not.

    Conservative: 第X编/章/节, "Chapter 3"-style lines, short ALL-CAPS lines, and short
    Title-Case lines with body text after them. Articles (第X条) are the chunker's business.
    """
    if len(text) > 100 or "\n" in text:
        return 0
    cn = _CN_HEADING.match(text)
    if cn:
        if len(text) > 40 or any(p in text for p in "。，；："):
            return 0
        return {"编": 1, "章": 2, "节": 3}[cn.group(1)]
    if _EN_NUMBERED.match(text) and len(text) <= 80 and not text.rstrip(".").count(". "):
        return 1
    if not has_next or text.endswith((",", ";", ":")) or not text[0].isalpha():
        return 0
    body = text[:-1] if text.endswith(".") else text
    if any(p in body for p in ".;:!?") or len(body) > 80:
        return 0
    words = _WORD.findall(body)
    if not words or len(words) > 12 or not words[0][0].isupper():
        return 0
    if body.upper() == body and sum(ch.isalpha() for ch in body) >= 4:
        return 1
    significant = [w for w in words[1:] if w.lower() not in _MINOR_WORDS]
    capitalised = [w for w in significant if w[0].isupper()]
    if significant:
        return 2 if len(capitalised) >= 0.8 * len(significant) else 0
    return 2 if len(words) == 1 and len(body) >= 4 else 0


def text_blocks(paragraphs: list[str]) -> list[Block]:
    """Blocks from paragraphs, marking likely headings (trailing outline '.' dropped)."""
    blocks: list[Block] = []
    for i, para in enumerate(paragraphs):
        level = heading_level(para, has_next=i + 1 < len(paragraphs))
        kind: BlockKind = "heading" if level else "paragraph"
        text = para[:-1].rstrip() if level and para.endswith(".") else para
        blocks.append(Block(text=text, kind=kind, level=level))
    return blocks


def guess_title(blocks: list[Block]) -> str | None:
    """The first line when it reads like a title (short, no sentence punctuation)."""
    if not blocks:
        return None
    first = blocks[0].text
    if len(first) > 80 or _CN_HEADING.match(first) or first.endswith(tuple("。，；：,;:")):
        return None
    return first


def load_text(path: Path, data: bytes) -> LoadedDocument:
    """Load a .txt file: decode, split paragraphs, mark headings."""
    text, encoding = decode_bytes(data, path)
    paragraphs = split_paragraphs(literal_newlines_to_real(text))
    if not paragraphs:
        raise NoExtractableText(f"{path} contains only whitespace: there is nothing to ingest")
    blocks = text_blocks(paragraphs)
    return LoadedDocument(
        path=path, format="text", blocks=blocks, title=guess_title(blocks), encoding=encoding
    )
