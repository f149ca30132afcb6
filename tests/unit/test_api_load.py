"""The bounded load test (``evals/load.py``) against a real uvicorn server on loopback."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from api.app import create_app
from api.auth import KeyStore
from api.config import ApiSettings
from evals.load import format_table, free_port, percentile, run_load
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


def test_a_small_run_reports_every_level_without_errors(base_url):
    report = run_load(base_url, requests=12, ask_requests=6, concurrency=(1, 4), warmup=1)
    search, ask = report["results"]["search"], report["results"]["ask"]
    assert [r["concurrency"] for r in search] == [1, 4] and [r["requests"] for r in ask] == [6, 6]
    for row in search + ask:
        assert row["errors"] == 0 and row["throughput_rps"] > 0
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    assert report["targets"]["errors"] == 0 and report["targets"]["search_p95_ms_at_16"] is None
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
