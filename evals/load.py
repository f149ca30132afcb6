"""A bounded load test of the HTTP service over loopback: ``/v1/search`` and ``/v1/ask``.

A fixed number of requests per concurrency level (1, 4, 16, 32 by default), so it always
stops by itself; for each level: throughput, p50/p95/p99 latency and the error count
(anything but a 2xx, or no reply). ``/v1/ask`` uses the extractive backend, so the figures
measure the service (retrieval, gate, composition), not a model's generation speed.

    python -m evals.load                               # starts a server on the data dir
    python -m evals.load --base-url http://127.0.0.1:8000 --key aq_…
    python -m evals.load --requests 200 --ask-requests 64 --out bench/load.json

Target (issue #6): zero errors; search p95 ≤ 250 ms at 16 concurrent on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from evals.bench import QUERIES

LEVELS = (1, 4, 16, 32)
T = TypeVar("T")
SEARCH_P95_TARGET_MS = 250.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(min(rank, len(ordered))) - 1]


def _request(endpoint: str, i: int, queries: Sequence[str]) -> dict[str, Any]:
    q = queries[i % len(queries)]
    if endpoint == "search":
        return {"method": "GET", "url": "/v1/search", "params": {"q": q, "k": 10}}
    if endpoint == "ask":
        return {"method": "POST", "url": "/v1/ask", "json": {"question": q, "llm": "extractive"}}
    raise ValueError(f"unknown endpoint {endpoint!r}. Available: search, ask")


async def _level(
    client: httpx.AsyncClient, endpoint: str, n: int, concurrency: int, queries: Sequence[str]
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            try:
                r = await client.request(**_request(endpoint, i, queries))
                ok = r.is_success
                why = str(r.status_code)
            except httpx.HTTPError as exc:
                ok, why = False, type(exc).__name__
            latencies.append((time.perf_counter() - t0) * 1000.0)
            if not ok:
                errors[why] = errors.get(why, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - t0
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
    }


async def _run(
    base_url: str,
    requests: dict[str, int],
    levels: Sequence[int],
    key: str | None,
    timeout: float,
    queries: Sequence[str],
    warmup: int,
) -> dict[str, list[dict[str, Any]]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    results: dict[str, list[dict[str, Any]]] = {}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=timeout, limits=limits
    ) as client:
        for endpoint, n in requests.items():
            for i in range(warmup):  # first calls load caches; they are not measured
                await client.request(**_request(endpoint, i, queries))
            results[endpoint] = [await _level(client, endpoint, n, c, queries) for c in levels]
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
) -> dict[str, Any]:
    """Load ``base_url`` with ``requests`` calls per concurrency level and endpoint (``/v1/ask``:
    ``ask_requests``, default ``requests``). Returns the figures; never runs unbounded."""
    counts = {e: (ask_requests or requests) if e == "ask" else requests for e in endpoints}
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    results = _run_to_end(
        _run(base_url.rstrip("/"), counts, list(concurrency), key, timeout, queries, warmup)
    )
    out: dict[str, Any] = {
        "base_url": base_url,
        "started_at": started,
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
    """``anquan``'s app in a uvicorn subprocess on a free loopback port (its own CPU time,
    as in production), over the knowledge base the environment's settings name."""

    def __init__(self, ready_timeout: float = 600.0, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout = ready_timeout
        self.env = {**os.environ, "ANQUAN_API_RATE_LIMIT_PER_MINUTE": "0", **(env or {})}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> LocalServer:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=Path(__file__).resolve().parents[1])
        end = time.monotonic() + self.ready_timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}; see its log above"
                )
            try:
                r = httpx.get(self.base_url + "/readyz", timeout=5)
                if r.status_code == 200:
                    return self
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
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


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
        )

    if args.base_url:
        report = go(args.base_url)
    else:
        with LocalServer() as server:
            report = go(server.base_url)
    print(format_table(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"written to {args.out}", file=sys.stderr)
    return 0 if report["targets"]["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
