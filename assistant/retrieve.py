"""Retrieval for answering: search, then the passages a model (or the extractive composer) reads.

``kb.search`` ranks chunks; answering needs more: accident records kept apart from the rules
(unless the question asks about an accident), a rerank by how much of the question a chunk
covers, neighbouring chunks of the same clause when a hit is cut mid-rule, duplicates dropped
(the cn-coal copies of 矿山安全法 repeat the national text), and a token budget, because on a
CPU every prompt token costs ~20 ms of prefill. Questions in one language reach documents in
the other through the multilingual embedder and, for the lexical side, the glossary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant import jargon
from assistant.glossary import TERMS, translate_terms
from ingest.cues import query_cues
from ingest.kb import Hit, KnowledgeBase, is_structured, parse_where
from ingest.language import detect_language
from ingest.lexical import tokenize
from ingest.models import Chunk

ACCIDENT_TYPES = ("accident_records", "accident_report")
#: a question about an event ("what happened", "is there a case") may be answered by a record
_ACCIDENT_INTENT = re.compile(
    r"what happened|is there (?:a|any) (?:case|record|accident)|has (?:a|an|any)\b.{0,60}\bever"
    r"|find the (?:accident|case|record)|accident where|case where|record of|what caused"
    r"|\b(?:was|were|got)\s+(?:killed|injured|hit|struck|crushed|burned|buried|caught|"
    r"electrocuted|sprayed|pinned)\b|\bgave way\b|\bfell\b|\btipped\b"
    r"|事故记录|案例|怎么回事|怎么发生|发生了什么|具体经过|有没有.{0,40}(?:事故|案例|记录)",
    re.IGNORECASE,
)
_NUMBER_TOKEN = re.compile(r"^[\d.,]+$")

#: tokens per character for budgeting, measured with Qwen2.5's tokenizer on this corpus:
#: ~0.5 per CJK character, ~1 per 4.4 characters of English, digits and punctuation
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def estimate_tokens(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return math.ceil(cjk * 0.55 + (len(text) - cjk) / 4.4)


def is_accident(chunk: Chunk) -> bool:
    return chunk.doc_type in ACCIDENT_TYPES or chunk.source.startswith("accidents/")


def accident_intent(question: str) -> bool:
    """A question about an event, which a record may answer: the search's cue, or a narrative
    ("a mechanic fell when his bosun's chair gave way")."""
    return bool(_ACCIDENT_INTENT.search(question)) or "doc_type" in query_cues(question)


#: places a Chinese question may name, with the jurisdiction code their rules carry
PLACES: dict[str, str] = {
    "北京": "CN-BJ", "上海": "CN-SH", "天津": "CN-TJ", "重庆": "CN-CQ", "河北": "CN-HE",
    "山西": "CN-SX", "辽宁": "CN-LN", "吉林": "CN-JL", "黑龙江": "CN-HL", "江苏": "CN-JS",
    "浙江": "CN-ZJ", "安徽": "CN-AH", "福建": "CN-FJ", "江西": "CN-JX", "山东": "CN-SD",
    "河南": "CN-HA", "湖北": "CN-HB", "湖南": "CN-HN", "广东": "CN-GD", "深圳": "CN-GD-SZ",
    "广州": "CN-GD-GZ", "海南": "CN-HI", "四川": "CN-SC", "贵州": "CN-GZ", "云南": "CN-YN",
    "陕西": "CN-SN", "甘肃": "CN-GS", "青海": "CN-QH", "内蒙古": "CN-NM", "广西": "CN-GX",
    "西藏": "CN-XZ", "宁夏": "CN-NX", "新疆": "CN-XJ",
}  # fmt: skip


def place_hint(question: str) -> str | None:
    """The Chinese province or city a question names (``在深圳`` → ``CN-GD-SZ``)."""
    found = [(question.find(name), code) for name, code in PLACES.items() if name in question]
    if not found:
        return None
    # the most specific place named: 深圳 inside 广东 wins
    return max(found, key=lambda item: (item[1].count("-"), -item[0]))[1]


def named_titles(kb: KnowledgeBase, question: str) -> set[str]:
    """Titles of documents the question names ("按新的危险化学品安全法", "《安全生产法》")."""
    out = set()
    for title in _titles(kb):
        core = re.sub(r"^中华人民共和国|[（(].*?[）)]|\s+", "", title)
        if len(core) >= 4 and core in question:
            out.add(title)
    return out


_TITLE_CACHE: dict[int, tuple[int, list[str]]] = {}


def _titles(kb: KnowledgeBase) -> list[str]:
    key, gen = id(kb.registry), kb.registry.generation
    cached = _TITLE_CACHE.get(key)
    if cached is None or cached[0] != gen:
        cached = (gen, sorted({d.title for d in kb.registry.documents() if d.title}))
        _TITLE_CACHE[key] = cached
    return cached[1]


def jurisdiction_hint(question: str) -> str | None:
    """``US`` or ``CN`` when the question names one country's rules (the search's own cue)."""
    return query_cues(question).get("jurisdiction")


@dataclass
class Passage:
    """One numbered piece of evidence: a hit, with its neighbours when the hit was cut mid-rule."""

    n: int
    chunk: Chunk
    text: str
    score: float
    coverage: float = 0.0
    #: chunk ids making up ``text``, in document order
    chunk_ids: list[str] = field(default_factory=list)
    signals: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)

    @property
    def label(self) -> str:
        """How the passage is named to a reader: title, clause, page."""
        c = self.chunk
        page = f" p.{c.page}" if c.page else ""
        return f"{c.title} {c.locator}{page}".strip()

    def citation(self, quote: str | None = None) -> dict[str, Any]:
        c = self.chunk
        return {
            "n": self.n,
            "source": c.source,
            "title": c.title,
            "locator": c.locator,
            "page": c.page,
            "quote": quote if quote is not None else self.text,
            "doc_type": c.doc_type,
            "jurisdiction": c.jurisdiction,
            "language": c.language,
            "score": round(self.score, 4),
        }


@dataclass
class Evidence:
    """What retrieval found for one question."""

    query: str
    language: str
    passages: list[Passage]
    #: every rule (and, for accident questions, record) candidate after reranking, best first
    ranked: list[Passage]
    accident_question: bool = False
    hint: str | None = None
    #: query tokens with their weights (idf), for the gate
    weights: dict[str, float] = field(default_factory=dict)
    #: per query token, token sets standing for it in the other language
    alternatives: dict[str, list[set[str]]] = field(default_factory=dict)
    #: accident records search found, best first (related accidents start from these)
    accident_hits: list[Hit] = field(default_factory=list)
    #: rare names and codes in the question (see :class:`TermWeights`)
    rare_names: set[str] = field(default_factory=set)

    @property
    def top(self) -> Passage | None:
        return self.passages[0] if self.passages else None


# ----------------------------------------------------------------------------- term weights


#: a name in the question that at most this share of chunks mention is a specific thing the
#: answer must be about; if the passages found never mention it, they answer something else
RARE_NAME_SHARE = 0.002


class TermWeights:
    """IDF weights of the question's tokens, and the coverage of them by a passage.

    A token the corpus never uses weighs nothing (colloquial words such as 干活 say nothing
    about the evidence) unless it looks like a name or a code ("RIDDOR", "GS-1930"): those
    are exactly what a knowledge base without the right document lacks.
    """

    def __init__(self, kb: KnowledgeBase, question: str) -> None:
        index = kb.lexical()
        n_docs = max(1, len(index.ids))
        self.tokens = [t for t in dict.fromkeys(tokenize(question, for_query=True))]
        names = _named_tokens(question)
        self.n_docs = n_docs
        #: names and codes in the question that few chunks mention ("RIDDOR", "Genie")
        self.rare_names: set[str] = set()
        self.weights: dict[str, float] = {}
        self.df: dict[str, int] = {}
        self.alternatives: dict[str, list[set[str]]] = {}

        def df_of(token: str) -> int:
            if token not in self.df:
                self.df[token] = int((index.scores([token]) > 0).sum())
            return self.df[token]

        phrase_alts = _phrase_translations(question)
        site_alts = jargon.alternatives(question)
        for t in self.tokens:
            if _NUMBER_TOKEN.match(t) or t in _COUNTRY_TOKENS:
                continue  # figures and countries are the question's parameters, not its topic
            alts = _translations(t) + phrase_alts.get(t, []) + site_alts.get(t, [])
            # a concept the corpus holds only in the other language still counts
            df = max([df_of(t)] + [min(df_of(a) for a in alt) for alt in alts])
            if df == 0 and t not in names:
                continue
            if t in names and df <= RARE_NAME_SHARE * n_docs:
                self.rare_names.add(t)
            self.weights[t] = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            self.alternatives[t] = alts

    def coverage(self, passage_tokens: set[str], cross: bool = False) -> float:
        """IDF-weighted share of the question in ``passage_tokens``. For a passage in the
        other language (``cross``) only the words the glossary can translate, and codes and
        names that read the same in both, can be judged; the share is taken of those."""
        if not cross:
            return coverage(self.weights, self.alternatives, passage_tokens)
        judged = {
            t: w
            for t, w in self.weights.items()
            if self.alternatives.get(t) or not _CJK.search(t) and t in passage_tokens
        }
        return coverage(judged, self.alternatives, passage_tokens)


def coverage(
    weights: dict[str, float], alternatives: dict[str, list[set[str]]], tokens: set[str]
) -> float:
    """Share of the question's weight that ``tokens`` cover, translations counting."""
    total = sum(weights.values())
    if not total:
        return 0.0
    got = 0.0
    for t, w in weights.items():
        if t in tokens or any(alt <= tokens for alt in alternatives.get(t, ())):
            got += w
    return got / total


def _named_tokens(question: str) -> set[str]:
    """Lower-cased tokens that are names or codes in the question: ``RIDDOR``, ``Genie``, ``45001``."""
    names = set()
    for m in re.finditer(
        r"(?<![A-Za-z])([A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*|[A-Z][a-z]{2,})", question
    ):
        if m.start() == 0:
            continue  # a sentence's first word is capitalised anyway
        word = m.group(1).lower()
        if len(word) >= 3 and word not in _PLACE_WORDS:
            names.add(word)
    for m in re.finditer(r"[A-Za-z]+-?\d+|\d+-[A-Za-z0-9]+", question):
        names.update(t.lower() for t in re.findall(r"[A-Za-z0-9]+", m.group(0)))
    return names


#: tokens naming a country: the jurisdiction hint and the search's cues deal with them, and
#: no clause in that country's language spells them
_COUNTRY_TOKENS = {"china", "chinese", "prc", "usa", "america", "american", "美国", "中国", "我国"}
#: country words name the jurisdiction (see :func:`jurisdiction_hint`), not the subject
_PLACE_WORDS = {"china", "chinese", "prc", "usa", "america", "american", "federal"}


def _phrase_translations(question: str) -> dict[str, list[set[str]]]:
    """English tokens of multiword glossary terms in the question ("maternity leave"), each
    standing for the term's Chinese translation: "maternity" alone is in no glossary entry."""
    if _CJK.search(question):
        return {}
    out: dict[str, list[set[str]]] = {}
    lowered = question.lower()
    for term, zh_terms in TERMS.items():
        if " " not in term or not re.search(r"\b" + re.escape(term), lowered):
            continue
        alts = [set(tokenize(z)) for z in zh_terms]
        for tok in tokenize(term):
            out.setdefault(tok, []).extend(a for a in alts if a)
    return out


def _translations(token: str) -> list[set[str]]:
    """Token sets that stand for ``token`` in the other language (all must appear)."""
    lang = "zh" if _CJK.search(token) else "en"
    out = []
    for term in translate_terms(token, "en" if lang == "zh" else "zh"):
        toks = set(tokenize(term))
        if toks:
            out.append(toks)
    return out


# ----------------------------------------------------------------------------- retrieval


def retrieve(
    kb: KnowledgeBase,
    question: str,
    *,
    filters: dict[str, str] | None = None,
    budget_tokens: int = 700,
    max_passages: int = 5,
    language: str | None = None,
    candidates: int = 60,
) -> Evidence:
    """Search, rerank, expand and budget: the numbered passages an answer may rest on."""
    where = parse_where(filters)
    lang = language or detect_language(question)
    hint = jurisdiction_hint(question)
    wants_accident = accident_intent(question)

    hits = kb.search(question, k=candidates, where=where, candidates=max(150, candidates))
    fused = _rrf(hits)
    other = "en" if lang == "zh" else "zh"
    if "language" not in where and (hint == ("US" if other == "en" else "CN")):
        terms = translate_terms(question, other)
        if terms:
            extra = kb.search(
                " ".join(terms),
                k=30,
                where={**where, "language": other},
                mode="lexical",
                clause_boost=False,
            )
            for rank, h in enumerate(extra, start=1):
                entry = fused.setdefault(h.chunk.chunk_id, [h, 0.0])
                entry[1] += 0.8 / (60 + rank)
    reworded = jargon.in_rule_words(question) if W_SITE_WORDS else None
    if reworded:
        # the question in the rule's own words ("forklift" → "powered industrial truck")
        extra = kb.search(
            reworded,
            k=30,
            where=where,
            mode="lexical",
            clause_boost=False,
        )
        for rank, h in enumerate(extra, start=1):
            entry = fused.setdefault(h.chunk.chunk_id, [h, 0.0])
            entry[1] += W_SITE_WORDS / (60 + rank)

    weights = TermWeights(kb, question)
    place = place_hint(question) if lang == "zh" or _CJK.search(question) else None
    titles = named_titles(kb, question)
    units = asked_units(question)
    pool: list[Passage] = []
    accident_hits: list[Hit] = []
    for h, score in fused.values():
        c = _structured_copy(kb, h)
        if is_accident(c) and not wants_accident:
            accident_hits.append(h)
            continue
        ptoks = set(tokenize(c.title + "\n" + c.text))
        cross = bool(c.language) and c.language != lang
        cov = weights.coverage(ptoks, cross=cross)
        # for ranking, a clause in the other language is judged on its translatable words only
        # when the question points to that country; otherwise on all of the question
        rank_cov = cov if not cross or _hint_matches(hint, c) else weights.coverage(ptoks)
        final = _rerank_score(score, rank_cov, c, hint, clause="clause" in h.ranks)
        final += _prior(c, place, titles)
        if units and states_unit(c.text, units):
            final += W_UNIT
        pool.append(
            Passage(0, c, c.text, final, cov, [c.chunk_id], {"rrf": score, "ranks": h.ranks})
        )
    pool.sort(key=lambda p: -p.score)

    passages = _assemble(kb, pool, budget_tokens, max_passages)
    return Evidence(
        question,
        lang,
        passages,
        pool,
        wants_accident,
        hint,
        weights.weights,
        weights.alternatives,
        accident_hits,
        weights.rare_names,
    )


def _hint_matches(hint: str | None, chunk: Chunk) -> bool:
    return bool(hint) and (chunk.jurisdiction == hint or chunk.jurisdiction.startswith(f"{hint}-"))


def _rrf(hits: Sequence[Hit]) -> dict[str, list]:
    """chunk id → [hit, score]: the knowledge base's fused score without its clause boost."""
    out: dict[str, list] = {}
    for h in hits:
        score = h.score - (1.0 if "clause" in h.ranks else 0.0)
        out[h.chunk.chunk_id] = [h, score]
    return out


#: reranking weights: fused rank score (RRF, ~0.016-0.033 per ranker), question coverage,
#: an exact clause reference, and the country the question names
W_COVERAGE = 0.05
W_CLAUSE = 1.0
W_HINT = 0.01
#: weight of the lexical run on the rule's wording of the question's site words (RRF units)
W_SITE_WORDS = 0.5


#: a document the question names, the place it names, and national over local rules when
#: it names none (national law applies everywhere; a local rule only where it was made)
W_TITLE = 0.012
W_PLACE = 0.012
W_LOCAL = 0.004
#: a "how many days / 多高" question is answered by a clause that states days / a height
W_UNIT = 0.01
#: appendices (often non-mandatory) and guidance come after the rule they explain
W_APPENDIX = 0.006
W_GUIDANCE = 0.003


_CN_NUM = r"[一二两三四五六七八九十百千万\d]+"
#: what a question asks to be measured in, and how a clause states that measure
_UNIT_ASKED = {
    "day": r"多少天|几天|多少日|多少个工作日|how many (?:calendar |working )?days|how soon|within how",
    "hour": r"多少小时|几个?小时|how many hours",
    "year": r"几年|多少年|how many years|how long is .{0,40}valid",
    "month": r"几个月|多少个月|how many months",
    "length": r"多高|多远|多深|多宽|多长的|how (?:high|far|deep|wide|tall|close)|what (?:height|distance)",
    "people": r"多少人|几个人|几人|几名|多少名|how many (?:people|workers|employees|deaths)|死了?\d+个人",
    "money": r"罚多少|多少钱|罚款|how much .{0,20}(?:fine|penalt)",
}
_UNIT_STATED = {
    "day": rf"\d+\s*(?:calendar |working )?days?|{_CN_NUM}\s*(?:日|天|个工作日)",
    "hour": rf"\d+\s*hours?|{_CN_NUM}\s*小时",
    "year": rf"\d+\s*years?|{_CN_NUM}\s*年",
    "month": rf"\d+\s*months?|{_CN_NUM}\s*个?月",
    "length": r"\d+(?:\.\d+)?\s*(?:feet|foot|ft|inch|inches|meters?|m\b)|[\d.]+\s*(?:米|厘米|毫米)",
    "people": rf"{_CN_NUM}\s*(?:人|名)|\d+\s*(?:employees|workers|people)",
    "money": rf"{_CN_NUM}\s*万?元|\$\s*[\d,]+",
}


def asked_units(question: str) -> list[str]:
    return [u for u, p in _UNIT_ASKED.items() if re.search(p, question, re.IGNORECASE)]


def states_unit(text: str, units: Sequence[str]) -> bool:
    return any(re.search(_UNIT_STATED[u], text, re.IGNORECASE) for u in units)


def _prior(chunk: Chunk, place: str | None, titles: set[str]) -> float:
    score = W_TITLE if chunk.title in titles else 0.0
    if "appendix" in chunk.locator.lower() and chunk.title not in titles:
        score -= W_APPENDIX
    if chunk.doc_type == "guidance" and chunk.title not in titles:
        score -= W_GUIDANCE
    jur = chunk.jurisdiction
    local = jur.startswith("CN-")
    if place:
        if jur == place or jur.startswith(place + "-"):
            score += W_PLACE
        elif local:
            score -= W_PLACE
    elif local and not titles:
        score -= W_LOCAL
    return score


def _rerank_score(
    rrf: float, coverage: float, chunk: Chunk, hint: str | None, clause: bool
) -> float:
    score = rrf + W_COVERAGE * coverage + (W_CLAUSE if clause else 0.0)
    if hint:
        same = chunk.jurisdiction == hint or chunk.jurisdiction.startswith(hint + "-")
        score += W_HINT if same else -W_HINT
    return score


def _norm_text(text: str) -> str:
    """Text compared for duplicates: copies differ in spacing, punctuation and ``\\n`` marks."""
    return re.sub(r"[\W_]+", "", text.replace("\\n", "")).casefold()[:400]


def _prefer_structured_copies(pool: Sequence[Passage]) -> list[Passage]:
    """The pool with each duplicated text represented by its copy from a structured file.

    The same law can arrive twice (a Markdown edition and a plain-text one); the texts rank
    about equally, so which comes first is chance. The structured edition is the one to cite:
    its clause boundaries were read, not guessed.
    """
    groups: dict[str, list[Passage]] = {}
    for p in pool:
        groups.setdefault(_norm_text(p.chunk.text), []).append(p)
    out: list[Passage] = []
    done: set[str] = set()
    for p in pool:
        key = _norm_text(p.chunk.text)
        if key in done:
            continue
        done.add(key)
        copies = groups[key]
        best = next((c for c in copies if is_structured(c.chunk.source)), copies[0])
        if best is not p:
            best = Passage(
                p.n,
                best.chunk,
                best.text,
                p.score,
                max(p.coverage, best.coverage),
                best.chunk_ids,
                best.signals,
            )
        out.append(best)
    return out


def _structured_copy(kb: KnowledgeBase, hit: Hit) -> Chunk:
    """The hit's chunk, or the same text in a structured copy of its document (``also_in``)."""
    if is_structured(hit.chunk.source):
        return hit.chunk
    for source in getattr(hit, "also_in", None) or ():
        if not is_structured(source):
            continue
        row = kb.registry.document(source)
        if row is None:
            continue
        key = _norm_text(hit.chunk.text)
        for c in kb.registry.document_chunks(row.doc_id):
            if _norm_text(c.text) == key:
                return c
    return hit.chunk


def _assemble(
    kb: KnowledgeBase, pool: Sequence[Passage], budget_tokens: int, max_passages: int
) -> list[Passage]:
    """The best passages within the budget: duplicates dropped, cut rules joined to neighbours."""
    chosen: list[Passage] = []
    seen_text: set[str] = set()
    used_ids: set[str] = set()
    spent = 0
    doc_cache: dict[str, list[Chunk]] = {}
    for p in _prefer_structured_copies(pool):
        if len(chosen) >= max_passages:
            break
        if p.chunk.chunk_id in used_ids:
            continue
        key = _norm_text(p.chunk.text)
        if key in seen_text:
            continue
        text, ids = _with_neighbours(kb, p.chunk, doc_cache, used_ids)
        cost = estimate_tokens(text)
        if chosen and spent + cost > budget_tokens:
            # a shorter passage further down may still fit; a long one never will
            if estimate_tokens(p.chunk.text) + spent > budget_tokens:
                continue
            text, ids = p.chunk.text, [p.chunk.chunk_id]
            cost = estimate_tokens(text)
        if not chosen and cost > budget_tokens:
            text = clip_to_tokens(text, budget_tokens)
            cost = estimate_tokens(text)
        seen_text.add(key)
        used_ids.update(ids)
        spent += cost
        chosen.append(Passage(len(chosen) + 1, p.chunk, text, p.score, p.coverage, ids, p.signals))
    return chosen


def clip_to_tokens(text: str, budget: int) -> str:
    """The start of ``text`` within ``budget`` estimated tokens, cut at a sentence end if possible."""
    if estimate_tokens(text) <= budget:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_tokens(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    ends = [cut.rfind(ch) for ch in "。；.;\n"]
    best = max(ends)
    return cut[: best + 1] if best > lo // 2 else cut + "…"


_CLAUSE_ROOT = re.compile(
    r"^(第[零〇一二三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?)"
    r"|^(\d{4}\.\d+[a-z]?(?:\([a-z]{1,2}\))?)"
    r"|^(SEC\. \d+[A-Za-z]?(?:\([a-z]\))?)"
)


def clause_root(locator: str) -> str:
    """The rule a chunk belongs to: article ``第四十一条``, CFR ``1926.501(b)``, ``SEC. 5(a)``."""
    m = _CLAUSE_ROOT.match(locator)
    return next((g for g in m.groups() if g), locator) if m else locator


def _ends_mid_rule(text: str) -> bool:
    tail = text.rstrip()[-1:]
    return bool(tail) and tail not in '。；.;:：!！?？）)"”'


def _with_neighbours(
    kb: KnowledgeBase, chunk: Chunk, cache: dict[str, list[Chunk]], used: set[str]
) -> tuple[str, list[str]]:
    """The chunk's text, with the next chunk of the same clause when this one stops mid-rule,
    and the previous one when this chunk continues a rule without restating its start."""
    continues, cut = _continues(chunk), _ends_mid_rule(chunk.text)
    if is_accident(chunk) or not (continues or cut):
        return chunk.text, [chunk.chunk_id]  # whole as it is: no need to read its document
    if chunk.doc_id not in cache:
        cache[chunk.doc_id] = kb.registry.document_chunks(chunk.doc_id)
    chunks = cache[chunk.doc_id]
    pos = next((i for i, c in enumerate(chunks) if c.chunk_id == chunk.chunk_id), None)
    if pos is None:
        return chunk.text, [chunk.chunk_id]
    root = clause_root(chunk.locator)
    parts = [chunk]
    if pos > 0 and continues and clause_root(chunks[pos - 1].locator) == root:
        prev = chunks[pos - 1]
        if prev.chunk_id not in used:
            parts.insert(0, prev)
    if pos + 1 < len(chunks) and cut:
        nxt = chunks[pos + 1]
        if clause_root(nxt.locator) == root and nxt.chunk_id not in used:
            parts.append(nxt)
    return join_parts([p.text for p in parts]), [p.chunk_id for p in parts]


def join_parts(texts: Sequence[str]) -> str:
    """Neighbouring chunks as one text, without the heading each of them repeats
    (``§ 1926.501 Duty to have…`` in a CFR paragraph, ``第四十一条`` in a 款)."""
    if not texts:
        return ""
    out = [texts[0]]
    first_line = texts[0].split("\n", 1)[0].strip()
    article = re.match(r"^(第[^条\s]{1,8}条)\s*", texts[0])
    for text in texts[1:]:
        head, _, rest = text.partition("\n")
        if first_line and head.strip() == first_line and rest:
            text = rest
        elif article and text.startswith(article.group(1)):
            text = text[len(article.group(1)) :].lstrip()
        out.append(text)
    return "\n".join(out)


def _continues(chunk: Chunk) -> bool:
    """A chunk that starts in the middle of a sentence: lower-case or list continuation."""
    first = chunk.text.lstrip()[:1]
    return bool(first) and (first.islower() or first in "，,；;")


def passages_text(passages: Iterable[Passage]) -> str:
    return "\n".join(p.text for p in passages)
