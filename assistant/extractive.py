"""The extractive answer: the most relevant sentences of the best clauses, quoted and cited.

No model, so it is instant and cannot invent a figure; it is the default backend, and the
fallback whenever a model is missing, fails, or writes a number its passages do not hold.
Sentences are chosen by how much of the question they cover (IDF-weighted), with a bonus for
rules (shall/must/应当/必须) and, for "how many/多少" questions, for sentences with figures.
Requirements come first, then conditions and exceptions. A clause in the other language is
quoted briefly, with its key figures restated in the question's language (98天 → 98 days),
since an extractive answer cannot translate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.glossary import EN_UNITS, ZH_UNITS
from assistant.retrieve import Passage, coverage, is_accident
from ingest.clauses import cn_to_int
from ingest.language import detect_language
from ingest.lexical import tokenize

_NUMERIC_Q = re.compile(
    r"多少|几[个天年月小时次人米]|多[长久高远大深宽重]|how (?:many|much|far|long|high|deep|wide|"
    r"often|soon|tall|close|heavy|old|big)|what (?:distance|height|depth|width|temperature|percent)"
    r"|within how|at least|maximum|minimum|最[长短高低多少大小]",
    re.IGNORECASE,
)
_NORMATIVE = re.compile(
    r"\b(?:shall|must|required|is prohibited|may not)\b|应当|必须|不得|严禁|禁止|应|须",
    re.IGNORECASE,
)
_EXCEPTION = re.compile(
    r"\b(?:except|unless|provided that|does not apply|do not apply|not required|exempt|in lieu of|"
    r"however|exception)\b|但是|除[^。；]{0,30}外|不适用|例外|可以不|免于|但[^是]",
    re.IGNORECASE,
)
_CONDITION = re.compile(
    r"^(?:\(\w{1,4}\)\s*)?(?:when|where|if|before|after|in the event)\b|情形之一", re.I
)
_HAS_FIGURE = re.compile(
    r"\d|[一二三四五六七八九十百千万两]+(?:个|日|天|年|月|小时|人|米|倍|万|元|次|名)"
)
_SENTENCE_ZH = re.compile(r"[^。；！？\n]+[。；！？]?")
_SENTENCE_EN = re.compile(r".+?(?:(?<![A-Z0-9])[.;](?=\s|$)|\n|$)", re.S)

#: characters of quotation per passage: same language, and a clause in the other language
_QUOTE_CHARS = {"same": 900, "accident": 650, "cross_zh_in_en": 300, "cross_en_in_zh": 110}


@dataclass
class Quoted:
    passage: Passage
    requirements: list[str]
    conditions: list[str]
    figures: list[str]

    @property
    def quote(self) -> str:
        return " ".join(self.requirements + self.conditions)


def sentences(text: str) -> list[str]:
    pattern = _SENTENCE_ZH if detect_language(text) == "zh" else _SENTENCE_EN
    out = [s.strip() for s in pattern.findall(text)]
    return [s for s in out if len(s) > 1]


def _relevance(
    sentence: str,
    weights: dict[str, float],
    numeric: bool,
    alternatives: dict[str, list[set[str]]] | None = None,
) -> float:
    score = coverage(weights, alternatives or {}, set(tokenize(sentence)))
    if _NORMATIVE.search(sentence):
        score += 0.15
    if numeric and _HAS_FIGURE.search(sentence):
        score += 0.4
    return score


def quote_passage(
    passage: Passage,
    weights: dict[str, float],
    question: str,
    language: str,
    alternatives: dict[str, list[set[str]]] | None = None,
    lead: bool = True,
) -> Quoted:
    """The sentences of ``passage`` worth quoting, split into requirements and conditions."""
    numeric = bool(_NUMERIC_Q.search(question))
    plang = passage.chunk.language or detect_language(passage.text)
    if is_accident(passage.chunk):
        limit = _QUOTE_CHARS["accident"]
    elif plang == language:
        limit = _QUOTE_CHARS["same"]
    else:
        limit = _QUOTE_CHARS["cross_zh_in_en" if language == "en" else "cross_en_in_zh"]
    if not lead:  # a supporting clause is quoted more briefly than the main one
        limit = limit * 2 // 3
    sents = sentences(passage.text)
    if not sents:
        return Quoted(passage, [], [], [])
    body = [x for x in sents if not _header_sentence(x)]
    if sum(len(s) for s in body) <= limit:
        chosen = body
    else:
        ranked = sorted(
            range(len(body)), key=lambda i: -_relevance(body[i], weights, numeric, alternatives)
        )
        keep: set[int] = set()
        used = 0
        for i in ranked:
            if used and used + len(body[i]) > limit:
                continue
            keep.add(i)
            used += len(body[i])
            if used >= limit:
                break
        chosen = [body[i] if len(body[i]) <= limit else _clip(body[i], limit) for i in sorted(keep)]
    requirements = [s for s in chosen if not (_EXCEPTION.search(s) or _CONDITION.search(s))]
    conditions = [s for s in chosen if s not in requirements]
    if not requirements and conditions:
        requirements, conditions = conditions[:1], conditions[1:]
    figures = key_figures(" ".join(chosen), plang, language) if plang != language else []
    if plang != language and not is_accident(passage.chunk):
        # figures first from what was chosen, then from the rest of the clause
        figures += [f for f in key_figures(passage.text, plang, language) if f not in figures]
        figures = figures[:6]
    return Quoted(passage, requirements, conditions, figures)


def _header_sentence(sentence: str) -> bool:
    """A line that only repeats the section heading (``§ 1926.501 Duty to have…``)."""
    return (
        bool(re.match(r"^§\s*\d", sentence))
        and len(sentence) < 140
        and not _NORMATIVE.search(sentence)
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(10, limit - 1)].rstrip() + "…"


_EN_FIGURE = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s*(?:-\s*)?("
    + "|".join(sorted(map(re.escape, EN_UNITS), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
_ZH_FIGURE = re.compile(
    r"([零〇一二两三四五六七八九十百千万\d]+)\s*("
    + "|".join(sorted(map(re.escape, ZH_UNITS), key=len, reverse=True))
    + r")"
)


def key_figures(text: str, from_lang: str, to_lang: str) -> list[str]:
    """Figures with their units, restated in ``to_lang``: ``98天`` → ``98 days``."""
    out: list[str] = []
    if from_lang == "en" and to_lang == "zh":
        for m in _EN_FIGURE.finditer(text):
            item = f"{m.group(1)} {EN_UNITS[m.group(2).lower()]}"
            if item not in out:
                out.append(item)
    elif from_lang == "zh" and to_lang == "en":
        for m in _ZH_FIGURE.finditer(text):
            raw = m.group(1)
            try:
                value = str(cn_to_int(raw))
            except ValueError:
                continue
            item = f"{value} {ZH_UNITS[m.group(2)]}"
            if item not in out:
                out.append(item)
    return out[:6]


def choose_citations(passages: Sequence[Passage], max_cited: int = 3) -> list[Passage]:
    """The passages the answer rests on: the best one, and others nearly as good.

    Every citation should hold the answer (citation precision is the measure), so a second
    passage must score close to the first and cover the question about as well.
    """
    if not passages:
        return []
    top = passages[0]
    chosen = [top]
    for p in passages[1:]:
        if len(chosen) >= max_cited:
            break
        if (
            p.score >= top.score * CITE_SCORE_RATIO
            and p.coverage >= top.coverage * CITE_COVERAGE_RATIO
        ):
            chosen.append(p)
    return chosen


#: a further passage is cited when its score and coverage are this close to the best one's
CITE_SCORE_RATIO = 0.9
CITE_COVERAGE_RATIO = 0.9


def _label(p: Passage, language: str) -> str:
    c = p.chunk
    title = c.title
    if is_accident(c):
        rid = c.source.split("#", 1)[1] if "#" in c.source else c.locator
        return f"事故记录 {rid}" if language == "zh" else f"Accident record {rid}"
    if language == "zh" and c.language == "zh":
        return f"《{title}》{c.locator}"
    page = f", p.{c.page}" if c.page else ""
    return f"{title} {c.locator}{page}"


def compose(
    question: str,
    language: str,
    cited: Sequence[Passage],
    weights: dict[str, float],
    related: Sequence[dict[str, Any]] = (),
    alternatives: dict[str, list[set[str]]] | None = None,
    heading: str | None = None,
) -> tuple[str, dict[int, str]]:
    """The answer text and, per cited passage number, the quote it shows (``heading`` in place
    of the usual first line)."""
    quoted = [
        quote_passage(p, weights, question, language, alternatives, lead=i == 0)
        for i, p in enumerate(cited)
    ]
    zh = language == "zh"
    lines: list[str] = []
    accident_answer = bool(cited) and all(is_accident(p.chunk) for p in cited)
    if heading is not None:
        lines.append(heading)
    elif accident_answer:
        lines.append("知识库中相符的事故记录：" if zh else "Matching accident records:")
    else:
        lines.append("根据知识库中的条文，要求如下：" if zh else "What the rules require:")
    for i, q in enumerate(quoted, start=1):
        if not q.requirements:
            continue
        lines.append(_quote_line(i, q, zh))
        if q.figures:
            lines.append(
                "   关键数值：" + "；".join(q.figures)
                if zh
                else "   Key figures: " + "; ".join(q.figures)
            )
    # a clause in the other language shows its figures, not its sentences (see _quote_line)
    conditions = [(q, s) for q in quoted if not _foreign(q.passage, zh) for s in q.conditions]
    if conditions:
        lines.append("适用条件和例外：" if zh else "Conditions and exceptions:")
        for q, s in conditions:
            lines.append(f"- {_q(s, zh)} [{q.passage.n}]")
    lines += related_lines(related, zh)
    quotes = {q.passage.n: q.quote or q.passage.text for q in quoted}
    return "\n".join(lines), quotes


def clause_words(
    question: str,
    language: str,
    cited: Sequence[Passage],
    weights: dict[str, float],
    alternatives: dict[str, list[set[str]]] | None = None,
) -> str:
    """The cited clauses' own words, to follow a model's answer: a small model paraphrases
    figures and drops conditions, and a supervisor signs for the rule as written."""
    if not cited:
        return ""
    heading = "条文原文：" if language == "zh" else "The clauses, as written:"
    text, _ = compose(question, language, cited, weights, (), alternatives, heading=heading)
    return "\n\n" + text


def _q(text: str, zh: bool) -> str:
    return f"“{text}”" if zh else f'"{text}"'


def _foreign(p: Passage, zh: bool) -> bool:
    """A clause in the other language than the answer (records are quoted as they are)."""
    return p.chunk.language not in ("", "zh" if zh else "en") and not is_accident(p.chunk)


def _quote_line(i: int, q: Quoted, zh: bool) -> str:
    c = q.passage.chunk
    body = " ".join(q.requirements)
    foreign = _foreign(q.passage, zh)
    if zh and foreign:
        # the title stays in the citation: an English title would outweigh the Chinese frame
        place = "美国法规" if c.jurisdiction.startswith("US") else "法规"
        return f"{i}. 依据{place} {c.locator}（英文原文节选）：{_q(body, zh)} [{q.passage.n}]"
    if zh:
        return f"{i}. 依据{_label(q.passage, 'zh')}：{_q(body, zh)} [{q.passage.n}]"
    if foreign:
        # an extractive answer cannot translate: name the clause, give its figures, and leave
        # the Chinese text to the citation
        article = _article_number(c.locator)
        where = "Chinese national" if c.jurisdiction == "CN" else "Chinese local"
        return (
            f"{i}. {article} of the cited {where} {_doc_kind(c.doc_type)} [{q.passage.n}] "
            "(the clause is in Chinese; its text is quoted in the citation)."
        )
    return f"{i}. {_label(q.passage, 'en')}: {_q(body, zh)} [{q.passage.n}]"


def _article_number(locator: str) -> str:
    m = re.match(r"第([零〇一二两三四五六七八九十百千\d]+)条", locator)
    if not m:
        return "The clause"
    try:
        return f"Article {cn_to_int(m.group(1))}"
    except ValueError:
        return "The clause"


def _doc_kind(doc_type: str) -> str:
    return {
        "law": "law",
        "administrative_regulation": "regulation",
        "local_regulation": "regulation",
        "departmental_rule": "rule",
        "judicial_interpretation": "judicial interpretation",
        "standard": "standard",
    }.get(doc_type, "document")


def related_lines(related: Sequence[dict[str, Any]], zh: bool) -> list[str]:
    if not related:
        return []
    lines = ["相关事故（可供吸取的教训）：" if zh else "Related accidents (lessons):"]
    for r in related:
        if zh:  # the English title stays in related_accidents; the line is Chinese
            lines.append(f"- 事故记录 {r['record_id']}。教训：{r['lesson']}")
        else:
            lines.append(f"- Record {r['record_id']}: {r['title']}. Lesson: {r['lesson']}")
    return lines


def refusal_text(
    language: str, reason: str, missing: Sequence[str], nearest: Sequence[dict[str, Any]]
) -> str:
    """What a refusal says: that the knowledge base does not cover it, why, and where to look."""
    zh = language == "zh"
    if reason == "unmentioned" and missing:
        names = "、".join(missing) if zh else ", ".join(missing)
        head = (
            f"知识库中找到的条文都没有提到{names}，无法据此回答。"
            if zh
            else f"No clause found mentions {names}; the knowledge base does not cover this."
        )
    elif reason == "missing" and missing:
        names = "、".join(missing) if zh else ", ".join(missing)
        head = (
            f"知识库中没有{names}的相关文件，无法据此回答。"
            if zh
            else f"The knowledge base holds no document for {names}, so it cannot answer this."
        )
    else:
        head = (
            "知识库中没有找到足以回答这个问题的条文。"
            if zh
            else "The knowledge base does not cover this: no clause found answers the question."
        )
    if nearest:
        head += "\n最接近的条文：" if zh else "\nNearest clauses found:"
        for n in nearest:
            head += f"\n- {n['title']} {n['locator']}"
    return head
