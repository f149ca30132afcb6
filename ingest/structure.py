"""Structure detection: from a loader's flat blocks to the outline that chunking packs.

Legal structure is the backbone of retrieval and citation: a chunk must start at a clause a
person can cite (``第四十一条``, ``1926.502(d)(16)``), and a chunk must never mix two clauses
that a citation would tell apart. Loaders only know paragraphs and headings, so this module
recognises, per document, one of these outlines:

- ``cn_articles``: Chinese statutes — 编/章/节 headings, 第X条 articles, 款 paragraphs, （一）项 items;
- ``cfr``: ``§ 1926.501`` sections (PDF, HTML, Markdown) or ``SEC. 5`` Act sections, with
  ``(a)(1)(i)(A)`` paragraph labels tracked as an outline;
- ``numbered``: standards with numbered clauses ``4.2.1``;
- ``headings``: documents with headings but no clause numbers (the locator is the heading text);
- ``plain``: nothing recognisable; chunking falls back to sentence-aware splitting.

The result is a list of :class:`Section` s. A section is a hard boundary (an article, a CFR
section, a heading's text): chunks never span two. Each :class:`Unit` inside is one paragraph with
the locator it starts at and the outline level it opens, which tells chunking where it may split.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ingest.clauses import CN_NUMBER, cn_to_int
from ingest.models import LoadedDocument

StructureKind = Literal["cn_articles", "cfr", "numbered", "headings", "plain"]


@dataclass
class Para:
    """A normalised paragraph or heading: one line of text, whitespace collapsed."""

    text: str
    kind: str = "paragraph"  # "heading" | "paragraph"
    level: int = 0
    page: int | None = None


@dataclass
class Unit:
    """One paragraph inside a section, with the clause it starts at."""

    text: str
    locator: str
    #: the outline depth at which this paragraph opens a new clause: 1 for (a) or a 款,
    #: 2 for (1) or a 项, …; 0 for a continuation (a definition, a note, plain prose)
    level: int = 0
    page: int | None = None


@dataclass
class Section:
    """A hard chunk boundary: an article, a CFR section, a heading's text, a preamble."""

    heading_path: str
    units: list[Unit] = field(default_factory=list)
    #: repeated at the start of continuation chunks so each still says where it belongs
    header: str = ""
    #: whether the first chunk starts with ``header`` too (CFR, headings) or already starts
    #: with it in its own text (a Chinese article starts with "第四十一条")
    header_in_first: bool = False
    #: a chunk starting with paragraphs at this locator (a CFR section's heading and intro)
    #: takes the locator of the first labelled paragraph it holds instead
    bare_locator: str = ""
    page: int | None = None


@dataclass
class Structure:
    kind: StructureKind
    sections: list[Section]


# ---------------------------------------------------------------------------------------------
# Normalising blocks into paragraphs

_WS = re.compile(r"[ \t\u3000\xa0\u2002\u2003\u2009]+")
_LITERAL_NEWLINE = re.compile(r"\\n(?=\s|$)")
_COMMENT = re.compile(r"^<!--.*-->$")
_CJK_CHAR = r"\u4e00-\u9fff"


def _clean(text: str) -> str:
    return _WS.sub(" ", text).strip()


def paragraphs(doc: LoadedDocument, language: str) -> list[Para]:
    """The document's blocks as single-line paragraphs.

    Chinese blocks are split at every line break (the coal-mine texts put one paragraph per line,
    marked with a literal ``\\n``); English blocks are joined into one line, since a line break
    inside an English paragraph is a wrap.
    """
    out: list[Para] = []
    for block in doc.blocks:
        text = _LITERAL_NEWLINE.sub("\n", block.text.replace("\r\n", "\n").replace("\r", "\n"))
        kind = "heading" if block.kind == "heading" else "paragraph"
        if kind == "heading":
            lines = [" ".join(text.split("\n"))]
        elif language == "zh":
            lines = text.split("\n")
        else:
            lines = [" ".join(line.strip() for line in text.split("\n"))]
        for line in lines:
            clean = _clean(line)
            if clean:
                out.append(Para(clean, kind, block.level if kind == "heading" else 0, block.page))
    if doc.format == "text" and language != "zh" and not any(p.kind == "heading" for p in out):
        _mark_text_headings(out)
    return out


def _mark_text_headings(paras: list[Para]) -> None:
    """Plain text has no heading markup: treat short Title-Case lines as headings.

    The OSHA Field Operations Manual, for one, writes headings as "Hazard Assessment." on a line
    of their own; sentences of body text are sentence-case, so the share of capitalised words
    separates the two.
    """
    for p in paras:
        if _looks_like_heading(p.text):
            p.kind = "heading"
            p.level = 0


def _looks_like_heading(text: str) -> bool:
    if len(text) > 100 or text[-1] in ",;:?!" or ": " in text:
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    if "http" in text or re.search(r"[.!?]\s+\S", text.rstrip(".")):
        return False
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", text)
    if not 1 <= len(words) <= 14:
        return False
    long_words = [w for w in words if len(w) >= 4]
    if not long_words:
        return False
    capitalised = sum(1 for w in long_words if w[0].isupper())
    return capitalised / len(long_words) >= 0.6


# ---------------------------------------------------------------------------------------------
# Detection

_ART_RE = re.compile(
    rf"^第({CN_NUMBER})条(?:之([一二三四五六七八九十]+))?(?=\s|[^\s，。、；：,.;:）)])"
)
_CN_HEADING_RE = re.compile(rf"^第({CN_NUMBER})(编|部分|章|节)\s*(\S.{{0,40}})?$")
_CN_HEADING_LEVEL = {"编": 1, "部分": 1, "章": 2, "节": 3}
_CN_ITEM_RE = re.compile(r"^[（(][一二三四五六七八九十百]+[）)]")
_CN_APPENDIX_RE = re.compile(r"^(附录|附件|附表)[一二三四五六七八九十\d]*\s*[：:]?\s*(\S.{0,30})?$")
_CFR_HEADING_RE = re.compile(r"^§\s*(\d{1,4}\.\d{1,4}[a-z]?)\s+(\S.*)$")
_ACT_HEADING_RE = re.compile(r"^SEC(?:TION)?\.?\s*(\d{1,3}[A-Za-z]?)\.\s*(.*)$", re.IGNORECASE)
_SUBPART_RE = re.compile(r"^Subpart ([A-Z]{1,2})\b")
_APPENDIX_RE = re.compile(
    r"^Appendix ([A-Z0-9]{1,3}) to (?:§\s*(\d+\.\d+)|Subpart [A-Z]{1,2}|Part \d+)"
)
_NUMBERED_RE = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){1,4})\.?\s+(\S.*)$")
_TOP_NUMBERED_RE = re.compile(r"^(\d{1,2})\.?\s+(\S.{0,40})$")


def detect_structure(doc: LoadedDocument, *, title: str, language: str) -> Structure:
    """Recognise the document's outline and cut it into sections of units."""
    paras = paragraphs(doc, language)
    articles = sum(1 for p in paras if p.kind == "paragraph" and _ART_RE.match(p.text))
    if articles >= 2:
        return Structure("cn_articles", _parse_cn(paras, title))
    cfr = sum(1 for p in paras if _is_cfr_heading(p))
    acts = sum(1 for p in paras if p.kind == "heading" and _ACT_HEADING_RE.match(p.text))
    if cfr >= 1 or acts >= 2:
        return Structure("cfr", _parse_cfr(paras, title))
    numbered = sum(1 for p in paras if _NUMBERED_RE.match(p.text))
    if numbered >= 3:
        return Structure("numbered", _parse_numbered(paras, title))
    if any(p.kind == "heading" for p in paras):
        return Structure("headings", _parse_headings(paras, language))
    return Structure("plain", [_plain_section(doc, paras)])


# ---------------------------------------------------------------------------------------------
# Chinese statutes

_CN_META_RE = re.compile(
    r"(通过|公布|发布|颁布|施行|修正|修订|批准)[）)]?$|^[（(]?\d{4}年?(修正|修订)[）)]?$|^.{0,40}令\s*第.{1,6}号$"
)
_CN_DATE_RE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月(\s*\d{1,2}\s*日)?")


@dataclass
class _Article:
    locator: str
    heading_path: str
    paras: list[Para] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "kuan" | "item" | "other"


def _cn_heading_text(m: re.Match[str]) -> str:
    number, kind, rest = m.group(1), m.group(2), m.group(3) or ""
    rest = re.sub(rf"(?<=[{_CJK_CHAR}])\s+(?=[{_CJK_CHAR}])", "", rest.strip())
    return f"第{number}{kind} {rest}".strip()


def _parse_cn(paras: list[Para], title: str) -> list[Section]:
    sections: list[Section] = []
    path: dict[int, str] = {}
    preamble: list[Para] = []
    article: _Article | None = None
    tail: Section | None = None  # an appendix or other headed text after the articles
    last_number = 0
    seen_info_end = not any(_COMMENT.match(p.text) and "INFO END" in p.text for p in paras)

    def close_article() -> None:
        nonlocal article
        if article is not None:
            sections.append(_article_section(article))
            article = None

    for i, p in enumerate(paras):
        if _COMMENT.match(p.text):
            seen_info_end = seen_info_end or "INFO END" in p.text
            continue
        if not seen_info_end:
            continue  # LawRefBook: title and promulgation history precede <!-- INFO END -->
        heading = _CN_HEADING_RE.match(p.text)
        if heading and not re.search(r"[。；]$", p.text):
            close_article()
            tail = None
            level = _CN_HEADING_LEVEL[heading.group(2)]
            path = {k: v for k, v in path.items() if k < level}
            path[level] = _cn_heading_text(heading)
            continue
        art = _ART_RE.match(p.text) if p.kind == "paragraph" else None
        if art:
            number = _safe_int(art.group(1))
            if number is not None and (last_number < number <= last_number + 20 or number == 1):
                close_article()
                tail = None
                last_number = number
                locator = f"第{art.group(1)}条" + (f"之{art.group(2)}" if art.group(2) else "")
                article = _Article(locator, _join_path(path), [p], ["kuan"])
                continue
            if art.group(2) and number == last_number:  # 第X条之一 after 第X条
                close_article()
                tail = None
                article = _Article(
                    f"第{art.group(1)}条之{art.group(2)}", _join_path(path), [p], ["kuan"]
                )
                continue
        if (p.kind == "heading" and i > 0 and (article or sections)) or (
            (article or sections) and _CN_APPENDIX_RE.match(p.text)
        ):
            close_article()
            name = p.text.rstrip("：:").strip()
            short = re.match(r"^(附录|附件|附表)[一二三四五六七八九十\d]*", name)
            tail = Section(heading_path=name, header=name, header_in_first=True)
            tail.bare_locator = short.group(0) if short else name
            sections.append(tail)
            continue
        if article is not None:
            article.paras.append(p)
            article.kinds.append("item" if _CN_ITEM_RE.match(p.text) else _cn_para_kind(p))
        elif tail is not None:
            tail.units.append(Unit(p.text, tail.bare_locator, 0, p.page))
        elif p.kind != "heading":
            preamble.append(p)
    close_article()
    lead = _cn_preamble(preamble, title)
    return ([lead] if lead else []) + [s for s in sections if s.units]


def _cn_para_kind(p: Para) -> str:
    """A paragraph inside an article opens a new 款 unless it is a sub-item such as "1." or "（1）"."""
    if re.match(r"^([（(]\d{1,2}[）)]|\d{1,2}[.．、])", p.text):
        return "other"
    return "kuan"


def _safe_int(text: str) -> int | None:
    try:
        return cn_to_int(text)
    except ValueError:
        return None


def _join_path(path: dict[int, str]) -> str:
    return " > ".join(path[k] for k in sorted(path))


def _article_section(article: _Article) -> Section:
    """Locators for each paragraph of an article: 第X条, 第X条第二款, 第X条第二款第三项."""
    kuan_total = article.kinds.count("kuan")
    units: list[Unit] = []
    kuan = item = 0
    locator = article.locator
    for p, kind in zip(article.paras, article.kinds, strict=True):
        level = 0
        if kind == "kuan":
            kuan += 1
            item = 0
            locator = article.locator if kuan == 1 else f"{article.locator}第{_cn(kuan)}款"
            level = 1
        elif kind == "item":
            item += 1
            kuan_part = f"第{_cn(max(kuan, 1))}款" if kuan_total > 1 else ""
            locator = f"{article.locator}{kuan_part}第{_cn(item)}项"
            level = 2
        units.append(Unit(p.text, locator, level, p.page))
    page = article.paras[0].page if article.paras else None
    return Section(article.heading_path, units, header=article.locator, page=page)


def _cn(n: int) -> str:
    from ingest.clauses import int_to_cn

    return int_to_cn(n)


def _cn_preamble(paras: list[Para], title: str) -> Section | None:
    """Text before the first article: kept as 序言 when it says something, dropped when it is
    only the title and promulgation history (that belongs in the document's metadata)."""
    titles = {_norm_title(title)} if title else set()
    kept = [
        p
        for p in paras
        if _norm_title(p.text) not in titles
        and not (len(p.text) < 200 and (_CN_META_RE.search(p.text) or _CN_DATE_RE.match(p.text)))
    ]
    text = "".join(p.text for p in kept)
    if len(text) < 30 or not re.search(r"[。；：:！？]", text):
        return None
    units = [Unit(p.text, "序言", 0, p.page) for p in kept]
    return Section("", units, header="序言", page=kept[0].page)


def _norm_title(text: str) -> str:
    text = re.sub(r"[（(][^）)]*[）)]$", "", text.strip())
    return re.sub(r"^中华人民共和国", "", text).strip()


# ---------------------------------------------------------------------------------------------
# US CFR sections and Act sections

_EN_META_RE = re.compile(
    r"^Page \d+ of \d+$"
    r"|^Title \d+ — .*·"
    r"|^(Title \d+|Subtitle [A-Z]|Chapter [IVXLC]+|Part \d+)\s*[—–-]\s*\S.{0,120}$"
    r"|^\d+ CFR Part \d+\s*[—–-].{0,120}$"
    r"|^\[\d+ FR [^\]]*\]$"
)
_LABEL_TOKEN = r"(?:[a-z]{1,2}|[ivxl]{1,6}|\d{1,3}|[A-Z]{1,2})"
_SPACED_LABEL_RE = re.compile(r"\(\s+([a-zA-Z0-9]{1,4})\s+\)")
_LEAD_LABELS_RE = re.compile(rf"^((?:\({_LABEL_TOKEN}\)\s?)+)")
_EMBEDDED_LABEL_RE = re.compile(r"^[A-Z][^\n]{0,120}?(?:\.|\s?—|\s?--)\s*\((1|i|A)\)\s")
_ROMAN_RE = re.compile(r"^(?=[ivxl]+$)l?x{0,3}(ix|iv|v?i{0,3})$")
#: label kinds by outline level. CFR: (a)(1)(i)(A)(1)(i), the last two italic in print;
#: US Code (the OSH Act): (a)(1)(A)(i)(I)
CFR_ORDER = ("letter", "num", "roman", "upper", "num", "roman")
ACT_ORDER = ("letter", "num", "upper", "roman", "upper")


def _is_cfr_heading(p: Para) -> bool:
    m = _CFR_HEADING_RE.match(p.text)
    if not m:
        return False
    if p.kind == "heading":
        return True
    # a paragraph that is only a section heading, as some PDF extractions give it
    return len(p.text) < 250 and not m.group(2).startswith("(") and p.text.endswith(".")


@dataclass
class _Label:
    token: str
    kind: str  # letter | num | roman | upper
    value: int


def _roman_value(token: str) -> int:
    values = {"i": 1, "v": 5, "x": 10, "l": 50}
    total = 0
    for a, b in zip(token, token[1:] + " ", strict=True):
        v = values[a]
        total += -v if b != " " and values[b] > v else v
    return total


def _kinds(token: str) -> list[tuple[str, int]]:
    """(kind, value) readings of a label token; "(i)" is both a letter and a roman numeral."""
    if token.isdigit():
        return [("num", int(token))]
    if token.isupper():
        return [("upper", (ord(token[0]) - 64) + 26 * (len(token) - 1))]
    out: list[tuple[str, int]] = []
    if len(token) == 1 or (len(token) == 2 and token[0] == token[1]):
        out.append(("letter", (ord(token[0]) - 96) + 26 * (len(token) - 1)))
    if _ROMAN_RE.match(token):
        out.append(("roman", _roman_value(token)))
    return out


def _candidates(token: str, order: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """(level, value, kind) readings of a label token under a labelling scheme."""
    return [
        (level, value, kind)
        for kind, value in _kinds(token)
        for level, wanted in enumerate(order, start=1)
        if wanted == kind
    ]


def _score(cand: tuple[int, int, str], stack: dict[int, _Label]) -> int:
    level, value, kind = cand
    depth = max(stack, default=0)
    current = stack.get(level)
    if current is not None and current.kind == kind:
        if value == current.value + 1:
            return 3
        return 1 if value > current.value else 0
    if level == depth + 1:
        return 3 if value == 1 else 1
    if level <= depth and current is None:
        return 1
    return 0


def _apply(stack: dict[int, _Label], token: str, cand: tuple[int, int, str]) -> dict[int, _Label]:
    level, value, kind = cand
    new = {k: v for k, v in stack.items() if k < level}
    new[level] = _Label(token, kind, value)
    return new


def _choose(
    token: str, stack: dict[int, _Label], next_token: str | None, order: tuple[str, ...]
) -> tuple[int, int, str]:
    """The reading of ``token`` that continues the outline; ties ("(i)" after "(h)(1)") are broken
    by which reading makes the next label a natural continuation, and then in favour of a letter."""
    cands = _candidates(token, order)
    if not cands:
        return (1, 0, "letter")
    scored = [(_score(c, stack), c) for c in cands]
    best = max(s for s, _ in scored)
    tied = [c for s, c in scored if s == best]
    if len(tied) > 1 and next_token is not None:
        ahead = []
        for c in tied:
            after = _apply(stack, token, c)
            nxt = max((_score(n, after) for n in _candidates(next_token, order)), default=0)
            ahead.append((nxt, c))
        top = max(s for s, _ in ahead)
        tied = [c for s, c in ahead if s == top]
    if best == 0:  # no reading continues the outline: fall back to the usual level per kind
        return _default_reading(token, cands, stack)
    for c in tied:
        if c[2] == "letter":
            return c
    return tied[0]


def _default_reading(
    token: str, cands: list[tuple[int, int, str]], stack: dict[int, _Label]
) -> tuple[int, int, str]:
    """No reading continues the outline: the shallowest level of the token's likeliest kind."""
    by_kind: dict[str, tuple[int, int, str]] = {}
    for c in sorted(cands):
        by_kind.setdefault(c[2], c)
    if "roman" in by_kind and "letter" in by_kind:
        # a lone "(i)" under a numbered paragraph is a roman numeral, elsewhere a letter
        deep = max(stack, default=0) >= 2 or len(token) > 1
        return by_kind["roman"] if deep else by_kind["letter"]
    return next(iter(by_kind.values()))


def label_tokens(text: str) -> list[str]:
    """The labels a paragraph opens with: "(a) Basic requirement. (1) If …" → ["a", "1"]."""
    m = _LEAD_LABELS_RE.match(text)
    if not m:
        return []
    tokens = re.findall(r"\(([^()]+)\)", m.group(1))
    rest = text[m.end() :]
    while len(tokens) < 4:  # "(h) Methods —(1) Engineering controls. (i) The employer …"
        inner = _EMBEDDED_LABEL_RE.match(rest)
        if not inner:
            break
        outer = {kind for kind, _ in _kinds(tokens[-1])}
        if outer & {kind for kind, _ in _kinds(inner.group(1))}:
            break
        tokens.append(inner.group(1))
        rest = rest[inner.end() :]
    return tokens


_DEFINITIONS_RE = re.compile(r"^(?:\([^()]+\)\s*)+(?:Definitions?|Terms)\b")


class LabelTracker:
    """Follows (a)(1)(i)(A)(1) paragraph labels through a section and names each paragraph.

    Inside a "(b) Definitions." paragraph the numbered items belong to single definitions, not
    to the outline, so they are read as text until the next sibling label ((c)) appears.
    """

    def __init__(self, order: tuple[str, ...] = CFR_ORDER) -> None:
        self.order = order
        self.stack: dict[int, _Label] = {}
        self.definitions_level = 0
        #: a whole section of definitions ("§ 1926.1202 Definitions."): its lettered paragraphs
        #: are citable, the numbered items inside one definition are not
        self.definitions_section = False

    def feed(self, tokens: list[str], next_token: str | None, text: str = "") -> tuple[str, int]:
        """Read one paragraph's labels; returns (label path of its first label, its level).

        A paragraph whose labels are read as text comes back with level 0.
        """
        if self.definitions_level:
            level = self.definitions_level
            if not any(
                c[0] <= level and _score(c, self.stack) == 3
                for c in _candidates(tokens[0], self.order)
            ):
                return self.path(), 0
            if not self.definitions_section:
                self.definitions_level = 0
        first_path = ""
        first_level = 0
        for i, token in enumerate(tokens):
            if i == 0:
                ahead = next_token if len(tokens) == 1 else tokens[1]
                cand = _choose(token, self.stack, ahead, self.order)
            else:
                depth = max(self.stack, default=0)
                readings = _candidates(token, self.order)
                if not readings:
                    break
                cand = next((c for c in readings if c[0] > depth), readings[0])
            self.stack = _apply(self.stack, token, cand)
            if i == 0:
                first_path = self.path()
                first_level = cand[0]
        if len(tokens) == 1 and _DEFINITIONS_RE.match(text):
            self.definitions_level = first_level
        return first_path, first_level

    def path(self) -> str:
        return "".join(f"({self.stack[k].token})" for k in sorted(self.stack))


def _parse_cfr(paras: list[Para], title: str) -> list[Section]:
    subpart_m = re.search(r"\bSubpart ([A-Z]{1,2})\b", title)
    subpart = f"Subpart {subpart_m.group(1)}" if subpart_m else ""
    sections: list[Section] = []
    preamble: list[Para] = []
    preamble_heading = ""
    current: Section | None = None
    section_id = ""
    tracker = LabelTracker()
    in_appendix = False
    section_path = ""
    for p in paras:  # PDF text spaces out italic labels: "( 1 )" → "(1)"
        p.text = _SPACED_LABEL_RE.sub(r"(\1)", p.text)
    first_tokens: list[str | None] = [next(iter(label_tokens(p.text)), None) for p in paras]

    def next_token(i: int) -> str | None:
        for tok in first_tokens[i + 1 :]:
            if tok is not None:
                return tok
        return None

    for i, p in enumerate(paras):
        text = p.text
        if _COMMENT.match(text) or _EN_META_RE.match(text):
            continue
        if "·" in text and re.search(r"\bSubpart [A-Z]{1,2}\b", text) and current is None:
            sub = re.search(r"\bSubpart ([A-Z]{1,2})\b", text)
            subpart = f"Subpart {sub.group(1)}" if sub else subpart
            continue  # the 1910 pages' breadcrumb line
        sub = _SUBPART_RE.match(text)
        if sub and (p.kind == "heading" or len(text) < 120):
            subpart = f"Subpart {sub.group(1)}"
            if p.kind == "heading":
                current = None
            continue
        cfr = _CFR_HEADING_RE.match(text) if _is_cfr_heading(p) else None
        act = _ACT_HEADING_RE.match(text) if p.kind == "heading" else None
        if cfr or act:
            if cfr:
                section_id = cfr.group(1)
                heading = f"§ {section_id} {cfr.group(2)}"
            else:
                assert act is not None
                section_id = f"SEC. {act.group(1)}"
                heading = text
            section_path = " > ".join(x for x in (subpart, heading) if x)
            current = Section(
                heading_path=section_path,
                header=heading,
                header_in_first=True,
                bare_locator=section_id,
                page=p.page,
            )
            sections.append(current)
            tracker = LabelTracker(CFR_ORDER if cfr else ACT_ORDER)
            if cfr and re.match(r"Definitions?\b", cfr.group(2)):
                tracker.definitions_section = True
                tracker.definitions_level = 1
            in_appendix = False
            continue
        if current is None:
            if p.kind == "heading":
                preamble_heading = preamble_heading or text
            else:
                preamble.append(p)
            continue
        appendix = _APPENDIX_RE.match(text)
        if appendix:
            in_appendix = True
            name = f"Appendix {appendix.group(1)}"
            section_id = appendix.group(2) or section_id
            current = Section(
                heading_path=f"{section_path} > {name}",
                header=f"{name} to § {section_id}",
                header_in_first=False,
                bare_locator=f"{section_id} {name}",
                page=p.page,
            )
            sections.append(current)
        if in_appendix:
            current.units.append(Unit(text, current.bare_locator, 0, p.page))
            continue
        tokens = label_tokens(text) if p.kind != "heading" else []
        if tokens:
            path, level = tracker.feed(tokens, next_token(i), text)
            current.units.append(Unit(text, section_id + path, level, p.page))
        else:
            current.units.append(Unit(text, section_id + tracker.path(), 0, p.page))
    lead: list[Section] = []
    if preamble and sum(len(p.text) for p in preamble) >= 40:
        name = preamble_heading or "preamble"
        units = [Unit(p.text, name, 0, p.page) for p in preamble]
        lead = [Section(name, units, header=name, header_in_first=False, page=units[0].page)]
    return lead + [s for s in sections if s.units or s.header]


# ---------------------------------------------------------------------------------------------
# Numbered clauses (standards), headings, plain text


def _parse_numbered(paras: list[Para], title: str) -> list[Section]:
    sections: list[Section] = []
    current: Section | None = None
    preamble: list[Para] = []
    clause = ""
    for p in paras:
        m = _NUMBERED_RE.match(p.text)
        top = _TOP_NUMBERED_RE.match(p.text) if not m else None
        number = m.group(1) if m else (top.group(1) if top and (p.kind == "heading") else None)
        if number is not None:
            chapter = number.split(".")[0]
            if current is None or current.bare_locator != chapter:
                current = Section(
                    heading_path=p.text if top else chapter,
                    header=p.text if top else "",
                    header_in_first=False,
                    bare_locator=chapter,
                    page=p.page,
                )
                sections.append(current)
            clause = number
            current.units.append(Unit(p.text, number, number.count(".") + 1, p.page))
        elif current is not None:
            current.units.append(Unit(p.text, clause, 0, p.page))
        elif p.kind != "heading" or p.text != title:
            preamble.append(p)
    lead: list[Section] = []
    if preamble and sum(len(p.text) for p in preamble) >= 40:
        units = [Unit(p.text, "preamble", 0, p.page) for p in preamble]
        lead = [Section("", units, header="", page=units[0].page)]
    return lead + sections


def heading_locator(text: str) -> str:
    """A heading as a locator: markup and trailing punctuation gone."""
    return _clean(text.strip("#*_ ").rstrip(".:：。")).strip()


def _parse_headings(paras: list[Para], language: str) -> list[Section]:
    """Each heading opens a section; a heading with no text of its own becomes a parent."""
    sections: list[Section] = []
    locators: list[str] = []
    stack: list[tuple[int, str]] = []  # (level, heading) for Markdown/HTML levels
    flat_path: list[str] = []  # for text headings, which carry no level
    heading_levels = [p.level for p in paras if p.kind == "heading"]
    # a lone top-level heading first is the document's title, not part of every path
    title_level = (
        paras[0].level
        if paras and paras[0].kind == "heading" and heading_levels.count(paras[0].level) == 1
        else None
    )
    for p in paras:
        if p.kind == "heading":
            name = heading_locator(p.text)
            if not name:
                continue
            if p.level > 0:
                stack = [(lvl, h) for lvl, h in stack if lvl < p.level]
                stack.append((p.level, name))
                path = " > ".join(h for lvl, h in stack if lvl != title_level)
            else:
                if sections and not sections[-1].units:
                    flat_path = [*flat_path, name][-3:]  # the previous heading had no text
                else:
                    flat_path = [*flat_path[:-1], name][-3:]
                path = " > ".join(flat_path)
            sections.append(Section(path, header=name, header_in_first=True, page=p.page))
            locators.append(name)
            continue
        if not sections:
            name = "序言" if language == "zh" else "preamble"
            sections.append(Section("", header="", page=p.page))
            locators.append(name)
        sections[-1].units.append(Unit(p.text, locators[-1], 0, p.page))
    return [s for s in sections if s.units]


def _plain_section(doc: LoadedDocument, paras: list[Para]) -> Section:
    """No structure: paragraphs located by PDF page (``p.12``) or paragraph number (``¶3``)."""
    units = []
    for n, p in enumerate(paras, start=1):
        locator = f"p.{p.page}" if doc.format == "pdf" and p.page is not None else f"¶{n}"
        units.append(Unit(p.text, locator, 0, p.page))
    return Section("", units, page=units[0].page if units else None)
