"""Sizing: grow one knowledge base through sizes (10k, 100k, 500k chunks) and measure its cost.

How the cost of the product grows with the collection, so a reader can size a machine: at each
size, write throughput per stage, search latency per mode, memory, disk and the time to open
the knowledge base cold.

The chunks are **variants of the real starter corpus**: its files are loaded and chunked by the
product's own loaders and chunker, then each synthetic document copies a real one's metadata
and rewrites its chunks deterministically (sentences or clauses swapped in from other chunks of
the same language and document type, the rest shuffled, numbers replaced, the length held near
the original's), so the Chinese/English mix, the document types and the length distribution
follow the real corpus. They are written through the product's write path:
``Registry.replace_document`` per synthetic document of 50-200 chunks, ``sync_vectors`` into
Chroma, and the lexical (BM25) rebuild. Vectors come from the deterministic hashing embedder
(384 dimensions, as e5-small): embedding 500k chunks with e5 would take about a day on 2 cores,
so e5's own rate is measured on a small real sample and the e5 hours are *projected*.

Each size runs in its own process, watched by this one: a step whose memory passes
``--max-rss-gib`` is stopped, and the report says which size completed and why the next did not.
The cold open (a new process: open the knowledge base, run the first search) is another process.

    python -m evals.sizing --sizes 10000,100000,500000 --out bench/sizing.json
    python -m evals.sizing --quick --out /tmp/sizing-quick.json    # 2k and 10k, a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ingest.chunking import split_sentences
from ingest.corpus import ROOT_SKIP, CorpusFile, infer_meta, read_manifest, walk
from ingest.embedders import HashingEmbedder
from ingest.kb import KnowledgeBase, SearchMode, embed_text, open_kb
from ingest.language import detect_language
from ingest.lexical import tokenize
from ingest.loaders import SUPPORTED_EXTENSIONS, load
from ingest.models import Chunk, DocMeta, make_chunk_id
from ingest.settings import REPO_ROOT, Settings

DEFAULT_SIZES = (10_000, 100_000, 500_000)
QUICK_SIZES = (2_000, 10_000)
DEFAULT_CORPUS = (REPO_ROOT / ".." / "shared" / "corpus").resolve()
#: the quick seed: every file but the 1926 PDFs (which take a minute to read), plus one of them
QUICK_FILES = (
    "regulations/cn/*",
    "regulations/cn-local/*",
    "regulations/cn-coal/*",
    "regulations/us/*.md",
    "regulations/us/29cfr1910/*",
    "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf",
    "guidance/**/*",
    "accidents/**/*",
)
DIM = 384  # multilingual-e5-small's
DOC_CHUNKS = (50, 200)
SWAP_FRACTION = 0.35
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "lexical", "dense")
QUERY_COUNT = 100
DATASET = REPO_ROOT / "evals" / "datasets" / "dev.jsonl"
E5_SAMPLE = 64
E5_RUNS = 3
#: disk per chunk assumed before the first size has been measured (generous)
FIRST_DISK_PER_CHUNK = 40_000
METHOD = (
    "Synthetic documents, each copying one real document's metadata (chosen with probability "
    "proportional to its chunk count) and 50-200 chunks from a window of its chunks. Each chunk "
    "keeps its first line or sentence (the clause header and locator); of the rest (sentences, "
    "or clauses split at ，；、,;: when a chunk has fewer than three sentences) 35% are replaced "
    "by units from other chunks of the same language and document type, the rest shuffled, each "
    "Arabic number replaced with a random one of the same digit count with probability 0.5, and "
    "units dropped or added until the length is within 0.8-1.25x the original's. Seeded per "
    "document (random.Random('sizing:<seed>:<doc index>')), so a rerun writes the same chunks."
)


# -- measuring helpers ---------------------------------------------------------------------------
def proc_status_mib(pid: int | str = "self") -> dict[str, float]:
    """VmRSS (current) and VmHWM (peak) of a process, in MiB; empty when it is gone."""
    out: dict[str, float] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mib" if key == "VmRSS" else "peak_rss_mib"] = round(
                int(rest.split()[0]) / 1024, 1
            )
    if "rss_mib" in out:  # the kernel updates the high-water mark lazily
        out["peak_rss_mib"] = max(out.get("peak_rss_mib", 0.0), out["rss_mib"])
    return out


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / name).stat().st_size
    return total


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


def length_stats(lengths: dict[str, list[int]]) -> dict[str, Any]:
    """Share of chunks and character lengths per language."""
    total = sum(len(v) for v in lengths.values()) or 1
    return {
        lang: {
            "share": round(len(v) / total, 4),
            "chunks": len(v),
            "mean_chars": round(statistics.mean(v), 1),
            "p50_chars": percentile(v, 50),
            "p95_chars": percentile(v, 95),
        }
        for lang, v in sorted(lengths.items())
        if v
    }


class Stopwatch:
    """Seconds and calls per named stage; ``wrap`` times a bound method in place."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: Counter[str] = Counter()

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] += 1

    def wrap(self, obj: Any, attr: str, name: str) -> None:
        fn = getattr(obj, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - t0)

        setattr(obj, attr, timed)

    def take(self) -> dict[str, dict[str, Any]]:
        out = {k: {"seconds": round(v, 2), "calls": self.calls[k]} for k, v in self.seconds.items()}
        self.seconds.clear()
        self.calls.clear()
        return out


class TimedHashing(HashingEmbedder):
    """The hashing embedder, counting its own seconds so the store's cost can be told apart."""

    def __init__(self, dim: int = DIM) -> None:
        super().__init__(dim)
        self.seconds = 0.0

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return super().embed_passages(texts)
        finally:
            self.seconds += time.perf_counter() - t0


class Progress:
    """One status line on stderr: redrawn on a terminal, a line every 15 s otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < (0.5 if self.tty else 15.0):
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-9)
        eta = (total - done) / rate if rate and total else 0.0
        msg = f"[sizing {self.label}] {stage} {done:,}/{total:,} ({rate:,.0f}/s, ETA {eta:,.0f} s)"
        if self.tty:
            print(f"\r{msg:<100}", end="" if not force else "\n", file=sys.stderr, flush=True)
        else:
            print(msg, file=sys.stderr, flush=True)

    def restart(self) -> None:
        self.t0 = time.perf_counter()
        self.last = 0.0


def log(msg: str) -> None:
    print(f"[sizing] {msg}", file=sys.stderr, flush=True)


# -- the seed: real chunks -----------------------------------------------------------------------
@dataclass
class SeedDoc:
    meta: DocMeta
    fmt: str
    chunks: list[Chunk]


def seed_files(corpus: Path, patterns: list[str] | None) -> list[CorpusFile]:
    """The corpus files to read: every supported file, or those matching ``patterns``."""
    if not patterns:
        files = list(walk([corpus], [corpus]))
    else:
        found: dict[Path, None] = {}
        for pattern in patterns:
            for p in sorted(corpus.glob(pattern)):
                if p.is_file() and not (p.parent == corpus and p.name.lower() in ROOT_SKIP):
                    found[p] = None
        files = [CorpusFile(corpus, p) for p in found]
    return [f for f in files if f.path.suffix.lower() in SUPPORTED_EXTENSIONS]


def load_seed(corpus: Path, patterns: list[str] | None) -> tuple[list[SeedDoc], list[str]]:
    """Real documents loaded and chunked by the product's loaders and chunker, as ingest does."""
    from ingest.chunking import chunk_document

    manifest = read_manifest(corpus)
    docs: list[SeedDoc] = []
    failed: list[str] = []
    files = seed_files(corpus, patterns)
    progress = Progress("seed")
    for i, cf in enumerate(files):
        progress("read", i, len(files))
        try:
            doc = load(cf.path)
        except Exception as exc:  # a file that does not load is left out and named
            failed.append(f"{cf.source}: {type(exc).__name__}: {exc}")
            continue
        row = manifest.get(cf.source)
        language = (row or {}).get("language") or detect_language(doc.text[:5000])
        meta = infer_meta(cf.source, title=doc.title, language=language, fmt=doc.format, row=row)
        chunks = chunk_document(doc, meta)
        if chunks:
            docs.append(SeedDoc(meta, doc.format, chunks))
    progress("read", len(files), len(files), force=True)
    return docs, failed


def save_seed(docs: list[SeedDoc], path: Path) -> None:
    rows = [
        {"meta": asdict(d.meta), "fmt": d.fmt, "chunks": [c.to_dict() for c in d.chunks]}
        for d in docs
    ]
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def read_seed(path: Path) -> list[SeedDoc]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [
        SeedDoc(DocMeta(**r["meta"]), r["fmt"], [Chunk(**c) for c in r["chunks"]]) for r in rows
    ]


# -- variants --------------------------------------------------------------------------------------
_CLAUSE_CUT = re.compile(r"(?<=[，；、,;:：])")
_NUMBER = re.compile(r"\d+")


def text_units(text: str) -> list[str]:
    """Sentences, or clauses when a chunk has fewer than three sentences; they join back."""
    sentences = split_sentences(text)
    if len(sentences) >= 3:
        return sentences
    clauses = [p for s in sentences for p in _CLAUSE_CUT.split(s) if p]
    return clauses if len(clauses) > len(sentences) else sentences


def join_units(units: Iterable[str], language: str) -> str:
    out = ""
    for unit in units:
        if out and language != "zh" and not out[-1].isspace() and not unit[:1].isspace():
            out += " "
        out += unit
    return out


def _renumber(text: str, rng: random.Random) -> str:
    def swap(m: re.Match[str]) -> str:
        digits = m.group(0)
        if rng.random() >= 0.5:
            return digits
        first = str(rng.randint(1, 9)) if len(digits) > 1 else str(rng.randint(0, 9))
        return first + "".join(str(rng.randint(0, 9)) for _ in digits[1:])

    return _NUMBER.sub(swap, text)


class VariantMaker:
    """Synthetic documents from the seed, deterministic per document index."""

    def __init__(self, seed_docs: list[SeedDoc], seed: int = 7) -> None:
        self.docs = [d for d in seed_docs if d.chunks]
        if not self.docs:
            raise ValueError("the seed has no chunks: check --corpus and --files")
        self.seed = seed
        cum = 0
        self.cum_weights: list[int] = []
        for d in self.docs:
            cum += len(d.chunks)
            self.cum_weights.append(cum)
        by_stratum: dict[tuple[str, str], list[str]] = {}
        by_language: dict[str, list[str]] = {}
        for d in self.docs:
            for c in d.chunks:
                rest = text_units(c.text)[1:]  # never a clause header in the middle
                by_stratum.setdefault((c.language, c.doc_type), []).extend(rest)
                by_language.setdefault(c.language, []).extend(rest)
        self.pools = by_stratum
        self.language_pools = by_language

    def _pool(self, chunk: Chunk) -> list[str]:
        return (
            self.pools.get((chunk.language, chunk.doc_type))
            or self.language_pools.get(chunk.language)
            or [chunk.text]
        )

    def vary(self, chunk: Chunk, rng: random.Random) -> str:
        units = text_units(chunk.text)
        head, rest = units[0], units[1:]
        first, newline, tail = head.partition("\n")
        if newline and tail.strip():  # a heading line ("§ 1910.146 …", a record's title) stays
            head, rest = first + newline, [tail, *rest]
        pool = self._pool(chunk)
        if rest:
            for i in rng.sample(range(len(rest)), max(1, round(len(rest) * SWAP_FRACTION))):
                rest[i] = rng.choice(pool)
            rng.shuffle(rest)
        else:  # a one-piece chunk: a clause from its kind makes it new
            rest = [rng.choice(pool)]
        target = len(chunk.text)
        size = len(head) + sum(len(u) for u in rest)
        while len(rest) > 1 and size > target * 1.25:
            size -= len(rest.pop())
        for _ in range(50):
            if size >= target * 0.8:
                break
            rest.append(rng.choice(pool))
            size += len(rest[-1])
        return join_units([head, _renumber(join_units(rest, chunk.language), rng)], chunk.language)

    def document(self, index: int, max_chunks: int) -> tuple[DocMeta, str, list[Chunk]]:
        """Synthetic document number ``index`` with at most ``max_chunks`` chunks."""
        rng = random.Random(f"sizing:{self.seed}:{index}")
        template = rng.choices(self.docs, cum_weights=self.cum_weights)[0]
        count = min(max_chunks, rng.randint(*DOC_CHUNKS))
        src = template.meta
        meta = replace(
            src,
            source=f"synthetic/{index:07d}/{src.source}",
            title=f"{src.title} [S{index}]",
            industries=list(src.industries),
        )
        doc_id = meta.doc_id
        start = rng.randrange(len(template.chunks))
        seen: Counter[str] = Counter()
        chunks: list[Chunk] = []
        for j in range(count):
            t = template.chunks[(start + j) % len(template.chunks)]
            n = seen[t.locator]
            seen[t.locator] += 1
            suffix = t.source[len(src.source) :] if t.source.startswith(src.source) else ""
            chunks.append(
                replace(
                    t,
                    chunk_id=make_chunk_id(doc_id, t.locator, n),
                    doc_id=doc_id,
                    source=meta.source + suffix,
                    title=t.title if suffix else meta.title,
                    text=self.vary(t, rng),
                    industries=list(t.industries),
                )
            )
        return meta, template.fmt, chunks


# -- one size, in its own process ------------------------------------------------------------------
def kb_settings(workdir: Path, args: argparse.Namespace) -> Settings:
    data = workdir / "kb"
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data,
        embedder="hashing",
        embed_cache=data / "embed_cache.sqlite",
        embed_batch_size=args.embed_batch,
        chroma_url=args.chroma_url or None,
        collection="sizing",
    )


def disk_usage(settings: Settings) -> dict[str, int]:
    d = settings.data_dir
    registry = sum(folder_bytes(p) for p in d.glob("registry.sqlite*"))
    cache = sum(folder_bytes(p) for p in d.glob("embed_cache.sqlite*"))
    out = {
        "registry_bytes": registry,
        "embed_cache_bytes": cache,
        "lexical_bytes": folder_bytes(d / "lexical") if (d / "lexical").exists() else 0,
        "chroma_bytes": folder_bytes(d / "chroma") if (d / "chroma").exists() else 0,
    }
    out["total_bytes"] = sum(out.values())
    return out


def load_queries(n: int = QUERY_COUNT) -> list[str]:
    """The first ``n`` questions of the dev set (real users' wording, Chinese and English)."""
    queries: list[str] = []
    if DATASET.is_file():
        for line in DATASET.read_text(encoding="utf-8").splitlines():
            if line.strip():
                queries.append(json.loads(line)["question"])
    if not queries:
        from evals.bench import QUERIES

        queries = list(QUERIES)
    return [queries[i % len(queries)] for i in range(n)]


def measure_search(kb: KnowledgeBase, queries: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for mode in SEARCH_MODES:
        for q in queries[:3]:  # warm: first query-vector and mask caches are not the figure
            kb.search(q + " warm-up", k=10, mode=mode)
        lat: list[float] = []
        cpu: list[float] = []
        hits = 0
        for q in queries:
            t0, c0 = time.perf_counter(), time.process_time()
            hits += len(kb.search(q, k=10, mode=mode))
            lat.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        out[mode] = {
            "queries": len(lat),
            "p50_ms": round(percentile(lat, 50), 1),
            "p95_ms": round(percentile(lat, 95), 1),
            "max_ms": round(max(lat), 1),
            "mean_ms": round(statistics.mean(lat), 1),
            "cpu_p50_ms": round(percentile(cpu, 50), 1),
            "cpu_p95_ms": round(percentile(cpu, 95), 1),
            "mean_hits": round(hits / len(lat), 2),
        }
    return out


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else 0.0


def run_step(args: argparse.Namespace) -> int:
    """Grow the knowledge base to ``args.step_target`` chunks and write this size's figures."""
    workdir = Path(args.workdir)
    result_path = Path(args.step_result)
    result: dict[str, Any] = {"target": args.step_target, "stage": "start"}
    limit_mib = args.max_rss_gib * 1024

    def save(stage: str) -> None:
        result["stage"] = stage
        memory = {**result.get("memory", {}), **proc_status_mib()}
        seen = [v["peak_rss_mib"] for v in memory.values() if isinstance(v, dict)]
        memory["peak_rss_mib"] = max([memory["peak_rss_mib"], *seen])
        result["memory"] = memory
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(result_path)

    def over_limit(stage: str) -> bool:
        rss = proc_status_mib().get("rss_mib", 0.0)
        if rss > limit_mib:
            result["stopped"] = f"RSS {rss:,.0f} MiB after {stage}, over --max-rss-gib"
            save(stage)
            return True
        return False

    t_start = time.perf_counter()
    maker = VariantMaker(read_seed(workdir / "seed.json"), seed=args.seed)
    settings = kb_settings(workdir, args)
    embedder = TimedHashing(DIM)
    kb = open_kb(settings, embedder=embedder)
    watch = Stopwatch()
    store = kb.vectors  # opened first: an empty store with chunks would re-embed them all
    watch.wrap(kb.registry, "replace_document", "registry.replace_document")
    watch.wrap(kb.registry, "pending", "registry.pending")
    watch.wrap(kb.registry, "mark_embedded", "registry.mark_embedded")
    watch.wrap(kb.registry, "all_tokens", "registry.all_tokens")
    watch.wrap(kb.registry, "all_meta", "registry.all_meta")
    watch.wrap(store, "upsert", "chroma.upsert")
    watch.wrap(kb.embedder, "embed_passages", "embed_cache.embed_passages")
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()

    start_chunks = kb.registry.chunk_count()
    next_doc = len(kb.registry.documents())
    to_add = max(0, args.step_target - start_chunks)
    result.update(start_chunks=start_chunks, start_documents=next_doc)
    result["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    result["ingest_revision"] = _revision()
    progress = Progress(f"{args.step_target:,}")

    # 1. registry + tokenize, one synthetic document at a time (as ingest_file does)
    t_gen = t_tok = t_hash = t_reg = 0.0
    cpu_tok = cpu_reg = 0.0  # CPU seconds of this process (all threads): robust to sharing
    added = docs = 0
    lengths: dict[str, list[int]] = {}
    texts_seen: set[bytes] = set()
    duplicates = 0
    while added < to_add:
        t0 = time.perf_counter()
        meta, fmt, chunks = maker.document(next_doc, to_add - added)
        body = "\n".join(c.text for c in chunks).encode("utf-8")
        for c in chunks:
            lengths.setdefault(c.language, []).append(len(c.text))
            key = hashlib.blake2b(c.text.encode("utf-8"), digest_size=8).digest()
            duplicates += key in texts_seen
            texts_seen.add(key)
        t1, c1 = time.perf_counter(), time.process_time()
        tokens = [tokenize(f"{c.title} {c.locator} {c.heading_path}\n{c.text}") for c in chunks]
        t2, c2 = time.perf_counter(), time.process_time()
        embed_hashes = [kb.embed_hash(c) for c in chunks]
        t3 = time.perf_counter()
        kb.registry.replace_document(
            meta,
            root="synthetic",
            path=meta.source,
            fmt=fmt,
            content_hash=hashlib.sha256(body).hexdigest(),
            size=len(body),
            chunks=chunks,
            tokens=tokens,
            embed_hashes=embed_hashes,
        )
        t4, c4 = time.perf_counter(), time.process_time()
        cpu_tok, cpu_reg = cpu_tok + c2 - c1, cpu_reg + c4 - c2
        t_gen, t_tok, t_hash, t_reg = (
            t_gen + t1 - t0,
            t_tok + t2 - t1,
            t_hash + t3 - t2,
            t_reg + t4 - t3,
        )
        added += len(chunks)
        docs += 1
        next_doc += 1
        progress("write", added, to_add)
        if docs % 200 == 0 and over_limit("write"):
            return 3
    progress("write", added, to_add, force=True)
    del texts_seen
    write_s = t_tok + t_hash + t_reg
    result["generated"] = {
        "chunks": added,
        "documents": docs,
        "duplicate_texts": duplicates,
        "by_language": length_stats(lengths),
        "seconds": round(t_gen, 2),
    }
    result["write"] = {
        "chunks": added,
        "documents": docs,
        "tokenize_seconds": round(t_tok, 2),
        "embed_hash_seconds": round(t_hash, 2),
        "registry_seconds": round(t_reg, 2),
        "seconds": round(write_s, 2),
        "chunks_per_second": rate(added, write_s),
        "tokenize_chunks_per_second": rate(added, t_tok),
        "registry_chunks_per_second": rate(added, t_reg),
        "cpu_seconds": round(cpu_tok + cpu_reg, 2),
        "tokenize_cpu_seconds": round(cpu_tok, 2),
        "chunks_per_cpu_second": rate(added, cpu_tok + cpu_reg),
        "calls": watch.take(),
    }
    result["memory"] = {"after_write": proc_status_mib()}
    save("write")
    if over_limit("write"):
        return 3

    # 2. lexical rebuild (the pipeline builds it before the vectors, so search works at once)
    progress.restart()
    log(f"{args.step_target:,}: lexical rebuild over {kb.registry.chunk_count():,} chunks")
    t0, c0 = time.perf_counter(), time.process_time()
    index = kb.lexical()
    lex_s, lex_cpu = time.perf_counter() - t0, time.process_time() - c0
    calls = watch.take()
    result["lexical"] = {
        "chunks": len(index.ids),
        "seconds": round(lex_s, 2),
        "cpu_seconds": round(lex_cpu, 2),
        "build_and_save_seconds": round(
            lex_s
            - sum(
                calls.get(k, {}).get("seconds", 0.0)
                for k in ("registry.all_tokens", "registry.all_meta")
            ),
            2,
        ),
        "calls": calls,
    }
    result["memory"]["after_lexical"] = proc_status_mib()
    save("lexical")
    if over_limit("lexical"):
        return 3

    # 3. vectors: hashing embedder + embedding cache + Chroma upsert, through sync_vectors
    progress.restart()
    embedder.seconds = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    written = kb.sync_vectors(progress=lambda done, total: progress("vectors", done, total))
    vec_s, vec_cpu = time.perf_counter() - t0, time.process_time() - c0
    progress("vectors", written, written, force=True)
    calls = watch.take()
    store_s = vec_s - embedder.seconds
    result["vectors"] = {
        "written": written,
        "collection_count": store.count(),
        "seconds": round(vec_s, 2),
        "hashing_embed_seconds": round(embedder.seconds, 2),
        "seconds_without_embedding": round(store_s, 2),
        "chunks_per_second": rate(written, vec_s),
        "chunks_per_second_without_embedding": rate(written, store_s),
        "cpu_seconds": round(vec_cpu, 2),
        "chunks_per_cpu_second": rate(written, vec_cpu),
        "upsert_chunks_per_second": rate(
            written, calls.get("chroma.upsert", {}).get("seconds", 0.0)
        ),
        "batch_size": settings.embed_batch_size,
        "calls": calls,
    }
    result["memory"]["after_vectors"] = proc_status_mib()
    save("vectors")
    if over_limit("vectors"):
        return 3

    # 4. search, warm, over real questions
    log(f"{args.step_target:,}: search, {QUERY_COUNT} real questions x {len(SEARCH_MODES)} modes")
    result["search"] = measure_search(kb, load_queries())
    if profiler:
        profiler.disable()
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.dump_stats(str(workdir / f"profile-{args.step_target}.prof"))
        stats.sort_stats("cumulative").print_stats(30)
        result["profile_top"] = buf.getvalue().splitlines()[:60]
    result["chunks"] = kb.registry.chunk_count()
    result["documents"] = len(kb.registry.documents())
    result["memory"]["after_search"] = proc_status_mib()
    kb.close()
    result["disk"] = disk_usage(settings)
    result["step_seconds"] = round(time.perf_counter() - t_start, 1)
    # the machine may be shared: other work slows every figure above
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    save("done")
    return 0


def run_cold(args: argparse.Namespace) -> int:
    """A new process opens the knowledge base and runs its first search: the cold start cost."""
    t_imported = time.time()
    settings = kb_settings(Path(args.workdir), args)
    query = load_queries(1)[0]
    t0 = time.perf_counter()
    kb = open_kb(settings, embedder=HashingEmbedder(DIM))
    t1, c1 = time.perf_counter(), time.process_time()
    hits = kb.search(query, k=10, mode="hybrid")
    t2, c2 = time.perf_counter(), time.process_time()
    kb.search(load_queries(2)[1], k=10, mode="hybrid")
    t3 = time.perf_counter()
    out = {
        "imports_seconds": round(t_imported - args.cold_t0, 2) if args.cold_t0 else None,
        "open_seconds": round(t1 - t0, 3),
        "first_search_seconds": round(t2 - t1, 2),
        "open_and_first_search_seconds": round(t2 - t0, 2),
        "first_search_cpu_seconds": round(c2 - c1, 2),
        "second_search_ms": round((t3 - t2) * 1000, 1),
        "first_search_hits": len(hits),
        **proc_status_mib(),
    }
    kb.close()
    Path(args.step_result).write_text(json.dumps(out), encoding="utf-8")
    return 0


# -- the e5 projection -----------------------------------------------------------------------------
def measure_e5(docs: list[SeedDoc], sample: int = E5_SAMPLE, runs: int = E5_RUNS) -> dict[str, Any]:
    """e5-small-q4 passages/s on real chunk texts (median of ``runs``), length-adjusted."""
    from ingest.embedders import E5Embedder

    chunks = [c for d in docs for c in d.chunks]
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    texts_all = [embed_text(c, s.embed_max_chars, s.embed_record_chars) for c in chunks]
    rng = random.Random(7)
    texts = rng.sample(texts_all, min(sample, len(texts_all)))
    try:
        model = E5Embedder()
    except Exception as exc:  # the model package is optional on some installs
        return {"error": f"{type(exc).__name__}: {exc}"}
    model.embed_passages(texts[:4])
    times, cpu = [], []
    for r in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), s.embed_batch_size):
            model.embed_passages(texts[i : i + s.embed_batch_size])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        log(f"e5 run {r + 1}/{runs}: {len(texts) / times[-1]:.2f} chunks/s")
    raw = len(texts) / statistics.median(times)
    per_cpu = len(texts) / statistics.median(cpu)
    mean_sample = statistics.mean(len(t) for t in texts)
    mean_all = statistics.mean(len(t) for t in texts_all)
    return {
        "embedder": "e5-small-q4",
        "sample": len(texts),
        "runs_seconds": [round(t, 2) for t in times],
        "chunks_per_second": round(raw, 2),
        "mean_chars_sample": round(mean_sample, 1),
        "mean_chars_seed": round(mean_all, 1),
        "chunks_per_second_length_adjusted": round(raw * mean_sample / mean_all, 2),
        "runs_cpu_seconds": [round(c, 2) for c in cpu],
        "chunks_per_cpu_second_length_adjusted": round(per_cpu * mean_sample / mean_all, 2),
        "note": "raw embedder only, batch of embed_batch_size; the store writes add a little",
    }


def project_e5(e5: dict[str, Any], sizes: Iterable[int]) -> dict[str, Any]:
    """Hours e5 would need to embed each size, from the measured rate: a projection."""
    if "chunks_per_second_length_adjusted" not in e5:
        return e5
    sizes = sorted(set(sizes))
    per_s = e5["chunks_per_second_length_adjusted"]
    cores = os.cpu_count() or 1
    per_cores = e5["chunks_per_cpu_second_length_adjusted"] * cores
    e5["projected_hours_to_embed"] = {str(n): round(n / per_s / 3600, 1) for n in sizes}
    e5["projected_hours_to_embed_all_cores"] = {
        str(n): round(n / per_cores / 3600, 1) for n in sizes
    }
    e5["projection_note"] = (
        "PROJECTION, not measured: size / length-adjusted raw e5 rate; the first at the "
        "wall-clock rate measured here (as loaded as the machine was), the second at "
        f"the CPU-time rate times {cores} cores (the machine to itself, if e5 scaled "
        "perfectly). The measured sizes use the hashing embedder."
    )
    return e5


# -- the driver ------------------------------------------------------------------------------------
def _child(args: argparse.Namespace, kind: str, target: int, result: Path) -> list[str]:
    cmd = [sys.executable, "-m", "evals.sizing", "--workdir", str(args.workdir)]
    cmd += ["--seed", str(args.seed), "--embed-batch", str(args.embed_batch)]
    cmd += ["--max-rss-gib", str(args.max_rss_gib), "--step-result", str(result)]
    if args.chroma_url:
        cmd += ["--chroma-url", args.chroma_url]
    if kind == "step":
        cmd += ["--step-target", str(target)] + (["--profile"] if args.profile else [])
    else:
        cmd += ["--cold", "--cold-t0", repr(time.time())]
    return cmd


def watch_process(cmd: list[str], limit_mib: float, timeout_s: float | None) -> dict[str, Any]:
    """Run ``cmd``; kill it if its RSS passes ``limit_mib`` or it runs past ``timeout_s``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT)
    peak = 0.0
    killed = ""
    while proc.poll() is None:
        rss = proc_status_mib(proc.pid).get("rss_mib", 0.0)
        peak = max(peak, rss)
        if rss > limit_mib:
            killed = f"RSS {rss:,.0f} MiB passed the limit of {limit_mib:,.0f} MiB"
        elif timeout_s and time.perf_counter() - t0 > timeout_s:
            killed = f"ran past the step timeout of {timeout_s:,.0f} s"
        if killed:
            proc.kill()
            proc.wait()
            break
        time.sleep(0.25)
    return {
        "rc": proc.returncode,
        "killed": killed,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "watched_peak_rss_mib": round(peak, 1),
    }


def _earlier_report(args: argparse.Namespace, workdir: Path) -> dict[str, Any] | None:
    """With ``--keep``: the report of the run that grew this workdir, when ``--out`` holds it."""
    if not (args.keep and args.out.is_file()):
        return None
    try:
        earlier = json.loads(args.out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if earlier.get("settings", {}).get("workdir") != str(workdir) or not earlier.get("sizes"):
        return None
    return earlier


def _projected_disk(previous: dict[str, Any] | None, added: int) -> float:
    if previous and previous.get("chunks"):
        per_chunk = previous["disk"]["total_bytes"] / previous["chunks"]
        return per_chunk * added * 1.5  # WAL and rebuild copies
    return float(FIRST_DISK_PER_CHUNK * added)


def machine() -> dict[str, Any]:
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in ("chromadb", "bm25s", "jieba"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = None
    return {
        "ingest_revision": _revision(),
        "cpus": os.cpu_count(),
        "memory_mib": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nice": os.nice(0),
        **versions,
    }


def _revision() -> str | None:
    """The last commit that changed ingest/ (the code measured), with "+changes" when the work
    tree's ingest/ differs from it (work trees are shared)."""
    try:
        head = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", "ingest"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "ingest"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return (head + ("+changes" if dirty else "")) or None


def summary_row(step: dict[str, Any]) -> str:
    w, v, lx, s = step["write"], step["vectors"], step["lexical"], step["search"]
    cold = step.get("cold_open", {})
    return (
        f"{step['chunks']:>9,} | write {w['chunks_per_second']:>7,.0f}/s | vectors "
        f"{v['chunks_per_second']:>7,.0f}/s | lexical {lx['seconds']:>6.1f} s | hybrid p50/p95 "
        f"{s['hybrid']['p50_ms']:.0f}/{s['hybrid']['p95_ms']:.0f} ms | peak "
        f"{step['memory'].get('peak_rss_mib', 0):,.0f} MiB | disk "
        f"{step['disk']['total_bytes'] / 2**20:,.0f} MiB | cold "
        f"{cold.get('open_and_first_search_seconds', '-')} s"
    )


def run_sizing(args: argparse.Namespace) -> int:
    sizes = sorted(set(args.sizes))
    workdir = Path(args.workdir)
    if workdir.exists() and any(workdir.iterdir()) and not args.keep:
        if not (workdir / "seed.json").exists() and not (workdir / "kb").exists():
            log(f"refusing to clear {workdir}: it holds something other than a sizing run")
            return 2
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # read before this run writes its first report over --out
    earlier = _earlier_report(args, workdir)
    out: dict[str, Any] = {
        "tool": "python -m evals.sizing",
        "argv": args.argv,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "settings": {
            "vectors": f"hashing embedder, {DIM} dimensions (e5-small's), not a model",
            "query_vectors": "hashing embedder too, for consistency",
            "embed_batch_size": args.embed_batch,
            "chroma": args.chroma_url or "persistent (embedded)",
            "max_rss_gib": args.max_rss_gib,
            "workdir": str(workdir),
        },
        "sizes": [],
        "stopped": None,
        "notes": [
            "Each size grows the same knowledge base from the previous size; write and vector "
            "figures are for the chunks added in that step, lexical is a full rebuild.",
            "Search: first 100 questions of evals/datasets/dev.jsonl, k=10, after 3 warm-up "
            "queries per mode; dense and hybrid use hashing query vectors.",
            "Cold open: a new process, page cache warm (files just written); open_kb and the "
            "first hybrid search, which loads the lexical index, the chunk metadata and Chroma.",
            "peak_rss_mib is the step process's own peak (VmHWM): each size runs in a fresh "
            "process, so it is the memory that size needs for writing, rebuilding and searching.",
        ],
    }

    def write_out() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    t0 = time.perf_counter()
    log(f"reading the seed from {args.corpus}")
    docs, failed = load_seed(args.corpus, args.files)
    if not docs:
        log(f"no chunks from {args.corpus} (patterns {args.files}): nothing to vary")
        return 2
    save_seed(docs, workdir / "seed.json")
    seed_lengths: dict[str, list[int]] = {}
    doc_types: Counter[str] = Counter()
    for d in docs:
        for c in d.chunks:
            seed_lengths.setdefault(c.language, []).append(len(c.text))
            doc_types[c.doc_type] += 1
    out["method"] = {
        "description": METHOD,
        "seed": args.seed,
        "corpus": str(args.corpus),
        "files": args.files or ["(every supported file)"],
        "seed_documents": len(docs),
        "seed_chunks": sum(len(d.chunks) for d in docs),
        "seed_failed": failed,
        "seed_by_language": length_stats(seed_lengths),
        "seed_by_doc_type": dict(doc_types.most_common()),
        "seed_seconds": round(time.perf_counter() - t0, 1),
    }
    log(f"seed: {out['method']['seed_chunks']:,} chunks from {len(docs)} documents")
    write_out()

    if args.e5:
        log(f"measuring e5-small-q4 on {E5_SAMPLE} real chunk texts, median of {E5_RUNS}")
        out["e5"] = project_e5(measure_e5(docs), sizes)
        write_out()

    limit_mib = args.max_rss_gib * 1024
    previous: dict[str, Any] | None = None
    if earlier:  # --keep: this run continues that one; its sizes come first in the report
        out["sizes"] = earlier["sizes"]
        e5 = out.get("e5") or earlier.get("e5")
        if e5:
            out["e5"] = project_e5(e5, [s["chunks"] for s in out["sizes"]] + sizes)
        out["continues"] = {k: earlier.get(k) for k in ("argv", "started_at", "finished_at")}
        previous = out["sizes"][-1] if out["sizes"] else None
        sizes = [n for n in sizes if not previous or n > previous["chunks"]]
        write_out()
    for target in sizes:
        have = previous["chunks"] if previous else 0
        free = shutil.disk_usage(workdir).free
        need = _projected_disk(previous, target - have)
        if need > free:
            out["stopped"] = {
                "size": target,
                "reason": f"projected disk {need / 2**30:.1f} GiB > free {free / 2**30:.1f} GiB",
            }
            break
        if previous and args.time_budget_min:
            spent = (time.perf_counter() - t0) / 60
            per_chunk = previous["step_seconds"] / max(
                1, previous["chunks"] - previous["start_chunks"]
            )
            projected = per_chunk * (target - have) * 1.2 / 60
            if spent + projected > args.time_budget_min:
                out["stopped"] = {
                    "size": target,
                    "reason": f"projected {projected:.0f} min for this size would pass the "
                    f"--time-budget-min of {args.time_budget_min} (spent {spent:.0f} min)",
                }
                break
        log(f"size {target:,}: growing from {have:,} chunks")
        result_path = workdir / f"step-{target}.json"
        run = watch_process(
            _child(args, "step", target, result_path), limit_mib, args.step_timeout_min * 60 or None
        )
        step = json.loads(result_path.read_text()) if result_path.exists() else {"target": target}
        step["process"] = run
        if run["rc"] != 0 or step.get("stage") != "done":
            reason = run["killed"] or step.get("stopped") or f"exit code {run['rc']}"
            out["stopped"] = {
                "size": target,
                "reason": reason,
                "stage_reached": step.get("stage"),
                "partial": step,
            }
            log(f"size {target:,} stopped: {reason}")
            write_out()
            break
        cold_path = workdir / f"cold-{target}.json"
        cold = watch_process(_child(args, "cold", target, cold_path), limit_mib, 600)
        step["cold_open"] = json.loads(cold_path.read_text()) if cold_path.exists() else {}
        step["cold_open"]["process_wall_seconds"] = cold["wall_seconds"]
        step["cold_open"]["watched_peak_rss_mib"] = cold["watched_peak_rss_mib"]
        out["sizes"].append(step)
        log(summary_row(step))
        write_out()
        previous = step
    out["completed_sizes"] = [s["chunks"] for s in out["sizes"]]
    revisions = {s.get("ingest_revision") for s in out["sizes"]}
    if len(revisions) > 1:
        out["notes"].append(
            f"The ingest code changed during the run ({', '.join(map(str, revisions))}): "
            "compare sizes measured on different revisions with care."
        )
    out["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out["total_seconds"] = round(time.perf_counter() - t0, 1)
    write_out()
    print(render_table(out))
    if not args.keep_data:
        shutil.rmtree(workdir / "kb", ignore_errors=True)
    return 0 if out["sizes"] and not out["stopped"] else 1


def render_table(out: dict[str, Any]) -> str:
    """The figures as a Markdown table, for the README: wall-clock rates with the rate per CPU
    second of the process in brackets (the latter holds up on a shared machine)."""
    head = (
        "| chunks | registry+tokenize chunks/s | vectors chunks/s | lexical rebuild s "
        "| hybrid p50/p95 ms | lexical p50/p95 ms | dense p50/p95 ms | peak / after-search RSS "
        "MiB | disk MiB (registry, cache, chroma, lexical) | cold open s | step s | load avg |"
    )
    lines = [head, "|" + "---|" * 12]
    mib = 2**20
    for s in out["sizes"]:
        w, v, lx, q, d = s["write"], s["vectors"], s["lexical"], s["search"], s["disk"]
        cells = [
            f"{s['chunks']:,}",
            f"{w['chunks_per_second']:,.0f} ({w['chunks_per_cpu_second']:,.0f}/CPU-s)",
            f"{v['chunks_per_second']:,.0f} ({v['chunks_per_cpu_second']:,.0f}/CPU-s)",
            f"{lx['seconds']:.1f} ({lx['cpu_seconds']:.1f} CPU)",
            *(f"{q[m]['p50_ms']:.0f} / {q[m]['p95_ms']:.0f}" for m in SEARCH_MODES),
            f"{s['memory'].get('peak_rss_mib', 0):,.0f} / "
            f"{s['memory']['after_search'].get('rss_mib', 0):,.0f}",
            f"{d['total_bytes'] / mib:,.0f} ({d['registry_bytes'] / mib:,.0f}, "
            f"{d['embed_cache_bytes'] / mib:,.0f}, {d['chroma_bytes'] / mib:,.0f}, "
            f"{d['lexical_bytes'] / mib:,.0f})",
            f"{s['cold_open'].get('open_and_first_search_seconds', '-')}",
            f"{s['step_seconds']:.0f}",
            f"{s.get('loadavg_end', ['-'])[0]}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if out.get("stopped"):
        lines.append(f"\nStopped at {out['stopped']['size']:,}: {out['stopped']['reason']}")
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(s)) for s in text.replace("_", "").split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sizes takes numbers like 10000,100000: {exc}") from exc
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError("--sizes needs positive chunk counts, e.g. 10000,100000")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evals.sizing",
        description=(
            "Grow one knowledge base of synthetic variants of the real corpus through the given "
            "sizes and report, per size: write throughput per stage, search p50/p95 per mode, "
            "memory, disk and cold-open time. Vectors use the hashing embedder (384 dims); e5's "
            "own rate is measured on a sample and its hours projected."
        ),
        epilog="e.g. python -m evals.sizing --sizes 10000,100000,500000 --out bench/sizing.json",
    )
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="chunk counts to grow through, comma-separated (default 10000,100000,500000)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: sizes 2000,10000 and a seed without most PDFs",
    )
    p.add_argument("--out", type=Path, default=Path("bench/sizing.json"), help="the JSON report")
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the knowledge base grows: GBs at 500k (default: $TMPDIR/anquan-sizing)",
    )
    p.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="corpus root to take real chunks from (default ../shared/corpus)",
    )
    p.add_argument(
        "--files",
        nargs="*",
        default=None,
        help="glob patterns under --corpus for the seed files (default: all)",
    )
    p.add_argument("--seed", type=int, default=7, help="random seed of the variants")
    p.add_argument(
        "--embed-batch",
        type=int,
        default=Settings.model_fields["embed_batch_size"].default,
        help="chunks per sync_vectors batch (the product's embed_batch_size)",
    )
    p.add_argument(
        "--chroma-url",
        default=None,
        help="measure against a Chroma server instead of the embedded store",
    )
    p.add_argument(
        "--max-rss-gib",
        type=float,
        default=12.0,
        help="stop a size whose process passes this memory (default 12)",
    )
    p.add_argument(
        "--step-timeout-min",
        type=float,
        default=0,
        help="stop a size that runs longer than this (0: no limit)",
    )
    p.add_argument(
        "--time-budget-min",
        type=float,
        default=0,
        help="skip a size whose projected time would pass this total (0: no limit)",
    )
    p.add_argument(
        "--no-e5",
        dest="e5",
        action="store_false",
        help="skip the e5 rate sample (and the projected e5 hours)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="cProfile each size (slower); top functions go into the JSON",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="grow an existing --workdir further (with --keep-data before); the sizes "
        "already in --out from that workdir stay in the report",
    )
    p.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the knowledge base after the run (default: removed, it is large)",
    )
    # the per-size worker and the cold-open probe, run by the driver in their own processes
    p.add_argument("--step-target", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--step-result", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cold-t0", type=float, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.workdir is None:
        args.workdir = Path(tempfile.gettempdir()) / "anquan-sizing"
    args.workdir = args.workdir.resolve()
    if args.cold:
        return run_cold(args)
    if args.step_target is not None:
        return run_step(args)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.quick and args.files is None:
        args.files = list(QUICK_FILES)
    return run_sizing(args)


if __name__ == "__main__":
    sys.exit(main())
