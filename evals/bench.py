"""``anquan bench``: ingest and search figures on the starter corpus, written to a JSON file.

Every figure comes from a fresh data directory and a cold embedding cache, so the
pipeline is measured doing real work. Repeated measurements are reported as medians.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.llm.local import default_threads
from ingest.embedders import make_embedder
from ingest.kb import embed_text, open_kb
from ingest.models import Chunk
from ingest.pipeline import run_ingest
from ingest.settings import Settings

QUICK_FILES = [
    "regulations/cn/安全生产法(2021-06-10).md",
    "regulations/us/29cfr1910/1910.146.html",
    "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf",
]

QUERIES = [
    "新工人上岗前需要接受多少小时的安全培训",
    "有限空间作业前要检测什么气体",
    "发生生产安全事故后多长时间内必须报告",
    "危险化学品仓库的储存数量有什么限制",
    "特种设备作业人员需要持证上岗吗",
    "煤矿瓦斯超限时应当怎么处理",
    "How high can a worker be before fall protection is required",
    "What must an entry permit for a confined space include",
    "lockout tagout energy control procedure steps",
    "scaffold guardrail top rail height",
    "excavation deeper than 5 feet protective system",
    "forklift operator training evaluation every three years",
    "安全生产法第四十一条",
    "1926.502(d)",
    "employer must report a fatality within how many hours",
    "crane operator certification requirements",
    "消防车通道被占用怎么处罚",
    "事故隐患排查治理制度由谁负责",
    "what are the duties of the attendant at a permit space",
    "worker fell through a skylight on a roof",
]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    idx = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[idx]


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    out: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": default_threads(),
            "platform": platform.platform(),
        },
        "embedder": settings.embedder,
        "embed_max_chars": settings.embed_max_chars,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    roots = settings.corpus_roots()
    with tempfile.TemporaryDirectory(prefix="anquan-bench-") as tmp:
        bench_settings = settings.model_copy(
            update={"data_dir": Path(tmp) / "data", "embed_cache": Path(tmp) / "cache.sqlite"}
        )
        paths = None
        if args.quick:
            paths = [r / f for r in roots for f in QUICK_FILES if (r / f).exists()]
            out["subset"] = QUICK_FILES
        kb = open_kb(bench_settings)
        kb.embedder  # model load is not ingest work  # noqa: B018
        t0 = time.perf_counter()
        report = run_ingest(kb, paths, embed=False)
        t_lexical = time.perf_counter() - t0
        first = kb.search("高处作业 fall protection", k=5, mode="lexical")
        out["stage_lexical"] = {
            "seconds_to_first_search": round(time.perf_counter() - t0, 2),
            "seconds": round(t_lexical, 2),
            "files": len(report.added),
            "failed": [f.source for f in report.failed],
            "chunks": report.total_chunks,
            "first_search_hits": len(first),
        }
        _log(f"lexical stage: {report.total_chunks} chunks in {t_lexical:.1f}s")
        t1 = time.perf_counter()
        last = [0.0]

        def tick(done: int, total: int) -> None:
            if time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                _log(f"embedding {done}/{total} ({done / (last[0] - t1):.1f} chunks/s)")

        written = kb.sync_vectors(progress=tick)
        t_embed = time.perf_counter() - t1
        total_wall = time.perf_counter() - t0
        pipeline_rate = written / t_embed if t_embed else 0.0
        out["ingest"] = {
            "wall_seconds": round(total_wall, 1),
            "embed_seconds": round(t_embed, 1),
            "chunks": report.total_chunks,
            "vectors": written,
            "chunks_per_second_overall": round(report.total_chunks / total_wall, 2),
            "embed_chunks_per_second": round(pipeline_rate, 2),
            "peak_rss_mb": round(_rss_mb(), 1),
        }
        _log(f"embedding: {written} vectors in {t_embed:.1f}s ({pipeline_rate:.2f}/s)")

        # the raw embedder on a random sample of the same texts, same batch size
        metas = kb.registry.all_meta()
        rng = random.Random(7)
        sample_ids = [
            cid for cid, _ in rng.sample(metas, min(len(metas), 320 if not args.quick else 96))
        ]
        chunks = kb.registry.chunks(sample_ids)
        texts = [
            embed_text(chunks[c], bench_settings.embed_max_chars, bench_settings.embed_record_chars)
            for c in sample_ids
            if c in chunks
        ]
        all_chunks: list[Chunk] = list(kb.registry.chunks([c for c, _ in metas]).values())
        raw = make_embedder(settings.embedder)
        raw.embed_passages(texts[:4])
        t2 = time.perf_counter()
        bs = bench_settings.embed_batch_size
        for i in range(0, len(texts), bs):
            raw.embed_passages(texts[i : i + bs])
        raw_rate_sample = len(texts) / (time.perf_counter() - t2)
        # the sample's texts may be shorter or longer than the whole: scale by characters
        mean_all = statistics.mean(
            len(embed_text(c, bench_settings.embed_max_chars, bench_settings.embed_record_chars))
            for c in all_chunks
        )
        mean_sample = statistics.mean(len(t) for t in texts)
        raw_rate = raw_rate_sample * mean_sample / mean_all
        out["raw_embedder"] = {
            "sample": len(texts),
            "sample_chunks_per_second": round(raw_rate_sample, 2),
            "mean_chars_sample": round(mean_sample, 1),
            "mean_chars_all": round(mean_all, 1),
            "chunks_per_second_length_adjusted": round(raw_rate, 2),
            "pipeline_to_raw_ratio": round(pipeline_rate / raw_rate, 3) if raw_rate else None,
        }
        _log(f"raw embedder: {raw_rate:.2f}/s; pipeline/raw {pipeline_rate / raw_rate:.3f}")

        reingest = []
        for _ in range(3):
            t = time.perf_counter()
            again = run_ingest(kb, paths)
            reingest.append(time.perf_counter() - t)
            assert again.vectors_written == 0 and not again.added and not again.updated
        out["reingest_unchanged_seconds"] = {
            "median": round(statistics.median(reingest), 2),
            "runs": [round(x, 2) for x in reingest],
        }
        _log(f"re-ingest unchanged: median {statistics.median(reingest):.2f}s")

        queries = [
            QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}") for i in range(200)
        ]
        for q in QUERIES[:5]:
            kb.search(q, k=10)
        lat = []
        for q in queries:
            t = time.perf_counter()
            kb.search(q, k=10)
            lat.append((time.perf_counter() - t) * 1000)
        out["search_ms"] = {
            "queries": len(lat),
            "p50": round(statistics.median(lat), 1),
            "p95": round(_pct(lat, 95), 1),
            "max": round(max(lat), 1),
        }
        _log(f"search: p50 {statistics.median(lat):.1f} ms, p95 {_pct(lat, 95):.1f} ms")
        kb.close()
    out["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)
