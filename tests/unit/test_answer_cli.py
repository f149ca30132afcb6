"""``anquan ask`` and the answer half of ``anquan eval``, run through the real command line."""

from __future__ import annotations

import json

import pytest

from api.cli import main
from tests.unit.test_answer_kb import CFR_L, LAW, fill


@pytest.fixture
def answer_kb(kb):
    fill(kb)
    return kb


def _cli(settings, *args: str) -> list[str]:
    return ["--data-dir", str(settings.data_dir), "--embedder", "hashing", *args]


def test_ask_json_prints_the_answer_object(answer_kb, settings, capsys, monkeypatch):
    monkeypatch.setenv("ANQUAN_REFUSAL_THRESHOLD", "0.3")
    code = main(_cli(settings, "ask", "从业人员未经安全生产教育和培训合格能上岗作业吗？", "--json"))
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert {
        "answer",
        "refused",
        "reason",
        "citations",
        "related_accidents",
        "language",
        "timings",
    } <= set(data)
    assert data["language"] == "zh" and not data["refused"]
    assert (data["citations"][0]["source"], data["citations"][0]["locator"]) == (
        LAW.source,
        "第二十八条",
    )


def test_ask_prints_clauses_first_then_the_answer_then_sources(
    answer_kb, settings, capsys, monkeypatch
):
    monkeypatch.setenv("ANQUAN_REFUSAL_THRESHOLD", "0.3")
    code = main(
        _cli(
            settings,
            "ask",
            "top edge height of toprails on supported scaffolds",
            "--where",
            "jurisdiction=US",
        )
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.index("Clauses found:") < out.index("What the rules require") < out.index("Sources:")
    assert CFR_L.source in out


def test_ask_stream_json_prints_one_event_per_line(answer_kb, settings, capsys, monkeypatch):
    monkeypatch.setenv("ANQUAN_REFUSAL_THRESHOLD", "0.3")
    main(_cli(settings, "ask", "guardrail top rail height", "--json", "--stream"))
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["type"] == "evidence" and events[-1]["type"] == "answer"
    assert any(e["type"] == "token" for e in events)


def test_ask_rejects_an_unknown_filter(answer_kb, settings, capsys):
    assert main(_cli(settings, "ask", "q", "--where", "colour=red")) == 2
    assert "Available: jurisdiction" in capsys.readouterr().err


def test_eval_scores_answers_unless_retrieval_only(
    answer_kb, settings, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("ANQUAN_REFUSAL_THRESHOLD", "0.3")
    dataset = tmp_path / "mini.jsonl"
    items = [
        {"id": "m1", "question": "未经安全生产教育和培训合格的从业人员能上岗作业吗？", "lang": "zh",
         "answerable": True, "gold": [{"source": LAW.source, "locator": "第二十八条"}],
         "facts": ["不得上岗作业"], "evidence": [], "category": "lookup"},
        {"id": "m2", "question": "按照GB 30871，特级动火作业票的有效期是多少小时？", "lang": "zh",
         "answerable": False, "gold": [], "facts": [], "evidence": [], "category": "unanswerable"},
    ]  # fmt: skip
    dataset.write_text(
        "\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8"
    )
    out = tmp_path / "out"
    args = ["eval", "--dataset", str(dataset), "--out", str(out), "--systems", "lexical"]
    assert main(_cli(settings, *args, "--llm", "extractive")) == 0
    answers = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["answers"]["overall"]
    assert answers["citation_precision"] == 1.0 and answers["fact_recall"] == 1.0
    assert answers["refusal_accuracy"] == 1.0 and answers["false_refusal_rate"] == 0.0
    assert "answers: citation_precision 1.000" in capsys.readouterr().out
    assert main(_cli(settings, *args, "--retrieval-only")) == 0
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["answers"] is None
