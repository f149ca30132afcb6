"""Scoring one question: does a retrieved chunk or a citation hit the gold clause, and how well.

Pure functions, no I/O, so the numbers in the report can be checked by hand in the unit tests.

Matching follows the locator contract (ARCHITECTURE.md, "Eval datasets"): a chunk matches a gold
entry when the sources are equal and either the chunk's locator starts with the gold locator at a
label boundary (``1926.501`` matches ``1926.501(b)(1)``, ``第二十一条`` matches ``第二十一条第二款``,
``1926.50`` does not match ``1926.501``) or the chunk's text contains one of the item's evidence
phrases (so a long section split into several chunks still counts).

Every metric is a float in [0, 1], or ``None`` where it does not apply to the item (retrieval
metrics of an unanswerable question, say); :func:`aggregate` averages only the values that apply.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ingest.clauses import locator_matches

DEFAULT_KS: tuple[int, ...] = (1, 5, 10)
NDCG_K = 10

#: what may follow a gold locator inside a longer chunk locator for the two to still name the same
#: clause: a sub-paragraph ``(b)``, a Chinese 款/项 ``第二款``, a numbered sub-clause ``4.2.1``.
#: A digit or letter never does: ``1926.50`` is not ``1926.501``, ``SEC. 5`` is not ``SEC. 50``.

MatchFn = Callable[[dict, dict, Sequence[str]], bool]


# --------------------------------------------------------------------------- matching


def _norm_source(source: Any) -> str:
    return unicodedata.normalize("NFC", str(source or "")).strip().replace("\\", "/")


def _locator_matches(chunk_locator: Any, gold_locator: Any) -> bool:
    """True when ``chunk_locator`` names the gold clause or one of its sub-clauses."""
    return locator_matches(str(chunk_locator or ""), str(gold_locator or ""))


def _sources_match(result_source: Any, gold_source: Any) -> bool:
    """Equal sources; a gold naming a whole record set (no ``#row``) also covers its rows."""
    res, gold = _norm_source(result_source), _norm_source(gold_source)
    if not res or not gold:
        return False
    if res == gold:
        return True
    if "#" not in gold and "#" in res:
        return res.split("#", 1)[0] == gold
    return False


def _result_sources(result: dict) -> list[Any]:
    """The result's document, then the other documents holding the same text (``also_in``).

    Search gives one slot to a clause that several copies of a law carry (ingest.kb, dedupe);
    the slot names every copy, so it delivers the gold clause whichever copy it leads with.
    """
    return [result.get("source"), *(result.get("also_in") or [])]


def _squash(text: Any) -> str:
    """Text folded for containment checks: NFKC, casefolded, with all whitespace removed.

    Removing whitespace entirely (not just collapsing it) survives PDF line breaks in the middle
    of Chinese sentences and full-width/half-width spacing differences.
    """
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    return re.sub(r"\s+", "", text)


def _contains_evidence(text: Any, evidence: Iterable[str]) -> bool:
    haystack = _squash(text)
    if not haystack:
        return False
    for phrase in evidence:
        needle = _squash(phrase)
        if needle and needle in haystack:
            return True
    return False


def chunk_matches_gold(
    result: dict,
    gold: dict,
    evidence: Sequence[str],
    *,
    other_gold: Sequence[dict] = (),
) -> bool:
    """Whether one retrieved chunk (or a citation, with its quote as ``text``) hits ``gold``.

    ``gold`` may carry its own ``"evidence"`` list, which then replaces the item-level phrases.
    ``other_gold`` are the item's other gold entries: a chunk whose locator is one of *them* is not
    credited to this entry through an evidence phrase, which would otherwise let one chunk satisfy
    both halves of a two-clause question from the same law.
    """
    if not any(_sources_match(src, gold.get("source")) for src in _result_sources(result)):
        return False
    if _locator_matches(result.get("locator"), gold.get("locator")):
        return True
    phrases = gold.get("evidence") or evidence
    if not phrases or not _contains_evidence(result.get("text"), phrases):
        return False
    return not any(
        _sources_match(result.get("source"), other.get("source"))
        and _locator_matches(result.get("locator"), other.get("locator"))
        for other in other_gold
        if other is not gold
    )


def match_matrix(
    results: Sequence[dict],
    gold: Sequence[dict],
    evidence: Sequence[str],
    is_match: MatchFn | None = None,
) -> list[list[bool]]:
    """``m[i][g]``: result ``i`` matches gold entry ``g`` (``is_match`` or the default rule)."""
    matrix = []
    for result in results:
        row = []
        for entry in gold:
            if is_match is None:
                others = [o for o in gold if o is not entry]
                row.append(chunk_matches_gold(result, entry, evidence, other_gold=others))
            else:
                row.append(bool(is_match(result, entry, evidence)))
        matrix.append(row)
    return matrix


# --------------------------------------------------------------------------- retrieval


def _assign_ranks(matrix: list[list[bool]], n_gold: int) -> dict[int, int]:
    """Credit each gold entry to a distinct result, earliest ranks first (gold -> 0-based rank).

    A chunk holding two gold clauses must not score twice in nDCG. Taking ranks in order and
    keeping a rank whenever an augmenting path (Kuhn's algorithm) can fit it is the greedy
    algorithm on a transversal matroid, so it maximises the DCG with its decreasing gains.
    """
    gold_to_rank: dict[int, int] = {}

    def place(rank: int, seen: set[int]) -> bool:
        for g in range(n_gold):
            if matrix[rank][g] and g not in seen:
                seen.add(g)
                if g not in gold_to_rank or place(gold_to_rank[g], seen):
                    gold_to_rank[g] = rank
                    return True
        return False

    for rank in range(len(matrix)):
        if len(gold_to_rank) == n_gold:
            break
        place(rank, set())
    return gold_to_rank


def retrieval_metrics(
    results: Sequence[dict],
    gold: Sequence[dict],
    evidence: Sequence[str],
    ks: Sequence[int] = DEFAULT_KS,
    *,
    is_match: MatchFn | None = None,
) -> dict[str, float | None]:
    """Recall@k, MRR and nDCG@10 of one ranked result list (best first) against the gold clauses.

    - ``recall@k``: fraction of gold entries matched by any of the top k (a two-clause question
      with one clause found scores 0.5);
    - ``mrr``: 1 / rank of the first result matching any gold entry, 0 when none does;
    - ``ndcg@10``: binary gain per gold entry, each counted once at a distinct rank
      (:func:`_assign_ranks`); the ideal ranking puts every gold entry at the top.

    With no gold entries every value is ``None``: the question has nothing to retrieve.
    """
    names = [f"recall@{k}" for k in ks] + ["mrr", f"ndcg@{NDCG_K}"]
    if not gold:
        return dict.fromkeys(names)
    matrix = match_matrix(results, gold, evidence, is_match)
    first_rank: dict[int, int] = {}
    for rank, row in enumerate(matrix, start=1):
        for g, hit in enumerate(row):
            if hit and g not in first_rank:
                first_rank[g] = rank
    out: dict[str, float | None] = {}
    for k in ks:
        out[f"recall@{k}"] = sum(1 for r in first_rank.values() if r <= k) / len(gold)
    any_hit = [rank for rank, row in enumerate(matrix, start=1) if any(row)]
    out["mrr"] = 1.0 / any_hit[0] if any_hit else 0.0
    assigned = _assign_ranks(matrix[:NDCG_K], len(gold))
    dcg = sum(1.0 / math.log2(rank + 2) for rank in assigned.values())
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), NDCG_K)))
    out[f"ndcg@{NDCG_K}"] = dcg / ideal
    return out


# --------------------------------------------------------------------------- answers

_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMERAL_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万]+")
_CN_ORDINAL = re.compile(r"第([零〇一二两三四五六七八九十百千]+)(?=[编章节条款项])")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def _cn_to_int(run: str) -> int | None:
    """Value of a Chinese numeral run (``十五`` 15, ``一百二十`` 120, ``二〇二一`` 2021)."""
    if run.startswith("万"):
        return None  # 万一, 万无一失: words, not numbers
    if all(ch in _CN_DIGITS for ch in run):
        if len(run) == 1:
            return _CN_DIGITS[run]
        return int("".join(str(_CN_DIGITS[ch]) for ch in run))  # digit by digit: a year
    total, section, digit = 0, 0, None
    for ch in run:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
    return total + section + (digit or 0)


def _arabic_numerals(text: str) -> str:
    """Chinese numeral runs rewritten as Arabic numerals, so ``十五日`` and ``15日`` compare equal."""

    def repl(m: re.Match[str]) -> str:
        value = _cn_to_int(m.group(0))
        return m.group(0) if value is None else str(value)

    return _CN_NUMERAL_RUN.sub(repl, text)


def fact_found(fact: str, answer_text: str) -> bool:
    """A fact appears in the answer: case-insensitive, whitespace-insensitive, with one allowance.

    The allowance: Chinese and Arabic numerals are interchangeable (``三十日`` ~ ``30日``, both
    sides are rewritten with Arabic numerals and compared again). Deliberately nothing more: no
    unit conversion, no ``6 feet`` ~ ``six feet`` ~ ``6-foot``; dataset facts should be written
    the way the source text states them.
    """
    needle, haystack = _squash(fact), _squash(answer_text)
    if not needle:
        return False
    if needle in haystack:
        return True
    return _arabic_numerals(needle) in _arabic_numerals(haystack)


def detect_language(text: str) -> str | None:
    """``"zh"`` or ``"en"`` by which script carries more tokens, ``None`` for text with neither.

    Counts CJK characters against Latin *words*, so an English answer naming a Chinese law, or a
    Chinese answer quoting an English clause, keeps its own language.
    """
    cjk = len(_CJK.findall(text or ""))
    words = len(_LATIN_WORD.findall(text or ""))
    if cjk == 0 and words == 0:
        return None
    return "zh" if cjk >= words else "en"


def _lang_code(lang: Any) -> str:
    return str(lang or "").strip().lower()[:2]


def answer_metrics(answer: dict, item: dict, is_match: MatchFn | None = None) -> dict[str, Any]:
    """Score one Answer (ARCHITECTURE.md "Answer") against its dataset item.

    - ``citation_precision``: citations matching some gold entry (the quote stands in for the
      chunk text in the evidence check) / citations; answerable items with citations only;
    - ``citation_recall``: gold entries matched by some citation / gold entries;
    - ``refusal_accuracy``: 1 when an unanswerable item was refused (unanswerable items only);
    - ``false_refusal_rate``: 1 when an answerable item was refused (answerable items only);
    - ``refusal_correct``: refused exactly when unanswerable (every item);
    - ``fact_recall``: facts found in the answer text (:func:`fact_found`); items with facts;
    - ``language_match``: the answer text (refusal messages included) is in the item's language.

    ``is_match`` defaults to :func:`chunk_matches_gold` (with the two-clause guard).
    """
    answerable = bool(item.get("answerable", True))
    gold = list(item.get("gold") or [])
    evidence = list(item.get("evidence") or [])
    facts = [f for f in item.get("facts") or [] if str(f).strip()]
    refused = bool(answer.get("refused"))
    text = str(answer.get("answer") or "")
    cited = [
        {**c, "text": c.get("quote") or c.get("text") or ""} for c in answer.get("citations") or []
    ]

    precision = recall = None
    if answerable and gold:
        matrix = match_matrix(cited, gold, evidence, is_match)
        if cited:
            precision = sum(1 for row in matrix if any(row)) / len(cited)
        recall = sum(1 for g in range(len(gold)) if any(row[g] for row in matrix)) / len(gold)

    detected = detect_language(text)
    return {
        "citation_precision": precision,
        "citation_recall": recall,
        "refusal_accuracy": None if answerable else float(refused),
        "false_refusal_rate": float(refused) if answerable else None,
        "refusal_correct": float(refused != answerable),
        "fact_recall": (
            sum(1 for f in facts if fact_found(f, text)) / len(facts) if facts else None
        ),
        "language_match": (
            None if detected is None else float(detected == _lang_code(item.get("lang")))
        ),
    }


# --------------------------------------------------------------------------- aggregation


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default does."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _summarise(rows: Sequence[dict]) -> dict[str, Any]:
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for row in rows:
        for name, value in (row.get("metrics") or {}).items():
            if value is None:
                continue
            sums[name] = sums.get(name, 0.0) + float(value)
            counts[name] = counts.get(name, 0) + 1
    out: dict[str, Any] = {
        "n": len(rows),
        "n_answerable": sum(1 for r in rows if r.get("answerable", True)),
    }
    out.update({name: sums[name] / counts[name] for name in sorted(sums)})
    latencies = [float(r["latency_ms"]) for r in rows if r.get("latency_ms") is not None]
    out["latency_p50_ms"] = percentile(latencies, 50)
    out["latency_p95_ms"] = percentile(latencies, 95)
    return out


def is_cross_lingual(row: dict) -> bool:
    """An item in the ``cross_lingual`` group: so categorised, or flagged ``cross_lingual``."""
    return row.get("category") == "cross_lingual" or bool(row.get("cross_lingual"))


def aggregate(rows: Sequence[dict]) -> dict[str, Any]:
    """Means of every metric that applies, overall, per language and per category.

    ``rows`` carry ``lang``, ``category``, ``answerable``, ``latency_ms`` and ``metrics`` (a dict
    of floats or ``None``). Returns ``{"overall": {...}, "by_lang": {lang: {...}},
    "by_category": {category: {...}}}``, each summary with ``n``, ``n_answerable``, the metric
    means over the rows where they apply, and ``latency_p50_ms`` / ``latency_p95_ms``. Items
    flagged ``cross_lingual`` also join the ``cross_lingual`` category whatever their own.
    """
    by_lang: dict[str, list[dict]] = {}
    by_category: dict[str, list[dict]] = {}
    for row in rows:
        by_lang.setdefault(_lang_code(row.get("lang")) or "unknown", []).append(row)
        category = str(row.get("category") or "uncategorised")
        by_category.setdefault(category, []).append(row)
        if is_cross_lingual(row) and category != "cross_lingual":
            by_category.setdefault("cross_lingual", []).append(row)
    return {
        "overall": _summarise(rows),
        "by_lang": {k: _summarise(v) for k, v in sorted(by_lang.items())},
        "by_category": {k: _summarise(v) for k, v in sorted(by_category.items())},
    }


def group_summary(agg: dict, group: str) -> dict[str, Any] | None:
    """One group of an :func:`aggregate` result by name: ``overall``, a language or a category."""
    if group == "overall":
        return agg.get("overall")
    return (agg.get("by_lang") or {}).get(group) or (agg.get("by_category") or {}).get(group)
