"""A bounded load test of the HTTP service over loopback: ``/v1/search`` and ``/v1/ask``.

A fixed number of requests per concurrency level (1, 4, 16, 32 by default), so it always
stops by itself; for each level: throughput, p50/p95/p99 latency and the error count
(anything but a 2xx, or no reply). ``/v1/ask`` uses the extractive backend, so the figures
measure the service (retrieval, gate, composition), not a model's generation speed.

    python -m evals.load                               # starts a server on the data dir
    python -m evals.load --base-url http://127.0.0.1:8000 --key aq_…
    python -m evals.load --requests 200 --ask-requests 64 --out bench/load.json

Every query is new to the service unless ``--repeat-queries`` (which measures the query-vector
cache rather than the embedder). ``anquan bench`` runs :func:`http_stage`: one worker, then two
workers on a Chroma server (:class:`ChromaServer`), then searches during an upload
(:func:`run_mixed`). Target (issue #6): zero errors; search p95 ≤ 250 ms at 16 concurrent on
2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from evals.bench import QUERIES
from ingest.settings import Settings

REPO = Path(__file__).resolve().parents[1]

LEVELS = (1, 4, 16, 32)
#: two workers: up to the 64 clients issue #8 asks for
TWO_WORKER_LEVELS = (16, 32, 64)
T = TypeVar("T")
SEARCH_P95_TARGET_MS = 250.0
WORKER_HEADER = "x-anquan-worker"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(min(rank, len(ordered))) - 1]


def query_for(i: int, queries: Sequence[str], distinct: bool = True) -> str:
    """The ``i``-th query: the list in turn, numbered after the first round when ``distinct``,
    so that no request is answered from the service's query-vector cache."""
    q = queries[i % len(queries)]
    return f"{q} {i // len(queries)}" if distinct and i >= len(queries) else q


def _request(
    endpoint: str, i: int, queries: Sequence[str], distinct: bool = False
) -> dict[str, Any]:
    q = query_for(i, queries, distinct)
    if endpoint == "search":
        return {"method": "GET", "url": "/v1/search", "params": {"q": q, "k": 10}}
    if endpoint == "ask":
        return {"method": "POST", "url": "/v1/ask", "json": {"question": q, "llm": "extractive"}}
    raise ValueError(f"unknown endpoint {endpoint!r}. Available: search, ask")


@dataclass
class Outcome:
    """One request: how long it took, whether it succeeded, which worker answered."""

    ms: float
    ok: bool
    why: str
    worker: str


async def _one(
    client: httpx.AsyncClient, endpoint: str, i: int, queries: Sequence[str], distinct: bool
) -> Outcome:
    t0 = time.perf_counter()
    try:
        r = await client.request(**_request(endpoint, i, queries, distinct))
        ok, why, worker = r.is_success, str(r.status_code), r.headers.get(WORKER_HEADER, "")
    except httpx.HTTPError as exc:
        ok, why, worker = False, type(exc).__name__, ""
    return Outcome((time.perf_counter() - t0) * 1000.0, ok, why, worker)


def summarise(outcomes: Sequence[Outcome], seconds: float, concurrency: int) -> dict[str, Any]:
    """Throughput, latency percentiles, errors by kind and requests per worker."""
    latencies = [o.ms for o in outcomes]
    errors: dict[str, int] = {}
    workers: dict[str, int] = {}
    for o in outcomes:
        if not o.ok:
            errors[o.why] = errors.get(o.why, 0) + 1
        if o.worker:
            workers[o.worker] = workers.get(o.worker, 0) + 1
    n = len(outcomes)
    return {
        "concurrency": concurrency,
        "requests": n,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(seconds, 3),
        "throughput_rps": round(n / seconds, 2) if seconds else 0.0,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "requests_per_worker": dict(sorted(workers.items())),
    }


async def _level(
    client: httpx.AsyncClient,
    endpoint: str,
    n: int,
    concurrency: int,
    queries: Sequence[str],
    start: int = 0,
    distinct: bool = False,
) -> dict[str, Any]:
    outcomes: list[Outcome] = []
    counter = iter(range(start, start + n))

    async def worker() -> None:
        for i in counter:
            outcomes.append(await _one(client, endpoint, i, queries, distinct))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summarise(outcomes, time.perf_counter() - t0, concurrency)


def _client(base_url: str, key: str | None, timeout: float, connections: int) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    # idle connections are dropped before the server's keep-alive (uvicorn: 5 s) closes them,
    # or a request sent as the server hangs up fails (a ReadError the service did not cause)
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout, limits=limits)


async def _run(
    base_url: str,
    requests: dict[str, int],
    levels: Sequence[int],
    key: str | None,
    timeout: float,
    queries: Sequence[str],
    warmup: int,
    distinct: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {}
    # every level asks new questions when ``distinct``: a later level must not find the
    # earlier one's query vectors in the service's cache
    start = 0
    async with _client(base_url, key, timeout, max(levels)) as client:
        for endpoint, n in requests.items():
            for i in range(warmup):  # first calls load caches; they are not measured
                await client.request(**_request(endpoint, start + i, queries, distinct))
            start += warmup
            rows = []
            for c in levels:
                rows.append(await _level(client, endpoint, n, c, queries, start, distinct))
                start += n
            results[endpoint] = rows
    return results


def _run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, in a thread of its own when this one already runs a loop (a caller
    inside an async framework, or Playwright's sync API in the same test session)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def run_load(
    base_url: str,
    *,
    requests: int = 200,
    ask_requests: int | None = None,
    concurrency: Sequence[int] = LEVELS,
    endpoints: Sequence[str] = ("search", "ask"),
    key: str | None = None,
    timeout: float = 120.0,
    queries: Sequence[str] = QUERIES,
    warmup: int = 2,
    distinct: bool = True,
) -> dict[str, Any]:
    """Load ``base_url`` with ``requests`` calls per concurrency level and endpoint (``/v1/ask``:
    ``ask_requests``, default ``requests``). Returns the figures; never runs unbounded.

    ``distinct`` (the default) numbers the queries so that each request is new to the
    service, as most are in use; without it the same twenty repeat and dense search is
    answered from the query-vector cache."""
    counts = {e: (ask_requests or requests) if e == "ask" else requests for e in endpoints}
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    results = _run_to_end(
        _run(
            base_url.rstrip("/"),
            counts,
            list(concurrency),
            key,
            timeout,
            queries,
            warmup,
            distinct,
        )
    )
    out: dict[str, Any] = {
        "base_url": base_url,
        "started_at": started,
        "distinct_queries": distinct,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": results,
    }
    search16 = next((r for r in results.get("search", []) if r["concurrency"] == 16), None)
    errors = sum(r["errors"] for rows in results.values() for r in rows)
    out["targets"] = {
        "errors": errors,
        "search_p95_ms_at_16": search16["p95_ms"] if search16 else None,
        "search_p95_target_ms": SEARCH_P95_TARGET_MS,
        "met": errors == 0 and (search16 is None or search16["p95_ms"] <= SEARCH_P95_TARGET_MS),
    }
    return out


def format_table(report: dict[str, Any]) -> str:
    lines = [
        f"{'endpoint':<8} {'conc':>4} {'reqs':>5} {'err':>4} {'rps':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    ]
    for endpoint, rows in report["results"].items():
        for r in rows:
            lines.append(
                f"{endpoint:<8} {r['concurrency']:>4} {r['requests']:>5} {r['errors']:>4} "
                f"{r['throughput_rps']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
                f"{r['p99_ms']:>8.1f}"
            )
    t = report["targets"]
    lines.append(
        f"errors {t['errors']}; search p95 at 16 concurrent {t['search_p95_ms_at_16']} ms "
        f"(target ≤ {t['search_p95_target_ms']:.0f}) → {'met' if t['met'] else 'NOT met'}"
    )
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """``anquan serve`` in a subprocess on a free loopback port (its own CPU time, as in
    production), over the knowledge base the environment's settings name; with ``workers``
    above 1, ready once every worker has answered ``/readyz``."""

    def __init__(
        self,
        ready_timeout: float = 600.0,
        env: dict[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self.workers = workers
        self.env = {**os.environ, "ANQUAN_API_RATE_LIMIT_PER_MINUTE": "0", **(env or {})}
        self.proc: subprocess.Popen | None = None
        #: the worker processes seen answering, by pid
        self.pids: set[str] = set()

    def __enter__(self) -> LocalServer:
        cmd = [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=REPO, stdout=2)
        end = time.monotonic() + self.ready_timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}; see its log above"
                )
            try:  # a new connection each time, so that every worker gets asked
                r = httpx.get(self.base_url + "/readyz", timeout=5)
                if r.status_code == 200:
                    self.pids.add(r.headers.get(WORKER_HEADER, ""))
                    if len(self.pids) >= self.workers:
                        return self
                    continue
                checks = r.json()["error"]["details"].get("checks", {})
            except (httpx.HTTPError, ValueError, KeyError):
                checks = {}
            if checks.get("knowledge_base") == "ok" and checks.get("chunks") == 0:
                self.__exit__()
                raise RuntimeError("the knowledge base is empty: run 'anquan ingest' first")
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"the server was not ready within {self.ready_timeout:.0f} s")

    def __exit__(self, *exc: object) -> None:
        _stop(self.proc)


class ChromaServer:
    """``chroma run`` on a free loopback port over ``path``, for several workers to share.

    A store the embedded client wrote (``<data_dir>/chroma``) serves as it is, so a knowledge
    base built by one process scales out without re-embedding; nothing else may have it open.
    """

    def __init__(self, path: Path, ready_timeout: float = 120.0, log: Path | None = None) -> None:
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self.log = log
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def binary() -> str:
        beside = Path(sys.executable).with_name("chroma")
        found = str(beside) if beside.exists() else shutil.which("chroma")
        if not found:
            raise RuntimeError("the 'chroma' command was not found; it comes with chromadb")
        return found

    def __enter__(self) -> ChromaServer:
        cmd = [self.binary(), "run", "--path", str(self.path), "--host", "127.0.0.1"]
        env = {"RUST_LOG": "warn", **os.environ}  # info logs every request: CPU under load
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                [*cmd, "--port", str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        end = time.monotonic() + self.ready_timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/api/v2/heartbeat", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"chroma run was not ready within {self.ready_timeout:.0f} s")

    def __exit__(self, *exc: object) -> None:
        _stop(self.proc)


def _stop(proc: subprocess.Popen | None) -> None:
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# -- searches while documents are uploaded -----------------------------------------------------
async def _mixed(
    client: httpx.AsyncClient,
    files: Sequence[Path],
    n: int,
    concurrency: int,
    queries: Sequence[str],
    start: int,
    ingest_timeout: float,
) -> dict[str, Any]:
    without = await _level(client, "search", n, concurrency, queries, start, True)
    counter = itertools.count(start + n)
    t0 = time.perf_counter()
    job_ids = []
    for f in files:
        r = await client.post(
            "/v1/documents",
            params={"filename": f.name, "replace": "true"},
            content=f.read_bytes(),
            timeout=max(60.0, ingest_timeout),
        )
        if r.status_code != 202:
            raise RuntimeError(f"upload of {f.name} refused: {r.status_code} {r.text[:300]}")
        job_ids.append(r.json()["job_id"])
    jobs: dict[str, dict[str, Any]] = {}
    state: dict[str, Any] = {"ingesting": True, "ingest_end": None}

    def finished(j: str) -> bool:
        return jobs.get(j, {}).get("status") in ("done", "failed")

    async def poll() -> None:
        end = time.monotonic() + ingest_timeout
        while time.monotonic() < end and not all(finished(j) for j in job_ids):
            for j in job_ids:
                if not finished(j):
                    r = await client.get(f"/v1/documents/jobs/{j}")
                    if r.status_code == 200:
                        jobs[j] = r.json()
            await asyncio.sleep(0.25)
        state["ingesting"], state["ingest_end"] = False, time.perf_counter()

    during: list[Outcome] = []
    after: list[Outcome] = []
    cap = n * 20  # bounded even if the ingest never ends

    async def searcher() -> None:
        while True:
            if next(issued) >= cap or not (state["ingesting"] or len(during) + len(after) < n):
                return
            active = state["ingesting"]
            outcome = await _one(client, "search", next(counter), queries, True)
            (during if active else after).append(outcome)

    issued = itertools.count()
    poller = asyncio.create_task(poll())
    t1 = time.perf_counter()
    await asyncio.gather(*(searcher() for _ in range(concurrency)))
    t_search_end = time.perf_counter()
    await poller
    ingest_end = state["ingest_end"] or time.perf_counter()
    return {
        "concurrency": concurrency,
        "files": [f.name for f in files],
        "jobs": [
            {k: jobs.get(j, {}).get(k) for k in ("source", "status", "chunks", "error")}
            for j in job_ids
        ],
        "chunks_ingested": sum(int(jobs.get(j, {}).get("chunks") or 0) for j in job_ids),
        "ingest_seconds": round(ingest_end - t0, 2),
        "without_ingest": without,
        "during_ingest": summarise(during, min(ingest_end, t_search_end) - t1, concurrency),
        "after_ingest": summarise(after, max(0.0, t_search_end - ingest_end), concurrency),
    }


def run_mixed(
    base_url: str,
    files: Sequence[Path],
    *,
    requests: int = 200,
    concurrency: int = 16,
    key: str | None = None,
    timeout: float = 120.0,
    ingest_timeout: float = 900.0,
    queries: Sequence[str] = QUERIES,
) -> dict[str, Any]:
    """Search at ``concurrency`` while ``files`` are uploaded and ingested by the service:
    ``requests`` searches first, on a quiet service; then searches for as long as the ingest
    runs (at most twenty times ``requests``), each counted as during or after the ingest."""
    return _run_to_end(
        _run_mixed(base_url, files, requests, concurrency, key, timeout, ingest_timeout, queries)
    )


async def _run_mixed(
    base_url: str,
    files: Sequence[Path],
    requests: int,
    concurrency: int,
    key: str | None,
    timeout: float,
    ingest_timeout: float,
    queries: Sequence[str],
) -> dict[str, Any]:
    async with _client(base_url.rstrip("/"), key, timeout, concurrency + 2) as client:
        # numbered past what a load run asked, so no query vector is cached
        return await _mixed(client, files, requests, concurrency, queries, 100_000, ingest_timeout)


# -- the benchmark's HTTP stage -----------------------------------------------------------------
#: requests per level: search, ask, and the searches of the mixed run
FULL_PLAN = {"search": 400, "ask": 128, "mixed_search": 400}
QUICK_PLAN = {"search": 64, "ask": 32, "mixed_search": 64}


def http_stage(
    settings: Settings,
    mixed_files: Sequence[Path],
    *,
    quick: bool = False,
    log: Any = None,
) -> dict[str, Any]:
    """Load the service over the knowledge base in ``settings.data_dir`` (which it serves and
    adds uploads to: give it a copy): one worker on the embedded store, at 1, 4, 16 and 32
    clients; two workers sharing a Chroma server on the same store, at 16, 32 and 64; then
    searches at 16 while ``mixed_files`` are uploaded and ingested (with a fresh embedding
    cache, so the copies are embedded for real). Extractive answers; loopback only."""
    from api.app import settings_env

    say = log or (lambda msg: None)
    plan = QUICK_PLAN if quick else FULL_PLAN
    env = settings_env(settings.model_copy(update={"llm": "extractive"}))
    env["ANQUAN_CHROMA_URL"] = ""  # one worker: the embedded store, whatever the caller's env
    out: dict[str, Any] = {"plan": plan, "distinct_queries": True}
    say("HTTP: one worker, embedded vector store")
    with LocalServer(env=env, workers=1) as server:
        out["one_worker"] = run_load(
            server.base_url, requests=plan["search"], ask_requests=plan["ask"], concurrency=LEVELS
        )
        # the same twenty questions again and again: dense search hits the query-vector cache
        out["one_worker_repeated_queries"] = run_load(
            server.base_url,
            requests=plan["search"],
            concurrency=(16,),
            endpoints=("search",),
            distinct=False,
        )
    say(format_table(out["one_worker"]))
    scratch = settings.data_dir.parent
    with ChromaServer(settings.data_dir / "chroma", log=scratch / "chroma-server.log") as chroma:
        env2 = {
            **env,
            "ANQUAN_CHROMA_URL": chroma.url,
            "ANQUAN_EMBED_CACHE": str(scratch / "http-embed-cache.sqlite"),
        }
        say(f"HTTP: two workers, Chroma server at {chroma.url}")
        with LocalServer(env=env2, workers=2) as server:
            out["two_workers"] = run_load(
                server.base_url,
                requests=plan["search"],
                ask_requests=max(plan["ask"], max(TWO_WORKER_LEVELS)),
                concurrency=TWO_WORKER_LEVELS,
            )
            say(format_table(out["two_workers"]))
            say(f"HTTP: searches at 16 while {len(mixed_files)} files are uploaded")
            out["mixed"] = run_mixed(
                server.base_url, mixed_files, requests=plan["mixed_search"], concurrency=16
            )
    out["summary"] = http_summary(out)
    say(format_summary(out))
    return out


def _at(report: dict[str, Any], endpoint: str, concurrency: int, key: str = "p95_ms") -> Any:
    rows = report.get("results", {}).get(endpoint, [])
    return next((r[key] for r in rows if r["concurrency"] == concurrency), None)


def http_summary(stage: dict[str, Any]) -> dict[str, Any]:
    one, two, mixed = stage["one_worker"], stage["two_workers"], stage.get("mixed", {})
    runs = [one, two, stage.get("one_worker_repeated_queries", {"results": {}})]
    errors = sum(r["errors"] for run in runs for rows in run["results"].values() for r in rows)
    errors += sum(mixed.get(k, {}).get("errors", 0) for k in ("without_ingest", "during_ingest"))
    errors += sum(1 for j in mixed.get("jobs", []) if j.get("status") != "done")
    p95 = {"1_worker": _at(one, "search", 16), "2_workers": _at(two, "search", 16)}
    return {
        "errors": errors,
        "search_p95_ms_at_16": p95,
        "ask_p95_ms_at_16": {"1_worker": _at(one, "ask", 16), "2_workers": _at(two, "ask", 16)},
        "search_p95_ms_at_64_two_workers": _at(two, "search", 64),
        "ask_p95_ms_at_64_two_workers": _at(two, "ask", 64),
        "search_p95_ms_at_16_during_ingest": mixed.get("during_ingest", {}).get("p95_ms"),
        "search_p95_target_ms": SEARCH_P95_TARGET_MS,
        "met": {
            k: errors == 0 and v is not None and v <= SEARCH_P95_TARGET_MS for k, v in p95.items()
        },
    }


def format_summary(stage: dict[str, Any]) -> str:
    s = stage["summary"]
    m = stage.get("mixed", {})
    lines = [
        f"search p95 at 16 clients: 1 worker {s['search_p95_ms_at_16']['1_worker']} ms, "
        f"2 workers {s['search_p95_ms_at_16']['2_workers']} ms "
        f"(target ≤ {SEARCH_P95_TARGET_MS:.0f}); errors {s['errors']}",
    ]
    if m:
        w, d = m["without_ingest"], m["during_ingest"]
        lines.append(
            f"mixed: search at {m['concurrency']} p50/p95 {w['p50_ms']}/{w['p95_ms']} ms quiet, "
            f"{d['p50_ms']}/{d['p95_ms']} ms during the ingest of {m['chunks_ingested']} chunks "
            f"({m['ingest_seconds']} s, {d['requests']} searches meanwhile)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m evals.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--base-url", help="a running service (default: start one on the data dir)")
    p.add_argument(
        "--key",
        default=os.environ.get("ANQUAN_API_KEY"),
        help="API key, when the service has keys (default ANQUAN_API_KEY)",
    )
    p.add_argument("--requests", type=int, default=200, help="search requests per level")
    p.add_argument("--ask-requests", type=int, default=64, help="ask requests per level")
    p.add_argument(
        "--concurrency",
        default=",".join(map(str, LEVELS)),
        help="comma-separated levels (default 1,4,16,32)",
    )
    p.add_argument("--endpoints", default="search,ask")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="workers of the server this starts (more than 1 needs ANQUAN_CHROMA_URL)",
    )
    p.add_argument(
        "--repeat-queries",
        action="store_true",
        help="the same twenty queries again and again (answered from the query-vector cache); "
        "default: every query new",
    )
    p.add_argument("--out", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]

    def go(base_url: str) -> dict[str, Any]:
        return run_load(
            base_url,
            requests=args.requests,
            ask_requests=args.ask_requests,
            concurrency=levels,
            endpoints=endpoints,
            key=args.key,
            distinct=not args.repeat_queries,
        )

    if args.base_url:
        report = go(args.base_url)
    else:
        with LocalServer(workers=args.workers) as server:
            report = go(server.base_url)
    print(format_table(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"written to {args.out}", file=sys.stderr)
    return 0 if report["targets"]["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
