"""Chunking: a loaded document and its metadata in, clause-sized :class:`Chunk` s out.

A chunk is the unit of retrieval and of citation, so it follows the document's legal structure
(see :mod:`ingest.structure`): it starts at a clause and its ``locator`` names that clause; it
never spans two articles or two CFR sections; a long clause splits at its own outline (款, then
项; (a), then (1), then (i)) before it splits at sentences. Record sets give one chunk per record.

Chunk size is a trade-off measured on this corpus (see :data:`MAX_CHARS`): the embedder reads at
most 512 tokens, so longer chunks are cut short in the vector index, and smaller, clause-sized
chunks retrieve more precisely; but every chunk costs one embedding, so tiny ones waste time.
"""

from __future__ import annotations

import re
from collections import Counter

from ingest.language import detect_language
from ingest.models import Chunk, DocMeta, LoadedDocument, Normative, Record, make_chunk_id
from ingest.structure import Section, Unit, detect_structure

#: default chunk size per language, in characters, measured on the starter corpus.
#: multilingual-e5-small reads at most 512 tokens and its tokenizer gives ~1.5 Chinese or
#: ~4.2 English characters per token, so 700 Chinese characters (≈470 tokens) and 1400 English
#: ones (≈330) are embedded whole: 0.5% of Chinese and 0.2% of CFR chunks exceed 512 tokens
#: (at 900 Chinese characters a long article's tail would often be cut off). Statute articles are
#: mostly far shorter (p95 360 characters), so the limit only decides how long articles split.
MAX_CHARS: dict[str, int] = {"zh": 700, "en": 1400}
#: the outline depth below which a clause is split paragraph by paragraph
_MAX_DEPTH = 6
#: characters a key-fields line of a record may add to its text
_RECORD_FIELDS_CHARS = 240
#: the fields of an accident record worth searching on, most useful first
RECORD_KEY_FIELDS = (
    "event_keywords",
    "accident_type",
    "classification",
    "fatality_cause",
    "construction_operation",
    "event_type",
    "mine_type",
    "occupation",
    "nature_of_injury",
    "degree_of_injury",
)
_EMPTY_VALUES = {"", "nan", "none", "null", "n/a", "na", "?", "occupation not reported"}


def default_max_chars(language: str) -> int:
    return MAX_CHARS.get(language, MAX_CHARS["en"])


def chunk_document(
    doc: LoadedDocument, meta: DocMeta, *, max_chars: int | None = None
) -> list[Chunk]:
    """Cut one loaded document into chunks (records: one chunk each).

    ``max_chars`` defaults to :data:`MAX_CHARS` for the document's language. Chunk ids are
    ``doc_id:locator:n`` with ``n`` counting earlier chunks at the same locator, so they are
    unique within the document and stable across re-ingests of the same text.
    """
    language = meta.language or detect_language(_sample(doc))
    if doc.records:
        return _record_chunks(doc.records, meta, language)
    limit = max(max_chars or default_max_chars(language), 100)
    structure = detect_structure(doc, title=meta.title or doc.title or "", language=language)
    drafts: list[tuple[str, str, str, int | None]] = []  # text, locator, heading_path, page
    for section in structure.sections:
        if structure.kind == "plain":
            drafts.extend(_split_plain(section, limit, language))
        else:
            drafts.extend(_pack_section(section, limit, language))
    seen: Counter[str] = Counter()
    chunks: list[Chunk] = []
    for text, locator, heading_path, page in drafts:
        text = _tidy(text)
        if not text:
            continue
        n = seen[locator]
        seen[locator] += 1
        chunks.append(
            Chunk(
                chunk_id=make_chunk_id(meta.doc_id, locator, n),
                doc_id=meta.doc_id,
                source=meta.source,
                title=meta.title,
                text=text,
                locator=locator,
                heading_path=heading_path,
                page=page,
                language=language,
                doc_type=meta.doc_type,
                jurisdiction=meta.jurisdiction,
                industries=list(meta.industries),
                normative=normative_of(text, language),
            )
        )
    return chunks


def _sample(doc: LoadedDocument, chars: int = 4000) -> str:
    """The head of the document, enough to tell its language without joining all of it."""
    parts: list[str] = []
    size = 0
    for item in doc.records or doc.blocks:
        parts.append(item.text)
        size += len(item.text)
        if size >= chars:
            break
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Structured sections


def _size(units: list[Unit]) -> int:
    return sum(len(u.text) for u in units) + max(len(units) - 1, 0)


def _pack_section(
    section: Section, limit: int, language: str
) -> list[tuple[str, str, str, int | None]]:
    header = section.header.strip()
    budget = max(limit - (len(header) + 1 if header else 0), limit // 2)
    groups = _pack(section.units, budget, 1, language)
    out = []
    for i, group in enumerate(groups):
        body = "\n".join(u.text for u in group)
        with_header = header and (i > 0 or section.header_in_first)
        text = f"{header}\n{body}" if with_header else body
        page = next((u.page for u in group if u.page is not None), section.page)
        out.append((text, _chunk_locator(group, section), section.heading_path, page))
    return out


def _chunk_locator(group: list[Unit], section: Section) -> str:
    """The clause the chunk starts at; a chunk that opens with a section's heading and intro
    takes the label of the first labelled paragraph it holds (``1926.501(a)``)."""
    first = group[0].locator
    if section.bare_locator and first == section.bare_locator:
        for unit in group:
            if unit.locator != section.bare_locator:
                return unit.locator
    return first


def _runs(units: list[Unit], depth: int) -> list[list[Unit]]:
    runs: list[list[Unit]] = []
    for unit in units:
        if not runs or 1 <= unit.level <= depth:
            runs.append([unit])
        else:
            runs[-1].append(unit)
    return runs


def _pack(units: list[Unit], budget: int, depth: int, language: str) -> list[list[Unit]]:
    """Group units into chunks of at most ``budget`` characters, splitting at outline level
    ``depth`` first and going one level deeper only for a run that is still too long."""
    if not units:
        return []
    if _size(units) <= budget:
        return [units]
    if depth > _MAX_DEPTH:
        runs = [[u] for u in units]
    else:
        runs = _runs(units, depth)
        if len(runs) == 1:
            return _pack(units, budget, depth + 1, language)
    out: list[list[Unit]] = []
    current: list[Unit] = []
    for run in runs:
        if _size(run) > budget:
            if current:
                out.append(current)
                current = []
            if len(run) == 1:
                out.extend([piece] for piece in _split_unit(run[0], budget, language))
            else:
                out.extend(_pack(run, budget, depth + 1, language))
        elif not current or _size(current) + 1 + _size(run) <= budget:
            current += run
        else:
            out.append(current)
            current = list(run)
    if current:
        out.append(current)
    return out


def _split_unit(unit: Unit, budget: int, language: str) -> list[Unit]:
    """One paragraph longer than a chunk: sentence by sentence, all at the paragraph's locator."""
    pieces = _greedy(split_sentences(unit.text), budget, language)
    return [Unit(p, unit.locator, unit.level, unit.page) for p in pieces]


# ---------------------------------------------------------------------------------------------
# Sentences and the fallback splitter

_ZH_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])[”’」』）)]*")
_EN_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"“'(\[]?[A-Z0-9§])")
_ABBREVIATIONS = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|No|Nos|Sec|Secs|U\.S|Mr|Mrs|Ms|Dr|St|vs|v|Jan|Feb|Mar|Apr|Jun|Jul|"
    r"Aug|Sept?|Oct|Nov|Dec|Inc|Co|Corp|Ltd|approx|Fig|ft|in|lb|lbs|oz|min|max|cf|al)\.|\b[A-Z]\.)$"
)


def split_sentences(text: str) -> list[str]:
    """Sentences of Chinese or English text, with their end punctuation and trailing space.

    Chinese ends at 。！？；, English at . ! ? before a capital, a digit or "§", except after
    common abbreviations ("e.g.", "U.S.", "No.", initials). Joining the result gives the text back.
    """
    if not text:
        return []
    cuts: set[int] = set()
    for m in _ZH_SENTENCE_END.finditer(text):
        cuts.add(m.end())
    for m in _EN_SENTENCE_END.finditer(text):
        if not _ABBREVIATIONS.search(text[: m.start()]):
            cuts.add(m.end())
    out: list[str] = []
    start = 0
    for cut in sorted(cuts):
        if start < cut < len(text):
            out.append(text[start:cut])
            start = cut
    out.append(text[start:])
    return [s for s in out if s.strip()]


def _hard_split(sentence: str, budget: int) -> list[str]:
    """A "sentence" longer than a chunk (a table row run, a list without full stops): cut at the
    last comma or space before the limit."""
    pieces: list[str] = []
    rest = sentence
    while len(rest) > budget:
        window = rest[:budget]
        cut = max(window.rfind(c) for c in "，,、 ")
        if cut < budget // 2:
            cut = budget - 1
        pieces.append(rest[: cut + 1])
        rest = rest[cut + 1 :]
    if rest.strip():
        pieces.append(rest)
    return pieces


def _greedy(sentences: list[str], budget: int, language: str) -> list[str]:
    pieces: list[str] = []
    current = ""
    for sentence in sentences:
        for part in _hard_split(sentence, budget) if len(sentence) > budget else [sentence]:
            if current and len(current) + len(part) > budget:
                pieces.append(current.strip())
                current = ""
            current += part
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _split_plain(
    section: Section, limit: int, language: str
) -> list[tuple[str, str, str, int | None]]:
    """No structure at all: sentence-aware windows with a small overlap (the last sentence or
    two of one chunk start the next), located where their own text starts (``p.12`` or ``¶3``)."""
    overlap = limit // 6
    sentences: list[tuple[str, Unit, bool]] = []  # text, unit, starts a paragraph
    for unit in section.units:
        for i, sentence in enumerate(split_sentences(unit.text)):
            for part in _hard_split(sentence, limit) if len(sentence) > limit else [sentence]:
                sentences.append((part.strip(), unit, i == 0))
    out: list[tuple[str, str, str, int | None]] = []
    current: list[tuple[str, Unit, bool]] = []
    own_start = 0  # index in ``current`` of the first sentence not carried over

    def size(items: list[tuple[str, Unit, bool]]) -> int:
        return sum(len(s) + 1 for s, _, _ in items)

    def emit() -> None:
        first_unit = current[own_start][1]
        out.append((_join(current, language), first_unit.locator, "", first_unit.page))

    for item in sentences:
        if current and size(current) + len(item[0]) > limit:
            emit()
            carried: list[tuple[str, Unit, bool]] = []
            for prev in reversed(current):
                if size(carried) + len(prev[0]) > overlap:
                    break
                carried.insert(0, prev)
            current = carried
            own_start = len(carried)
        current.append(item)
    if current and own_start < len(current):
        emit()
    return out


def _join(items: list[tuple[str, Unit, bool]], language: str) -> str:
    text = ""
    for i, (sentence, _, starts_paragraph) in enumerate(items):
        if i == 0:
            text = sentence
        elif starts_paragraph:
            text += "\n" + sentence
        else:
            cjk_joint = language == "zh" and re.match(r"[\u3000-\u9fff\uff00-\uffef]", sentence)
            text += ("" if cjk_joint else " ") + sentence
    return text


def _tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\u3000\xa0]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


# ---------------------------------------------------------------------------------------------
# Records


def _record_chunks(records: list[Record], meta: DocMeta, language: str) -> list[Chunk]:
    """One record, one chunk: the record's own id is its locator and its source suffix, while
    ``doc_id`` stays the file's, so a changed file's chunks are replaced together.

    Records are narratives of what happened, not rules, so their ``normative`` is "none" even
    when a narrative quotes a "must"; a filter on mandatory text should not return accidents.
    """
    seen: Counter[str] = Counter()
    chunks: list[Chunk] = []
    for record in records:
        body = _tidy(record.text)
        title = _tidy(record.title or "")
        if not body and not title:
            continue
        parts = [title] if title and title not in body else []
        parts.append(body)
        key_line = record_key_line(record)
        if key_line:
            parts.append(key_line)
        text = "\n".join(p for p in parts if p)
        locator = str(record.id).strip()
        n = seen[locator]
        seen[locator] += 1
        chunks.append(
            Chunk(
                chunk_id=make_chunk_id(meta.doc_id, locator, n),
                doc_id=meta.doc_id,
                source=f"{meta.source}#{locator}",
                title=title or meta.title,
                text=text,
                locator=locator,
                heading_path="",
                page=None,
                language=language,
                doc_type=meta.doc_type,
                jurisdiction=meta.jurisdiction,
                industries=list(meta.industries),
                normative="none",
            )
        )
    return chunks


def record_key_line(record: Record) -> str:
    """A short "key: value; …" line of the record's most searchable coded fields."""
    parts: list[str] = []
    used = 0
    for key in RECORD_KEY_FIELDS:
        value = _tidy(str(record.fields.get(key, "")))
        if value.lower() in _EMPTY_VALUES:
            continue
        if len(value) > 90:
            value = value[:90].rsplit(" ", 1)[0] + "…"
        part = f"{key}: {value}"
        if used + len(part) > _RECORD_FIELDS_CHARS:
            break
        parts.append(part)
        used += len(part) + 2
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Normative force

_ZH_MANDATORY = re.compile(
    r"应当|必须|严禁|不得|禁止|不准|不应|须经|"
    r"(?<![相响适供反对效感呼顺答理报])应(?![当急用对聘届征邀收付答允变])(?=[\u4e00-\u9fff])"
)
_ZH_RECOMMENDED = re.compile(r"(?<![事适便])宜|可以|鼓励|提倡|推荐|尽量|尽可能")
_EN_MANDATORY = re.compile(
    r"\b(?:shall|must|(?:is|are) required|(?:is|are) prohibited|may not|required to)\b",
    re.IGNORECASE,
)
_EN_RECOMMENDED = re.compile(
    r"\b(?:should|may|recommended|recommends?|encouraged|advisable)\b", re.IGNORECASE
)


def normative_of(text: str, language: str) -> Normative:
    """Whether the text obliges (shall/must/应当/必须/严禁/不得/禁止), recommends
    (should/may/宜/可以/鼓励/提倡) or neither. Obligation wins when both occur."""
    checks = {
        "zh": [(_ZH_MANDATORY, _ZH_RECOMMENDED)],
        "en": [(_EN_MANDATORY, _EN_RECOMMENDED)],
    }.get(language, [(_ZH_MANDATORY, _ZH_RECOMMENDED), (_EN_MANDATORY, _EN_RECOMMENDED)])
    if any(mandatory.search(text) for mandatory, _ in checks):
        return "mandatory"
    if any(recommended.search(text) for _, recommended in checks):
        return "recommended"
    return "none"
