"""``anquan bench``: ingest, search and HTTP load figures on the starter corpus, in a JSON file.

Every figure comes from a fresh data directory and a cold embedding cache, so the
pipeline is measured doing real work. Repeated measurements are reported as medians.
The answer stage (``"answers"``, :mod:`evals.answer_bench`) times extractive answers and the
local model on that knowledge base. The HTTP stage (``"http"``, :func:`evals.load.http_stage`) then serves the knowledge base just
built over loopback: one worker, two workers on a Chroma server, and searches during an
upload. ``--http-only`` and ``--answers-only`` run one stage alone on an existing knowledge base.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.llm.local import default_threads
from evals.answer_bench import answer_stage, nearest_rank
from ingest.embedders import make_embedder
from ingest.errors import ConfigError
from ingest.kb import embed_text, open_kb
from ingest.models import Chunk
from ingest.pipeline import run_ingest
from ingest.registry import Registry
from ingest.settings import Settings

QUICK_FILES = [
    "regulations/cn/安全生产法(2021-06-10).md",
    "regulations/us/29cfr1910/1910.146.html",
    "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf",
]

#: uploaded during the HTTP stage's mixed run (as new documents: their names differ)
MIXED_FILES = [
    "regulations/cn/安全生产许可证条例(2014-07-29).md",
    "regulations/us/29cfr1910/1910.147.html",
    "regulations/cn/消防法(2021-04-29).md",
]
QUICK_MIXED_FILES = MIXED_FILES[:1]

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


def _time_model_calls(kb) -> list[float]:
    """Accumulate the seconds the embedding model itself spends in ``embed_passages``.

    The pipeline's rate over the model's rate on the same texts in the same run is the share of
    the embedding stage spent in the model; everything else is the pipeline's overhead.
    """
    spent = [0.0]
    model = getattr(kb.embedder, "inner", kb.embedder)
    inner = model.embed_passages

    def timed(texts):
        start = time.perf_counter()
        try:
            return inner(texts)
        finally:
            spent[0] += time.perf_counter() - start

    model.embed_passages = timed
    return spent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _mixed_files(roots: list[Path], quick: bool) -> list[Path]:
    wanted = QUICK_MIXED_FILES if quick else MIXED_FILES
    found = (next((r / f for r in roots if (r / f).is_file()), None) for f in wanted)
    files = [f for f in found if f is not None]
    if not files:
        raise ConfigError(
            f"none of {', '.join(wanted)} is in the corpus roots: the HTTP stage "
            "uploads them; add the starter corpus, or run with --no-http"
        )
    return files


def _release_embedded_store() -> None:
    """Close this process's embedded Chroma, so that a server may open the same store."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "http_only", False):
        return _write(args, _http_only(args, settings))
    if getattr(args, "answers_only", False):
        return _write(args, _answers_only(args, settings))
    out: dict[str, Any] = {
        "machine": _machine(),
        "embedder": settings.embedder,
        "embed_max_chars": settings.embed_max_chars,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    roots = settings.corpus_roots()
    with tempfile.TemporaryDirectory(prefix="anquan-bench-") as tmp:
        bench_settings = settings.model_copy(
            update={
                "data_dir": Path(tmp) / "data",
                "embed_cache": Path(tmp) / "cache.sqlite",
                "chroma_url": None,  # never the caller's server: a fresh, embedded store
            }
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

        model_seconds = _time_model_calls(kb)
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
            # the model's own calls on exactly these texts, timed inside the same run: a
            # pipeline/raw ratio that CPU contention from other jobs cannot skew
            "model_seconds_in_run": round(model_seconds[0], 1),
            "pipeline_to_raw_ratio_in_run": (
                round(model_seconds[0] / t_embed, 3) if t_embed and model_seconds[0] else None
            ),
        }
        _log(
            f"embedding: {written} vectors in {t_embed:.1f}s ({pipeline_rate:.2f}/s); "
            f"model {model_seconds[0]:.1f}s of it"
        )

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
            "p95": round(nearest_rank(lat, 95), 1),
            "max": round(max(lat), 1),
        }
        _log(f"search: p50 {statistics.median(lat):.1f} ms, p95 {nearest_rank(lat, 95):.1f} ms")
        out["answers"] = answer_stage(
            kb,
            bench_settings.model_copy(update={"llm_gguf": settings.gguf_path}),
            local_questions=0 if args.quick else args.local_questions,
            log=_log,
        )
        kb.close()
        del kb
        _release_embedded_store()
        if not getattr(args, "no_http", False):
            from evals.load import http_stage

            out["http"] = http_stage(
                bench_settings, _mixed_files(roots, args.quick), quick=args.quick, log=_log
            )
    return _write(args, out)


def _write(args: argparse.Namespace, out: dict[str, Any]) -> int:
    out["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, ensure_ascii=False, indent=2))
    http = out.get("http")
    return 1 if http and http["summary"]["errors"] else 0


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": default_threads(),
        "platform": platform.platform(),
    }


def _existing_kb(settings: Settings, flag: str) -> tuple[Path, dict[str, Any]]:
    """The knowledge base a one-stage run (``flag``) measures, and the figures' header."""
    source = settings.data_dir.absolute()
    if not (source / "registry.sqlite").is_file():
        raise ConfigError(
            f"{source} holds no knowledge base (no registry.sqlite): give --data-dir DIR of "
            f"one built by 'anquan ingest', or run 'anquan bench' without {flag}"
        )
    out: dict[str, Any] = {
        "machine": _machine(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        flag.lstrip("-").replace("-", "_"): True,
        "data_dir": str(source),
    }
    return source, out


def _http_only(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The HTTP stage on a copy of the knowledge base in ``settings.data_dir``: the benchmark
    serves it, adds uploads and opens its store from a Chroma server, none of which may touch
    the original."""
    from evals.load import http_stage

    source, out = _existing_kb(settings, "--http-only")
    with tempfile.TemporaryDirectory(prefix="anquan-bench-http-") as tmp:
        data = Path(tmp) / "data"
        _log(f"copying {source} to {data}")
        shutil.copytree(source, data, ignore=shutil.ignore_patterns("uploads", "*.lock"))
        registry = Registry(data / "registry.sqlite")
        try:
            recipe = registry.get("embed_recipe") or ""
            stats = {"chunks": registry.chunk_count(), "pending": registry.pending_count()}
        finally:
            registry.close()
        # serve with the embedder that filled the store: another one would re-embed it all
        embedder = recipe.split("|")[0] or settings.embedder
        copy = settings.model_copy(
            update={"data_dir": data, "embed_cache": None, "chroma_url": None, "embedder": embedder}
        )
        out.update(embedder=embedder, chunks=stats["chunks"], pending_vectors=stats["pending"])
        if stats["pending"]:
            _log(f"{stats['pending']} chunks wait for vectors: the figures include embedding")
        out["http"] = http_stage(
            copy, _mixed_files(settings.corpus_roots(), args.quick), quick=args.quick, log=_log
        )
    return out


def _answers_only(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The answer stage alone, on the knowledge base in ``settings.data_dir`` (read only)."""
    _, out = _existing_kb(settings, "--answers-only")
    kb = open_kb(settings)
    try:
        out["chunks"] = kb.registry.chunk_count()
        out["answers"] = answer_stage(kb, settings, local_questions=args.local_questions, log=_log)
    finally:
        kb.close()
    return out


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)
