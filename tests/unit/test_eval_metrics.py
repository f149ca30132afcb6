"""Eval metrics on hand-made result lists whose values were worked out by hand."""

from __future__ import annotations

import math

import pytest

from evals.metrics import (
    _locator_matches,
    aggregate,
    answer_metrics,
    chunk_matches_gold,
    detect_language,
    fact_found,
    percentile,
    retrieval_metrics,
)

LAW = "regulations/cn/安全生产法(2021-06-10).md"
CFR = "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf"
OSH = "regulations/us/osh-act-1970.md"


def chunk(source: str, locator: str, text: str = "") -> dict:
    return {"source": source, "locator": locator, "text": text, "title": "", "score": 0.0}


# ------------------------------------------------------------------ locator boundaries


@pytest.mark.parametrize(
    ("chunk_locator", "gold_locator", "expected"),
    [
        ("1926.501", "1926.501", True),
        ("1926.501(b)(1)", "1926.501", True),
        ("1926.501(b)(1)", "1926.501(b)", True),
        ("1926.501(b)(10)", "1926.501(b)(1)", False),
        ("1926.501", "1926.50", False),
        ("1926.50", "1926.501", False),
        ("§ 1926.501(b)", "1926.501", True),
        ("第二十一条", "第二十一条", True),
        ("第二十一条第二款", "第二十一条", True),
        ("第二十一条", "第二条", False),
        ("第二十一条", "第二十条", False),
        ("第二十一条第二款", "第二十一条第三款", False),
        ("SEC. 5(a)(1)", "SEC. 5", True),
        ("SEC. 50", "SEC. 5", False),
        ("Sec. 5(a)", "SEC. 5", True),
        ("4.2.1", "4.2", True),
        ("4.21", "4.2", False),
        ("p.12", "p.1", False),
        ("p.12", "p.12", True),
        ("Inspection Preparation and Planning", "Inspection Preparation and Planning", True),
        ("Inspection Preparation", "Inspection", False),
        ("第21条第2款", "第二十一条", True),
        ("第二十一条", "第21条", True),
        ("第 二十一 条", "第二十一条", True),
        ("第十条之一", "第十条", False),
        ("1926.501（b）", "1926.501", True),
        ("1926.501 (b)", "1926.501", True),
        ("Section 5(a)", "SEC. 5", True),
        ("SEC.5", "SEC. 5", True),
        ("", "1926.501", False),
        ("1926.501", "", False),
    ],
)
def test_locator_label_boundary(chunk_locator: str, gold_locator: str, expected: bool) -> None:
    assert _locator_matches(chunk_locator, gold_locator) is expected


def test_chunk_matches_requires_equal_sources() -> None:
    gold = {"source": CFR, "locator": "1926.501"}
    assert chunk_matches_gold(chunk(CFR, "1926.501(b)(1)"), gold, [])
    assert not chunk_matches_gold(chunk("regulations/us/other.pdf", "1926.501(b)(1)"), gold, [])


def test_a_slot_naming_the_gold_document_in_also_in_matches() -> None:
    gold = {"source": LAW, "locator": "第二十一条"}
    copy = {**chunk("regulations/cn-coal/copy.txt", "第二十一条"), "also_in": [LAW]}
    assert chunk_matches_gold(copy, gold, [])
    # the other copy must still be at the gold clause
    assert not chunk_matches_gold({**copy, "locator": "第二十二条"}, gold, [])
    assert not chunk_matches_gold({**copy, "also_in": ["regulations/cn/other.md"]}, gold, [])


def test_evidence_phrase_matches_despite_whitespace_and_case() -> None:
    gold = {"source": LAW, "locator": "第二十一条"}
    text = "生产经营单位的主要负责人\n对本单位安全生产工作\n负有下列职责："
    # the chunk starts at another clause but holds the gold text (a split long article)
    assert chunk_matches_gold(
        chunk(LAW, "第二十条", text), gold, ["主要负责人对本单位安全生产工作"]
    )
    assert not chunk_matches_gold(chunk(LAW, "第二十条", text), gold, ["未出现的短语"])
    en_gold = {"source": CFR, "locator": "1926.501(b)(1)"}
    en_text = "Each employee on a walking/working surface ... shall be PROTECTED from\nfalling"
    assert chunk_matches_gold(chunk(CFR, "p.3", en_text), en_gold, ["protected from falling"])
    assert not chunk_matches_gold(chunk(CFR, "p.3", en_text), en_gold, ["", "  "])


def test_record_set_gold_without_row_covers_its_rows() -> None:
    row_source = "accidents/us/osha-construction-accidents.csv#200361855"
    assert chunk_matches_gold(
        chunk(row_source, "200361855"),
        {"source": "accidents/us/osha-construction-accidents.csv", "locator": "200361855"},
        [],
    )
    assert chunk_matches_gold(
        chunk(row_source, "200361855"), {"source": row_source, "locator": "200361855"}, []
    )
    assert not chunk_matches_gold(
        chunk("accidents/us/osha-construction-accidents.csv#1", "1"),
        {"source": row_source, "locator": "200361855"},
        [],
    )


# ------------------------------------------------------------------ retrieval metrics

LOG3 = math.log2(3)
LOG5 = math.log2(5)


def test_recall_mrr_ndcg_by_hand() -> None:
    gold = [{"source": CFR, "locator": "1926.501"}, {"source": OSH, "locator": "SEC. 5"}]
    results = [
        chunk(CFR, "1926.502(d)"),
        chunk(CFR, "1926.501(b)(1)"),  # gold 1 at rank 2
        chunk(OSH, "SEC. 50"),
        chunk(OSH, "SEC. 4", "each employer shall furnish a place of employment"),  # gold 2, rank 4
        chunk(CFR, "1926.501(b)(2)"),  # gold 1 again: counted once
    ]
    m = retrieval_metrics(results, gold, ["shall furnish a place of employment"], ks=(1, 2, 5, 10))
    assert m["recall@1"] == 0.0
    assert m["recall@2"] == 0.5
    assert m["recall@5"] == 1.0
    assert m["recall@10"] == 1.0
    assert m["mrr"] == 0.5
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / LOG3 + 1 / LOG5) / (1 + 1 / LOG3))
    assert m["ndcg@10"] == pytest.approx(0.65093, abs=1e-5)


def test_two_clause_question_with_one_clause_found_scores_half() -> None:
    gold = [{"source": LAW, "locator": "第二十一条"}, {"source": LAW, "locator": "第四十一条"}]
    evidence = ["建立健全并落实本单位全员安全生产责任制", "建立安全风险分级管控制度"]
    results = [
        chunk(LAW, "第二十一条", "（一）建立健全并落实本单位全员安全生产责任制"),
        chunk(LAW, "第三条"),
    ]
    m = retrieval_metrics(results, gold, evidence)
    assert m["recall@1"] == 0.5
    assert m["recall@10"] == 0.5
    assert m["mrr"] == 1.0
    assert m["ndcg@10"] == pytest.approx(1 / (1 + 1 / LOG3))


def test_evidence_of_one_clause_does_not_credit_the_other_clause() -> None:
    gold = [{"source": LAW, "locator": "第二十一条"}, {"source": LAW, "locator": "第四十一条"}]
    evidence = ["全员安全生产责任制", "安全风险分级管控制度"]
    # 第二十一条's own text holds both phrases; it must not also count as 第四十一条
    text = "建立健全并落实本单位全员安全生产责任制……安全风险分级管控制度"
    m = retrieval_metrics([chunk(LAW, "第二十一条", text)], gold, evidence)
    assert m["recall@10"] == 0.5
    # a chunk of a third clause holding the 第四十一条 phrase does count (a split article)
    m = retrieval_metrics(
        [chunk(LAW, "第二十一条"), chunk(LAW, "第四十条", "安全风险分级管控制度")], gold, evidence
    )
    assert m["recall@10"] == 1.0
    # per-gold evidence, when given, replaces the item-level list
    gold_own = [{**gold[0], "evidence": ["不在文本里"]}, gold[1]]
    assert retrieval_metrics([chunk(LAW, "p.1", text)], gold_own, evidence)["recall@10"] == 0.5


def test_ndcg_credits_each_gold_once_at_distinct_ranks() -> None:
    gold = [{"source": CFR, "locator": "1926.501"}, {"source": CFR, "locator": "1926.502"}]
    evidence = ["duty to have fall protection", "fall protection systems criteria"]
    both = chunk(CFR, "p.5", "duty to have fall protection ... fall protection systems criteria")
    only_first = chunk(CFR, "1926.501(a)")
    m = retrieval_metrics([both, only_first], gold, evidence)
    assert m["recall@1"] == 1.0
    # rank 1 -> 1926.502, rank 2 -> 1926.501: the ideal ranking
    assert m["ndcg@10"] == pytest.approx(1.0)
    # alone, one chunk can stand for one gold entry only in nDCG (never above 1)
    m = retrieval_metrics([both], gold, evidence)
    assert m["recall@1"] == 1.0
    assert m["ndcg@10"] == pytest.approx(1 / (1 + 1 / LOG3))


def test_no_match_and_no_gold() -> None:
    gold = [{"source": CFR, "locator": "1926.501"}]
    m = retrieval_metrics([chunk(CFR, "1926.50")], gold, [])
    assert (m["recall@10"], m["mrr"], m["ndcg@10"]) == (0.0, 0.0, 0.0)
    assert retrieval_metrics([], gold, [])["mrr"] == 0.0
    assert set(retrieval_metrics([chunk(CFR, "1926.501")], [], []).values()) == {None}


# ------------------------------------------------------------------ answers


def test_fact_found_normalises_case_space_and_chinese_numerals() -> None:
    assert fact_found("6 feet", "protected when working 6  FEET or more above")
    assert fact_found("30日", "应当自事故发生之日起三十日内报告")
    assert fact_found("三十日", "within 30日")
    assert fact_found("十五", "第十五条")
    assert fact_found("2021", "二〇二一年")
    assert not fact_found("10 feet", "6 feet")
    assert not fact_found("三十日", "应当在二十日内")
    assert not fact_found("", "anything")


def test_detect_language() -> None:
    assert detect_language("生产经营单位的主要负责人对本单位安全生产工作全面负责。") == "zh"
    assert detect_language("Employers must protect each employee from falls of 6 feet.") == "en"
    # an English answer naming a Chinese law stays English, and vice versa
    assert (
        detect_language(
            "Under 安全生产法 Article 21, the principal person is responsible "
            "for the safety of the whole unit and must organise training."
        )
        == "en"
    )
    assert (
        detect_language(
            "根据 29 CFR 1926.501(b)(1)，雇主必须为在六英尺以上作业的员工提供防坠落保护。"
        )
        == "zh"
    )
    assert detect_language("1926.501 — 6.5") is None


ITEM = {
    "id": "zh-021",
    "question": "生产经营单位主要负责人有哪些安全职责？",
    "lang": "zh",
    "answerable": True,
    "gold": [{"source": LAW, "locator": "第二十一条"}],
    "facts": ["全员安全生产责任制", "30日"],
    "evidence": ["建立健全并落实本单位全员安全生产责任制"],
    "category": "lookup",
}


def test_answer_metrics_citations_facts_language() -> None:
    answer = {
        "answer": "主要负责人应当建立健全并落实本单位全员安全生产责任制，并在三十日内完成。[1][2]",
        "refused": False,
        "reason": None,
        "citations": [
            {
                "n": 1,
                "source": LAW,
                "title": "安全生产法",
                "locator": "第二十一条第二款",
                "page": None,
                "quote": "……",
            },
            {
                "n": 2,
                "source": LAW,
                "title": "安全生产法",
                "locator": "第九十四条",
                "page": None,
                "quote": "罚款",
            },
        ],
        "related_accidents": [],
        "language": "zh",
        "timings": {},
    }
    m = answer_metrics(answer, ITEM)
    assert m["citation_precision"] == 0.5
    assert m["citation_recall"] == 1.0
    assert m["fact_recall"] == 1.0
    assert m["language_match"] == 1.0
    assert m["refusal_correct"] == 1.0
    assert m["false_refusal_rate"] == 0.0
    assert m["refusal_accuracy"] is None


def test_answer_metrics_quote_counts_as_evidence_and_english_answer_mismatches() -> None:
    answer = {
        "answer": "The principal person must set up a safety responsibility system.",
        "refused": False,
        "citations": [
            {
                "n": 1,
                "source": LAW,
                "locator": "p.4",
                "quote": "建立健全并落实本单位全员安全生产责任制",
            }
        ],
    }
    m = answer_metrics(answer, ITEM)
    assert m["citation_precision"] == 1.0
    assert m["citation_recall"] == 1.0
    assert m["fact_recall"] == 0.0
    assert m["language_match"] == 0.0


def test_answer_metrics_refusals() -> None:
    unanswerable = {
        **ITEM,
        "id": "en-x",
        "lang": "en",
        "answerable": False,
        "gold": [],
        "facts": [],
        "category": "unanswerable",
    }
    refusal = {
        "answer": "The knowledge base does not cover this question.",
        "refused": True,
        "reason": "no_evidence",
        "citations": [],
    }
    m = answer_metrics(refusal, unanswerable)
    assert m["refusal_accuracy"] == 1.0
    assert m["refusal_correct"] == 1.0
    assert m["false_refusal_rate"] is None
    assert m["citation_precision"] is None
    assert m["fact_recall"] is None
    assert m["language_match"] == 1.0
    m = answer_metrics(refusal, ITEM)  # refusing an answerable question
    assert m["false_refusal_rate"] == 1.0
    assert m["refusal_correct"] == 0.0
    assert m["citation_precision"] is None  # nothing cited
    assert m["citation_recall"] == 0.0
    assert m["language_match"] == 0.0  # an English refusal to a Chinese question


# ------------------------------------------------------------------ aggregation


def test_percentile_linear_interpolation() -> None:
    assert percentile([40, 10, 30, 20], 50) == 25.0
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert percentile([], 50) is None


def row(lang: str, category: str, answerable: bool, latency: float, **metrics) -> dict:
    return {
        "lang": lang,
        "category": category,
        "answerable": answerable,
        "latency_ms": latency,
        "metrics": metrics,
    }


def test_aggregate_overall_per_language_and_category() -> None:
    rows = [
        row("zh", "lookup", True, 10, **{"recall@10": 1.0, "mrr": 1.0}),
        row("zh", "cross_lingual", True, 20, **{"recall@10": 0.0, "mrr": 0.0}),
        row("en", "two_clause", True, 30, **{"recall@10": 0.5, "mrr": 0.5}),
        row("en", "unanswerable", False, 40, **{"recall@10": None, "mrr": None}),
    ]
    rows.append(
        {**row("en", "lookup", True, 50, **{"recall@10": 1.0, "mrr": 0.25}), "cross_lingual": True}
    )
    agg = aggregate(rows)
    overall = agg["overall"]
    assert overall["n"] == 5
    assert overall["n_answerable"] == 4
    assert overall["recall@10"] == pytest.approx((1.0 + 0.0 + 0.5 + 1.0) / 4)
    assert overall["mrr"] == pytest.approx((1.0 + 0.0 + 0.5 + 0.25) / 4)
    assert overall["latency_p50_ms"] == 30.0
    assert overall["latency_p95_ms"] == pytest.approx(48.0)
    assert agg["by_lang"]["zh"]["recall@10"] == 0.5
    assert agg["by_lang"]["en"]["recall@10"] == 0.75
    assert agg["by_lang"]["en"]["n"] == 3
    assert set(agg["by_category"]) == {"lookup", "cross_lingual", "two_clause", "unanswerable"}
    assert agg["by_category"]["lookup"]["recall@10"] == 1.0
    # the flagged English lookup joins the cross_lingual group too
    assert agg["by_category"]["cross_lingual"]["n"] == 2
    assert agg["by_category"]["cross_lingual"]["recall@10"] == 0.5
    assert "recall@10" not in agg["by_category"]["unanswerable"]


def test_aggregate_refusal_rates() -> None:
    rows = [
        row("zh", "unanswerable", False, 1, refusal_accuracy=1.0, false_refusal_rate=None),
        row("en", "unanswerable", False, 1, refusal_accuracy=0.0, false_refusal_rate=None),
        row("en", "unanswerable", False, 1, refusal_accuracy=1.0, false_refusal_rate=None),
        row("zh", "lookup", True, 1, refusal_accuracy=None, false_refusal_rate=1.0),
        row("en", "lookup", True, 1, refusal_accuracy=None, false_refusal_rate=0.0),
        row("en", "numeric", True, 1, refusal_accuracy=None, false_refusal_rate=0.0),
        row("en", "numeric", True, 1, refusal_accuracy=None, false_refusal_rate=0.0),
    ]
    overall = aggregate(rows)["overall"]
    assert overall["refusal_accuracy"] == pytest.approx(2 / 3)
    assert overall["false_refusal_rate"] == 0.25
