"""The evidence gate: refuse when the knowledge base does not hold the answer, and check answers.

Before generation, two tests. A question that names something the knowledge base lacks (a
standard such as ``GB 30871``, a CFR section or part that was never ingested, a law in 《》 that
no document is titled, a jurisdiction with no documents such as 香港 or Ontario) is refused
outright. Otherwise the evidence strength is the share of the question (IDF-weighted tokens,
translated through the glossary for passages in the other language) that the best passages
cover; below ``settings.refusal_threshold`` (calibrated on ``evals/datasets/dev.jsonl``) the
assistant refuses and lists the nearest clauses it found.

After generation, every number and clause reference in a model's answer must appear in a
passage it cites (or in the question); otherwise the answer is replaced by the extractive one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.retrieve import Evidence, Passage
from ingest.clauses import cn_to_int, find_clause_refs, locator_matches, normalise_locator
from ingest.kb import KnowledgeBase
from ingest.lexical import tokenize

#: places whose rules a question may ask for, with the jurisdiction code documents would carry
JURISDICTIONS: dict[str, tuple[str, ...]] = {
    "HK": ("香港", "Hong Kong"),
    "TW": ("台湾", "臺灣", "Taiwan"),
    "MO": ("澳门", "Macau", "Macao"),
    "EU": ("欧盟", "European Union", "EU", "EU-OSHA"),
    "UK": ("英国", "United Kingdom", "UK", "Britain", "British", "RIDDOR", "England", "Scotland"),
    "CA": ("加拿大", "Canada", "Canadian", "Ontario", "安大略", "Alberta", "Quebec"),
    "AU": ("澳大利亚", "Australia", "Australian"),
    "JP": ("日本", "Japan", "Japanese"),
    "DE": ("德国", "Germany", "German"),
    "SG": ("新加坡", "Singapore"),
    "IN": ("印度", "India"),
    "US-CA": ("加州", "California", "Cal/OSHA", "CalOSHA"),
}
_STANDARD = re.compile(
    r"(?<![A-Za-z])(GBZ|GB|AQ|JGJ|DL|SY|HG|MT|NB|JB|WS|TSG|SH|CJJ|GA|XF|ISO|IEC|EN|ANSI|NFPA|BS|OHSAS|ASME)"
    r"(\s*/\s*T)?\s*([A-Z]?\d{1,6}(?:\.\d{1,3})?)(?![\d.])"
)
_CFR_PART = re.compile(
    r"(?<![\w.])(\d{1,2})\s*C\.?F\.?R\.?\s*(?:Part\s*)?(\d{1,4})(?![\d.])"
    r"|(?<![A-Za-z])Part\s+(\d{1,4})(?![\d.])",
    re.I,
)
_CFR_SECTION = re.compile(r"(?<![\d.])(\d{2,4})\.(\d{1,4})[a-z]?(?![\d.]*\d)")
_BOOK = re.compile(r"《([^》]{2,40})》")


@dataclass
class Decision:
    ok: bool
    strength: float
    reason: str | None = None
    #: named things the knowledge base lacks
    missing: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)


class Catalogue:
    """What the knowledge base holds, for checking names: titles, CFR sections, jurisdictions.

    Built once per registry generation (a few hundred ms on 14k chunks) and shared.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.generation = kb.registry.generation
        docs = kb.registry.documents()
        self.titles = [_squash(d.title) for d in docs] + [_squash(d.source) for d in docs]
        self.jurisdictions = {d.jurisdiction for d in docs if getattr(d, "jurisdiction", "")}
        sections: set[str] = set()
        for _, meta in kb.registry.all_meta():
            m = re.match(r"(\d{2,4})\.(\d+[a-z]?)", str(meta.get("locator") or ""))
            if m:
                sections.add(f"{m.group(1)}.{m.group(2)}")
        self.sections = sections
        self.parts = {s.split(".")[0] for s in sections}

    def has_title(self, name: str) -> bool:
        key = _squash(name)
        key = re.sub(r"^中华人民共和国", "", key)
        return any(key in t or (len(t) >= 4 and t in key) for t in self.titles)

    def has_jurisdiction(self, code: str) -> bool:
        return any(j == code or j.startswith(code + "-") for j in self.jurisdictions)

    def has_section(self, section: str) -> bool:
        return any(
            locator_matches(s, section) or locator_matches(section, s)
            for s in self.sections
            if s.split(".")[0] == section.split(".")[0]
        )


_CATALOGUES: dict[int, Catalogue] = {}
_CAT_LOCK = threading.Lock()


def catalogue(kb: KnowledgeBase) -> Catalogue:
    key = id(kb.registry)
    with _CAT_LOCK:
        cat = _CATALOGUES.get(key)
        if cat is None or cat.generation != kb.registry.generation:
            cat = _CATALOGUES[key] = Catalogue(kb)
        return cat


def _squash(text: str) -> str:
    return re.sub(r"[\s《》()（）\-_/.]+", "", text).casefold()


def missing_names(question: str, cat: Catalogue) -> list[str]:
    """Standards, CFR parts and sections, titled laws and places the question names but the
    knowledge base does not hold."""
    missing: list[str] = []
    for m in _STANDARD.finditer(question):
        code = f"{m.group(1)}{'/T' if m.group(2) else ''} {m.group(3)}"
        if not cat.has_title(code):
            missing.append(code)
    for m in _CFR_PART.finditer(question):
        part = m.group(2) or m.group(3)
        title_no = m.group(1)
        if title_no and title_no != "29":
            missing.append(f"{title_no} CFR Part {part}")
        elif part not in cat.parts:
            missing.append(f"Part {part}")
    for m in _CFR_SECTION.finditer(question):
        if m.group(1) not in ("1904", "1910", "1926", "1903", "1915", "1928"):
            continue
        section = f"{m.group(1)}.{m.group(2)}"
        if not cat.has_section(section):
            missing.append(section)
    for m in _BOOK.finditer(question):
        if not cat.has_title(m.group(1)):
            missing.append(f"《{m.group(1)}》")
    for code, names in JURISDICTIONS.items():
        for name in names:
            pattern = (
                re.escape(name)
                if re.search(r"[\u4e00-\u9fff]", name)
                else rf"\b{re.escape(name)}\b"
            )
            if re.search(pattern, question) and not cat.has_jurisdiction(code):
                missing.append(name)
                break
    return list(dict.fromkeys(missing))


def unmentioned_names(evidence: Evidence, top_n: int = 5) -> list[str]:
    """Rare names and codes of the question ("Genie", "GS-1930") that none of the best
    passages mention: the passages are about something else."""
    if not evidence.rare_names:
        return []
    tokens: set[str] = set()
    texts = []
    for p in evidence.passages[:top_n]:
        texts.append(p.chunk.title + "\n" + p.text)
        tokens |= set(tokenize(texts[-1]))
    return sorted(
        t
        for t in evidence.rare_names
        if t not in tokens
        and not any(alt <= tokens for alt in evidence.alternatives.get(t, ()))
        and not any(spelled_out(t, text) for text in texts)
    )


def spelled_out(acronym: str, text: str) -> bool:
    """Whether ``text`` writes the acronym out: ``psm`` → "process safety management",
    ``gfci`` → "ground-fault circuit interrupter"."""
    if not (3 <= len(acronym) <= 6) or not acronym.isalpha():
        return False
    # small words may sit between the initials: "Occupational Safety and Health" → OSH
    pattern = r"(?:[\s-]+(?:and|of|for|the|&))?[\s-]+".join(
        rf"{re.escape(ch)}[a-z]*" for ch in acronym
    )
    return re.search(rf"\b{pattern}\b", text, re.IGNORECASE) is not None


def strength(evidence: Evidence, top_n: int = 2) -> tuple[float, dict[str, Any]]:
    """How well the best passages cover the question (0..1), with the signals behind it."""
    if not evidence.passages:
        return 0.0, {"coverage": 0.0}
    best = max(p.coverage for p in evidence.passages[:top_n])
    return best, {"coverage": round(best, 3), "top_rrf": evidence.passages[0].signals.get("rrf")}


def assess(kb: KnowledgeBase, question: str, evidence: Evidence, threshold: float) -> Decision:
    """Whether the evidence is strong enough to answer ``question``."""
    missing = missing_names(question, catalogue(kb))
    score, signals = strength(evidence)
    if missing:
        return Decision(False, score, "missing", missing, signals)
    unmentioned = unmentioned_names(evidence)
    if unmentioned:
        return Decision(False, score, "unmentioned", unmentioned, signals)
    if not evidence.passages:
        return Decision(False, 0.0, "nothing_found", [], signals)
    if score < threshold:
        return Decision(False, score, "weak_evidence", [], signals)
    return Decision(True, score, None, [], signals)


# ----------------------------------------------------------------------------- after generation

_MARKER = re.compile(r"\[(\d{1,2})(?:\s*[,，、]\s*\d{1,2})*\]")
_ARABIC = re.compile(r"(?<![A-Za-z0-9_.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\d])(万|亿)?")
_CN_NUM_RUN = re.compile(
    r"[零〇一二两三四五六七八九十百千万]{2,}|[二两三四五六七八九十百千](?=[个名人日天年月小时分钟米倍次级元吨])"
)


def strip_markers(text: str) -> str:
    """``text`` without the ``[n]`` passage marks."""
    return _MARKER.sub(" ", text)


def cited_numbers(text: str) -> list[int]:
    """The passage numbers a model marked: ``[1]``, ``[2, 3]``."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        for n in re.findall(r"\d+", m.group(0)):
            if int(n) not in out:
                out.append(int(n))
    return out


def numbers_in(text: str) -> set[float]:
    """Every figure in ``text`` as a value: ``5,000`` → 5000, ``十五`` → 15, ``19.5`` → 19.5."""
    text = _MARKER.sub(" ", text)
    values: set[float] = set()
    for m in _ARABIC.finditer(text):
        try:
            value = float(m.group(1).replace(",", ""))
            values.add(value * {"万": 1e4, "亿": 1e8}.get(m.group(2) or "", 1))
        except ValueError:
            continue
    for m in _CN_NUM_RUN.finditer(text):
        try:
            values.add(float(cn_to_int(m.group(0))))
        except ValueError:
            continue
    return values


def strip_clause_refs(text: str) -> str:
    text = re.sub(r"\d{4}\.\d+[a-z]?(?:\([0-9a-zA-Z]{1,5}\))*", " ", text)
    text = re.sub(r"第[零〇一二两三四五六七八九十百千\d]+[编章节条款项]", " ", text)
    text = re.sub(
        r"\b(?:SEC\.|Section)\s*\d+[A-Za-z]?(?:\([0-9a-zA-Z]{1,5}\))*", " ", text, flags=re.I
    )
    return text


def unsupported_claims(answer: str, cited: Sequence[Passage], question: str) -> list[str]:
    """Numbers and clause references in ``answer`` found neither in the cited passages nor in
    the question. An empty list means the answer is grounded as far as figures go."""
    support = "\n".join(f"{p.chunk.title}\n{p.chunk.locator}\n{p.text}" for p in cited)
    problems: list[str] = []
    allowed = numbers_in(strip_clause_refs(support)) | numbers_in(strip_clause_refs(question))
    for value in numbers_in(strip_clause_refs(answer)):
        if value not in allowed:
            problems.append(_fmt(value))
    squashed = _squash(support + question)
    locators = [p.chunk.locator for p in cited]
    for ref in find_clause_refs(_MARKER.sub(" ", answer)):
        loc = normalise_locator(ref.locator)
        if any(locator_matches(loc, c) or locator_matches(c, loc) for c in locators):
            continue
        if _squash(loc) in squashed:
            continue
        problems.append(loc)
    return problems


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def nearest(passages: Iterable[Passage], n: int = 3) -> list[dict[str, Any]]:
    """The closest clauses found, for a refusal: what the person may want to read instead."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for p in passages:
        c = p.chunk
        if (c.source, c.locator) in seen:
            continue
        seen.add((c.source, c.locator))
        if len(out) >= n:
            break
        out.append(
            {
                "source": c.source,
                "title": c.title,
                "locator": c.locator,
                "page": c.page,
                "score": round(p.score, 4),
                "coverage": round(p.coverage, 3),
            }
        )
    return out
