"""The evidence gate: refusals for what the knowledge base lacks, and the check of model answers."""

from __future__ import annotations

import pytest

from assistant import gate
from assistant.answer import Assistant
from assistant.retrieve import retrieve
from tests.unit.test_answer_kb import CFR_M, LAW, answer_settings, fill


@pytest.fixture
def answer_kb(kb):
    fill(kb)
    return kb


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("按照GB 30871，特级动火作业票的有效期是多少小时？", "GB 30871"),
        ("What does ISO 45001 clause 5.4 require for worker consultation?", "ISO 45001"),
        ("Under 29 CFR 1910.1200, what goes in a safety data sheet?", "1910.1200"),
        ("How many hours of training does MSHA Part 46 require?", "Part 46"),
        ("Under 30 CFR Part 75, what is the maximum roof bolt spacing?", "30 CFR Part 75"),
        ("香港的《职业安全及健康条例》对雇主的一般责任是怎么规定的？", "香港"),
        ("What are the UK RIDDOR rules for reporting an over-7-day injury?", "UK"),
        ("At what temperature does Cal/OSHA's heat rule require shade?", "Cal/OSHA"),
    ],
)
def test_named_things_the_knowledge_base_lacks_are_refused(answer_kb, settings, question, missing):
    answer = Assistant(answer_kb, answer_settings(settings)).ask(question)
    assert answer.refused
    assert missing in answer.reason
    assert answer.citations == []
    assert answer.nearest and {"source", "title", "locator"} <= set(answer.nearest[0])
    assert answer.language == ("zh" if any("\u4e00" <= ch <= "\u9fff" for ch in question) else "en")


def test_names_the_knowledge_base_holds_pass(answer_kb):
    cat = gate.catalogue(answer_kb)
    assert gate.missing_names("《安全生产法》第二十八条怎么规定的？", cat) == []
    assert gate.missing_names("What does 29 CFR 1926.501(b)(1) require?", cat) == []
    assert gate.missing_names("Part 1926 fall protection in the US", cat) == []
    assert gate.missing_names("按照《危险化学品安全管理条例》", cat) == [
        "《危险化学品安全管理条例》"
    ]


def test_weak_evidence_is_refused_with_the_nearest_clauses(answer_kb, settings):
    answer = Assistant(answer_kb, answer_settings(settings)).ask(
        "What is the recommended colour scheme for office walls in a call centre?"
    )
    assert answer.refused and answer.reason.startswith("evidence too weak")
    assert "does not cover" in answer.answer
    assert answer.strength < 0.3


def test_strong_evidence_passes(answer_kb, settings):
    ev = retrieve(answer_kb, "从业人员未经安全生产教育和培训合格，能否上岗作业？")
    decision = gate.assess(answer_kb, ev.query, ev, threshold=0.3)
    assert decision.ok and decision.strength > 0.6


def test_numbers_are_read_in_both_notations():
    assert gate.numbers_in("处五万元以上十万元以下的罚款") == {50000.0, 100000.0}
    assert gate.numbers_in("处5万元以上10万元以下的罚款") == {50000.0, 100000.0}
    assert 100.0 in gate.numbers_in("从业人员超过一百人的")
    assert gate.numbers_in("42 inches (1.1 m), 5,000 pounds [2]") == {42.0, 1.1, 5000.0}
    assert gate.cited_numbers("Top rails 42 inches [2]. Nets [1, 3].") == [2, 1, 3]


def test_answer_figures_and_clauses_must_be_in_cited_passages(answer_kb):
    ev = retrieve(answer_kb, "guardrail top rail height", filters={"source": CFR_M.source})
    rail = next(p for p in ev.passages if p.chunk.locator == "1926.502(b)(1)")
    ok = "Top rails must be 42 inches plus or minus 3 inches above the working level [1]."
    assert gate.unsupported_claims(ok, [rail], "guardrail height?") == []
    wrong = "Top rails must be 48 inches above the working level under 1926.502(b)(1) [1]."
    assert gate.unsupported_claims(wrong, [rail], "guardrail height?") == ["48"]
    other = "See 1926.503(a) [1]."
    assert gate.unsupported_claims(other, [rail], "guardrail height?") == ["1926.503(a)"]
    # a figure the question itself gives may be repeated
    assert (
        gate.unsupported_claims("With 120 workers the rule applies [1].", [rail], "120 workers?")
        == []
    )


def test_chinese_figures_are_checked_against_the_clause(answer_kb):
    ev = retrieve(answer_kb, "没有投保安全生产责任保险罚多少", filters={"source": LAW.source})
    fine = next(p for p in ev.passages if p.chunk.locator == "第一百零九条")
    assert gate.unsupported_claims("处5万元以上10万元以下的罚款[1]", [fine], "罚多少") == []
    assert gate.unsupported_claims("处三万元罚款，见第一百零九条[1]", [fine], "罚多少") == ["30000"]
    assert gate.unsupported_claims("见第九十九条[1]", [fine], "罚多少") == ["第九十九条"]


def test_a_rare_name_no_passage_mentions_is_refused(answer_kb, settings):
    answer = Assistant(answer_kb, answer_settings(settings)).ask(
        "What is the rated platform capacity of a Genie GS-1930 scissor lift guardrail?"
    )
    assert answer.refused and answer.reason.startswith("no clause found mentions")
    assert "genie" in answer.reason and "No clause found mentions" in answer.answer
