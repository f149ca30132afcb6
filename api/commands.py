"""What each ``anquan`` subcommand does; parsing lives in :mod:`api.cli`."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

from api.cli import dump
from ingest.errors import ConfigError
from ingest.kb import open_kb, parse_where
from ingest.settings import Settings


class _Bars:
    """One tqdm bar per stage, on stderr; silent when stderr is not a terminal and --json."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict = {}

    def __call__(self, stage: str, done: int, total: int, item: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            desc = {"read": "reading files", "embed": "embedding"}.get(stage, stage)
            bar = self.bars[stage] = tqdm(
                total=total,
                desc=desc,
                unit="file" if stage == "read" else "chunk",
                file=sys.stderr,
                dynamic_ncols=True,
            )
        bar.total = total
        bar.n = done
        if item:
            bar.set_postfix_str(item[-40:], refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import run_ingest, storage_errors

    with storage_errors(settings):  # a full disk already at opening: the same clear message
        kb = open_kb(settings)
    bars = _Bars(enabled=not args.json or sys.stderr.isatty())
    try:
        report = run_ingest(
            kb, args.paths or None, prune=args.prune, embed=not args.no_embed, progress=bars
        )
    finally:
        bars.close()
    if args.json:
        dump(report.to_dict())
        return report.exit_code
    c = report.to_dict()["counts"]
    print(
        f"files: {c['added']} added, {c['updated']} updated, {c['unchanged']} unchanged, "
        f"{c['removed']} removed, {c['failed']} failed"
    )
    print(
        f"chunks: {report.chunks_written} written, {report.total_chunks} in the knowledge base; "
        f"vectors: {report.vectors_written} written, {report.vectors_pending} pending"
    )
    print("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items()))
    if report.vectors_pending:
        print(
            "search works now (lexical); run 'anquan ingest' again or 'anquan serve' to fill "
            "in the remaining vectors"
        )
    for f in report.failed:
        print(f"FAILED {f.source}: {f.reason}", file=sys.stderr)
    return report.exit_code


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    kb = open_kb(settings)
    hits = kb.search(args.query, k=args.k, where=parse_where(args.where), mode=args.mode)
    if args.json:
        dump({"query": args.query, "results": [h.to_dict() for h in hits]})
        return 0
    if not hits:
        print("no results; try other words, or fewer filters")
    for i, h in enumerate(hits, start=1):
        c = h.chunk
        page = f" p.{c.page}" if c.page else ""
        print(f"{i:2}. {c.title} · {c.locator}{page}   [{c.source}]  score {h.score:.4f}")
        print(textwrap.indent(textwrap.shorten(c.text, 240, placeholder=" …"), "    "))
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    kb = open_kb(settings)
    stats = kb.stats()
    if args.json:
        dump(stats)
        return 0
    print(
        f"{stats['documents']} documents, {stats['chunks']} chunks, "
        f"{stats['pending_vectors']} waiting for vectors ({stats['embedder']}), "
        f"{stats['failures']} failed files"
    )
    for col, groups in stats["by"].items():
        print(f"\nby {col}:")
        for key, v in groups.items():
            print(f"  {key:<28} {v['documents']:>5} documents {v['chunks']:>7} chunks")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import BACKGROUND_EMBED_ENV, app_from_env, create_app, settings_env
    from api.auth import KeyStore, check_bind

    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give 1 or more")
    if args.workers > 1 and not settings.chroma_url:
        raise ConfigError(WORKERS_NEED_CHROMA.format(n=args.workers, data=settings.data_dir))
    keys = KeyStore(settings.data_dir / "api.sqlite")
    try:
        check_bind(args.host, keys)  # no keys: 127.0.0.1 only
    finally:
        keys.close()
    background = not args.no_background_embed
    if args.workers == 1:
        app = create_app(settings=settings, background_embed=background)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return 0
    # each worker builds its own app from the environment: pass on what the command line set
    os.environ.update(settings_env(settings))
    os.environ[BACKGROUND_EMBED_ENV] = "1" if background else "0"
    uvicorn.run(
        f"{app_from_env.__module__}:{app_from_env.__name__}",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
    )
    return 0


#: why several workers need a Chroma server, and how to start one
WORKERS_NEED_CHROMA = (
    "--workers {n} needs a Chroma server: the embedded vector store ({data}/chroma) is safe "
    "for one process only (the others would not see new vectors, and two writers can damage "
    "it). Start a server on the same store, e.g. "
    "'chroma run --path {data}/chroma --host 127.0.0.1 --port 8001', "
    "then set ANQUAN_CHROMA_URL=http://127.0.0.1:8001 and run this again; or serve with "
    "--workers 1"
)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from evals.cli import run_eval_command

    return run_eval_command(args, settings)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from evals.bench import run_bench

    return run_bench(args, settings)
