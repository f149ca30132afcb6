"""The bounded load test (``evals/load.py``) against a real uvicorn server on loopback."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from api.app import create_app
from api.auth import KeyStore
from api.config import ApiSettings
from evals.load import (
    Outcome,
    format_summary,
    format_table,
    free_port,
    http_summary,
    percentile,
    query_for,
    run_load,
    run_mixed,
    summarise,
)
from tests.unit.test_answer_kb import answer_kb, answer_settings  # noqa: F401


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) == 0.0
    assert percentile([3, 1, 2], 50) == 2


@pytest.fixture
def base_url(answer_kb, settings):  # noqa: F811
    app = create_app(
        kb=answer_kb,
        settings=answer_settings(settings),
        api_settings=ApiSettings(_env_file=None, rate_limit_per_minute=0),  # type: ignore[call-arg]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_distinct_queries_never_repeat_and_repeated_ones_cycle():
    queries = ["a", "b", "c"]
    distinct = [query_for(i, queries) for i in range(9)]
    assert distinct[:4] == ["a", "b", "c", "a 1"] and len(set(distinct)) == 9
    assert [query_for(i, queries, distinct=False) for i in range(4)] == ["a", "b", "c", "a"]


def test_summaries_count_errors_by_kind_and_requests_by_worker():
    outcomes = [Outcome(10.0, True, "200", "11"), Outcome(30.0, True, "200", "12")]
    outcomes += [Outcome(20.0, False, "503", "11"), Outcome(40.0, False, "ReadError", "")]
    row = summarise(outcomes, seconds=2.0, concurrency=4)
    assert (row["requests"], row["errors"], row["throughput_rps"]) == (4, 2, 2.0)
    assert row["error_kinds"] == {"503": 1, "ReadError": 1}
    assert row["requests_per_worker"] == {"11": 2, "12": 1}
    assert (row["p50_ms"], row["p95_ms"], row["max_ms"]) == (20.0, 40.0, 40.0)
    assert summarise([], 0.0, 1)["throughput_rps"] == 0.0


def _run(c: int, p95: float, errors: int = 0) -> dict:
    return {"concurrency": c, "p95_ms": p95, "errors": errors}


def test_the_http_summary_sets_one_worker_beside_two():
    stage = {
        "one_worker": {"results": {"search": [_run(1, 40.0), _run(16, 300.0)], "ask": []}},
        "two_workers": {"results": {"search": [_run(16, 200.0), _run(64, 700.0)], "ask": []}},
        "mixed": {
            "concurrency": 16,
            "jobs": [{"status": "done"}],
            "chunks_ingested": 24,
            "ingest_seconds": 3.0,
            "without_ingest": {"errors": 0, "p50_ms": 100.0, "p95_ms": 190.0},
            "during_ingest": {"errors": 0, "p50_ms": 150.0, "p95_ms": 260.0, "requests": 40},
        },
    }
    summary = stage["summary"] = http_summary(stage)
    assert summary["search_p95_ms_at_16"] == {"1_worker": 300.0, "2_workers": 200.0}
    assert summary["met"] == {"1_worker": False, "2_workers": True} and summary["errors"] == 0
    assert summary["search_p95_ms_at_64_two_workers"] == 700.0
    assert summary["search_p95_ms_at_16_during_ingest"] == 260.0
    text = format_summary(stage)
    assert "1 worker 300.0 ms, 2 workers 200.0 ms" in text and "24 chunks" in text
    stage["mixed"]["jobs"] = [{"status": "failed"}]  # a lost upload counts as an error
    assert http_summary(stage)["errors"] == 1


def test_a_small_run_reports_every_level_without_errors(base_url):
    report = run_load(base_url, requests=12, ask_requests=6, concurrency=(1, 4), warmup=1)
    search, ask = report["results"]["search"], report["results"]["ask"]
    assert [r["concurrency"] for r in search] == [1, 4] and [r["requests"] for r in ask] == [6, 6]
    for row in search + ask:
        assert row["errors"] == 0 and row["throughput_rps"] > 0
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert report["targets"]["errors"] == 0 and report["targets"]["search_p95_ms_at_16"] is None
    assert report["distinct_queries"] is True
    assert all(len(row["requests_per_worker"]) == 1 for row in search)  # one process
    table = format_table(report)
    assert table.splitlines()[0].split()[:3] == ["endpoint", "conc", "reqs"]
    assert "errors 0" in table


def test_errors_are_counted_not_raised(base_url, settings):
    store = KeyStore(settings.data_dir / "api.sqlite")
    store.create("someone", "reader")
    store.close()
    report = run_load(
        base_url, requests=3, concurrency=(2,), endpoints=("search",), key="aq_wrong", warmup=0
    )
    # the service has keys now, so a wrong key is refused: every request counts as an error
    row = report["results"]["search"][0]
    assert row["errors"] == 3 and row["error_kinds"] == {"401": 3}
    assert report["targets"]["met"] is False


def test_searches_during_an_upload_are_told_apart(base_url, tmp_path):
    doc = tmp_path / "hot-work-rules.md"
    doc.write_text(
        "# 动火作业管理规定\n\n第一条 动火作业前应当清除可燃物，配备灭火器材。\n\n"
        "第二条 动火作业应当有专人监护，作业结束后检查现场，确认无火种。\n",
        encoding="utf-8",
    )
    report = run_mixed(base_url, [doc], requests=8, concurrency=2)
    assert report["files"] == ["hot-work-rules.md"] and report["concurrency"] == 2
    assert report["jobs"] == [
        {"source": "hot-work-rules.md", "status": "done", "chunks": 2, "error": None}
    ]
    assert report["chunks_ingested"] == 2 and report["ingest_seconds"] > 0
    assert report["without_ingest"]["requests"] == 8
    searched = report["during_ingest"]["requests"] + report["after_ingest"]["requests"]
    assert searched >= 8  # at least as many as on the quiet service, the rest while ingesting
    for part in ("without_ingest", "during_ingest", "after_ingest"):
        assert report[part]["errors"] == 0
