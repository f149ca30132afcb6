"""The eval runner end to end on a tiny dataset with deterministic fake systems, and the gate."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from evals.gate import check_against_baseline
from evals.runner import DatasetError, load_dataset, run_answers, run_eval, run_retrieval

LAW = "regulations/cn/安全生产法(2021-06-10).md"
CFR = "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf"
OSH = "regulations/us/osh-act-1970.md"
DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"

ITEMS = [
    {
        "id": "zh-lookup",
        "question": "主要负责人职责",
        "lang": "zh",
        "answerable": True,
        "gold": [{"source": LAW, "locator": "第二十一条"}],
        "facts": ["全员安全生产责任制"],
        "evidence": ["全员安全生产责任制"],
        "category": "lookup",
    },
    {
        "id": "en-two",
        "question": "fall protection duty and general duty",
        "lang": "en",
        "answerable": True,
        "gold": [{"source": CFR, "locator": "1926.501"}, {"source": OSH, "locator": "SEC. 5"}],
        "facts": ["6 feet"],
        "evidence": [],
        "category": "two_clause",
    },
    {
        "id": "zh-cross",
        "question": "美国高处作业防护高度",
        "lang": "zh",
        "answerable": True,
        "gold": [{"source": CFR, "locator": "1926.501(b)(1)"}],
        "facts": ["6"],
        "evidence": ["6 feet (1.8 m) or more"],
        "category": "cross_lingual",
    },
    {
        "id": "en-none",
        "question": "What is the speed limit on Mars?",
        "lang": "en",
        "answerable": False,
        "gold": [],
        "facts": [],
        "evidence": [],
        "category": "unanswerable",
    },
]


def hit(source: str, locator: str, text: str = "") -> dict:
    return {
        "source": source,
        "title": "",
        "locator": locator,
        "page": None,
        "doc_type": "law",
        "jurisdiction": "",
        "language": "",
        "score": 1.0,
        "text": text,
    }


NOISE = hit("guidance/other.md", "Scope", "unrelated | text with a pipe")
HYBRID = {
    "主要负责人职责": [hit(LAW, "第二十一条", "建立健全并落实本单位全员安全生产责任制"), NOISE],
    "fall protection duty and general duty": [hit(CFR, "1926.501(a)"), NOISE, hit(OSH, "SEC. 6")],
    "美国高处作业防护高度": [NOISE, hit(CFR, "p.2", "working 6 feet (1.8 m) or more above")],
    "What is the speed limit on Mars?": [NOISE],
}
LEXICAL = {q: list(reversed(r)) for q, r in HYBRID.items()}


def fake_system(table: dict[str, list[dict]]):
    def search(question: str) -> list[dict]:
        return copy.deepcopy(table[question])

    return search


def fake_ask(question: str) -> dict:
    if question == "What is the speed limit on Mars?":
        return {
            "answer": "The knowledge base does not cover this.",
            "refused": True,
            "reason": "no_evidence",
            "citations": [],
        }
    if question == "美国高处作业防护高度":  # answered in the wrong language
        return {
            "answer": "Employees must be protected at 6 feet or more.",
            "refused": False,
            "citations": [
                {
                    "n": 1,
                    "source": CFR,
                    "locator": "1926.501(b)(1)",
                    "quote": "6 feet (1.8 m) or more",
                }
            ],
        }
    top = HYBRID[question][0]
    return {
        "answer": f"根据规定：{top['text']}。",
        "refused": False,
        "citations": [
            {"n": 1, "source": top["source"], "locator": top["locator"], "quote": top["text"]}
        ],
    }


def write_dataset(path: Path, items: list[dict]) -> Path:
    path.write_text(
        "\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n\n", encoding="utf-8"
    )
    return path


def test_load_dataset_reads_and_checks(tmp_path: Path) -> None:
    items = load_dataset(write_dataset(tmp_path / "dev.jsonl", ITEMS))
    assert [i["id"] for i in items] == ["zh-lookup", "en-two", "zh-cross", "en-none"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad.jsonl:1: missing lang, answerable, gold"):
        load_dataset(bad)
    bad.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r":1: not valid JSON"):
        load_dataset(bad)
    write_dataset(bad, [ITEMS[0], ITEMS[0]])
    with pytest.raises(DatasetError, match=r":2: id 'zh-lookup' appears twice"):
        load_dataset(bad)
    write_dataset(bad, [{**ITEMS[0], "gold": []}])
    with pytest.raises(DatasetError, match="has no gold entries"):
        load_dataset(bad)
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "missing.jsonl")


def test_run_retrieval_rows() -> None:
    rows = run_retrieval(ITEMS, fake_system(HYBRID), k=10)
    by_id = {r["id"]: r for r in rows}
    assert by_id["zh-lookup"]["metrics"]["recall@1"] == 1.0
    assert by_id["en-two"]["metrics"]["recall@10"] == 0.5
    assert by_id["zh-cross"]["metrics"]["mrr"] == 0.5
    assert by_id["en-none"]["metrics"]["recall@10"] is None
    retrieved = by_id["zh-cross"]["retrieved"]
    assert [(r["rank"], r["locator"], r["match"]) for r in retrieved] == [
        (1, "Scope", []),
        (2, "p.2", [0]),
    ]
    assert retrieved[1]["snippet"] == "working 6 feet (1.8 m) or more above"
    assert all(r["latency_ms"] >= 0 for r in rows)
    # k cuts the list: the gold at rank 2 is gone at k=1
    assert run_retrieval(ITEMS[2:3], fake_system(HYBRID), k=1)[0]["metrics"]["recall@1"] == 0.0


def test_run_answers_rows() -> None:
    rows = {r["id"]: r for r in run_answers(ITEMS, fake_ask)}
    assert rows["en-none"]["metrics"]["refusal_accuracy"] == 1.0
    assert rows["zh-lookup"]["metrics"]["citation_precision"] == 1.0
    assert rows["zh-lookup"]["metrics"]["fact_recall"] == 1.0
    assert rows["zh-cross"]["metrics"]["language_match"] == 0.0
    assert rows["zh-cross"]["metrics"]["citation_recall"] == 1.0
    assert rows["en-two"]["metrics"]["citation_recall"] == 0.5


def test_run_eval_writes_metrics_report_and_chart(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "dev.jsonl", ITEMS)
    out = tmp_path / "out"
    systems = {"lexical": fake_system(LEXICAL), "hybrid": fake_system(HYBRID)}
    metrics = run_eval(dataset, out, systems, ask_fn=fake_ask)

    assert metrics["primary"] == "hybrid"
    on_disk = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert on_disk == metrics
    assert set(on_disk) >= {"dataset", "primary", "systems", "answers", "generated_at"}
    hybrid = metrics["systems"]["hybrid"]
    # answerable: zh-lookup R@10 1, en-two 0.5, zh-cross 1 -> 2.5 / 3
    assert hybrid["overall"]["recall@10"] == pytest.approx(2.5 / 3)
    assert hybrid["overall"]["mrr"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert hybrid["overall"]["n"] == 4
    assert hybrid["by_lang"]["zh"]["recall@10"] == 1.0
    assert hybrid["by_category"]["cross_lingual"]["mrr"] == 0.5
    assert metrics["systems"]["lexical"]["overall"]["mrr"] < hybrid["overall"]["mrr"]
    answers = metrics["answers"]
    assert answers["overall"]["refusal_accuracy"] == 1.0
    assert answers["overall"]["false_refusal_rate"] == 0.0
    # zh-lookup and the English refusal match; en-two got Chinese, zh-cross English
    assert answers["overall"]["language_match"] == 0.5

    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Headline: `hybrid`" in report
    assert "## Systems (ablation)" in report and "| lexical |" in report
    assert "## Per category: `hybrid`" in report
    assert "## Answers" in report
    failed = report.split("## Failed questions: `hybrid`", 1)[1]
    assert "### en-two (en, two_clause): recall@10 0.50" in failed
    assert f"- `{OSH}` · `SEC. 5`: **not retrieved**" in failed
    assert f"- `{CFR}` · `1926.501`: found at rank 1" in failed
    assert "| 3 | regulations/us/osh-act-1970.md | SEC. 6 |" in failed
    assert "unrelated \\| text with a pipe" in failed  # table cells escaped
    assert "zh-lookup" not in failed

    png = (out / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 5000


def test_run_eval_without_answers_and_with_named_primary(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "dev.jsonl", ITEMS)
    metrics = run_eval(dataset, tmp_path, {"lexical": fake_system(LEXICAL)}, primary="lexical")
    assert metrics["answers"] is None
    assert metrics["primary"] == "lexical"
    assert "## Answers" not in (tmp_path / "report.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="available: lexical"):
        run_eval(dataset, tmp_path, {"lexical": fake_system(LEXICAL)}, primary="hybrid")


# ------------------------------------------------------------------ gate


def metrics_with(recall: float, zh: float = 0.9, false_refusals: float | None = None) -> dict:
    agg = {
        "overall": {"recall@10": recall, "mrr": 0.6},
        "by_lang": {"zh": {"recall@10": zh}},
        "by_category": {},
    }
    answers = None
    if false_refusals is not None:
        answers = {"overall": {"refusal_accuracy": 0.9, "false_refusal_rate": false_refusals}}
    return {"primary": "hybrid", "systems": {"hybrid": agg}, "answers": answers}


def test_gate_fails_on_a_drop_beyond_tolerance() -> None:
    failures = check_against_baseline(metrics_with(0.71), metrics_with(0.80))
    assert failures == ["hybrid overall recall@10 0.71 is more than 0.05 below the baseline 0.80"]


def test_gate_passes_within_tolerance_and_on_gains() -> None:
    assert check_against_baseline(metrics_with(0.76), metrics_with(0.80)) == []
    assert check_against_baseline(metrics_with(0.95, zh=1.0), metrics_with(0.80)) == []
    assert check_against_baseline(metrics_with(0.71), metrics_with(0.80), tolerance=0.1) == []


def test_gate_skips_what_the_baseline_or_the_run_lacks() -> None:
    subset = {"systems": {"hybrid": {"overall": {"recall@10": 0.8}}}}
    assert check_against_baseline(metrics_with(0.78, zh=0.1), subset) == []
    other = {"systems": {"dense": {"overall": {"recall@10": 0.99}}}}
    assert check_against_baseline(metrics_with(0.5), other) == []
    # a retrieval-only run is not failed for the baseline's answer metrics
    base = metrics_with(0.8, false_refusals=0.1)
    assert check_against_baseline(metrics_with(0.8), base) == []
    # but a language that vanished from a system that ran is reported
    current = metrics_with(0.8)
    del current["systems"]["hybrid"]["by_lang"]["zh"]
    assert check_against_baseline(current, metrics_with(0.8)) == [
        "hybrid zh recall@10 is missing from this run; the baseline has 0.90"
    ]


def test_gate_lower_is_better_metrics() -> None:
    failures = check_against_baseline(
        metrics_with(0.8, false_refusals=0.30), metrics_with(0.8, false_refusals=0.10)
    )
    assert failures == [
        "answers overall false_refusal_rate 0.30 is more than 0.05 above the baseline 0.10"
    ]


@pytest.mark.parametrize("path", sorted(DATASETS.glob("*.jsonl")), ids=lambda p: p.name)
def test_committed_datasets_load(path: Path) -> None:
    """Every dataset the team commits passes the loader's checks (skipped while there are none)."""
    items = load_dataset(path)
    categories = {"lookup", "numeric", "two_clause", "cross_lingual", "accident", "unanswerable"}
    assert {i["category"] for i in items} <= categories
    assert {i["lang"] for i in items} <= {"zh", "en"}
