"""The answer stage of ``anquan bench`` on the small knowledge base, with a scripted model."""

from __future__ import annotations

import json

import pytest

from assistant.llm.scripted import ScriptedChatModel
from evals.answer_bench import alternate_languages, answer_stage, load_questions
from tests.unit.test_answer_kb import answer_settings, fill

ITEMS = [
    {
        "question": "从业人员没有经过安全生产教育和培训，能上岗作业吗？",
        "lang": "zh",
        "answerable": True,
    },
    {"question": "香港的职业安全条例怎么规定？", "lang": "zh", "answerable": False},
    {"question": "How high must the top rail of a guardrail be?", "lang": "en", "answerable": True},
    {"question": "What must scaffold platforms be?", "lang": "en", "answerable": True},
    {"question": "生产经营单位应当建立什么制度？", "lang": "zh", "answerable": True},
]


@pytest.fixture
def answer_kb(kb):
    fill(kb)
    return kb


def _questions(tmp_path):
    """ITEMS as a dataset file (ids, categories and gold entries the loader requires)."""
    path = tmp_path / "questions.jsonl"
    rows = [
        {
            "id": f"q{i}",
            "category": "lookup" if item["answerable"] else "unanswerable",
            "gold": [{"source": "regulations/x.md", "locator": "第一条"}]
            if item["answerable"]
            else [],
            **item,
        }
        for i, item in enumerate(ITEMS)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_questions_alternate_languages_and_skip_unanswerable(tmp_path):
    items = load_questions(_questions(tmp_path))
    picked = alternate_languages(items, 3)
    assert [i["lang"] for i in picked] == ["en", "zh", "en"]
    assert all(i["answerable"] for i in alternate_languages(items, 10))
    assert len(alternate_languages(items, 10)) == 4


def test_extractive_answers_are_timed_and_local_is_skipped_without_a_model(
    answer_kb, settings, tmp_path
):
    s = answer_settings(settings, llm_gguf=tmp_path / "missing.gguf")
    out = answer_stage(answer_kb, s, local_questions=2, questions_file=_questions(tmp_path))
    ext = out["extractive"]
    assert ext["questions"] == 5 and ext["refused"] >= 1  # Hong Kong: no such documents
    assert 0 < ext["total_ms"]["p50"] <= ext["total_ms"]["p95"] <= ext["total_ms"]["max"]
    assert "missing.gguf" in out["local"]["skipped"]


def test_the_local_model_is_timed_to_its_first_token(answer_kb, settings, tmp_path):
    model = ScriptedChatModel(replies=["防护栏杆 [1]。"])
    s = answer_settings(settings)
    out = answer_stage(
        answer_kb,
        s,
        local_questions=2,
        questions_file=_questions(tmp_path),
        chat_models={"local": model},
    )
    local = out["local"]
    assert local["questions"] == 2 and len(model.calls) == local["questions"] - local["refused"]
    for row in local["rows"]:
        assert 0 < row["first_token_ms"] <= row["total_ms"]
        assert row["prompt_tokens"] > 10
    assert local["answer_context_tokens"] == s.answer_context_tokens
