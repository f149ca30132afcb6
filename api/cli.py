"""The ``anquan`` command line. Exit codes: 0 ok, 1 some files failed, 2 usage error."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from ingest.errors import AnquanError, ConfigError
from ingest.settings import Settings


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's default exit code is 2 already
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="anquan",
        description="Anquan (安全): a knowledge base and assistant for production safety. "
        "Every answer cites the clause it rests on.",
    )
    p.add_argument(
        "--data-dir", type=Path, help="knowledge base folder (ANQUAN_DATA_DIR, default data/)"
    )
    p.add_argument(
        "--embedder", help="e5-small-q4 (default) | minilm | use-m3 | hashing | st:<model>"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser(
        "ingest",
        help="add or update documents in the knowledge base",
        description="Ingest files or folders (default: the corpus roots). Unchanged "
        "files are skipped; changed files replace their chunks; --prune drops vanished "
        "files. Exit 0 when every file was read, 1 when some failed.",
    )
    s.add_argument("paths", nargs="*", type=Path, help="files or folders (default: corpus roots)")
    s.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    s.add_argument(
        "--no-embed",
        action="store_true",
        help="register and index lexically only; vectors are filled in later "
        "(by 'anquan ingest' or in the background by 'anquan serve')",
    )
    s.add_argument("--json", action="store_true", help="print the report as one JSON object")

    s = sub.add_parser(
        "search",
        help="hybrid (dense + lexical) search with clause references",
        description="Search the knowledge base. Exact clause references such as "
        "1926.502(d) or 安全生产法第四十一条 are put first.",
    )
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    s.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="filter: jurisdiction, doc_type, language, industries, source, normative (repeatable)",
    )
    s.add_argument("--mode", choices=["hybrid", "lexical", "dense"], default="hybrid")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("stats", help="documents and chunks by type, language and jurisdiction")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("serve", help="start the HTTP service and web page")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument(
        "--no-background-embed",
        action="store_true",
        help="do not fill missing vectors in the background",
    )
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1); more than one needs a Chroma server "
        "(ANQUAN_CHROMA_URL), which they share with the data dir's SQLite files",
    )
    s.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="uvicorn's log level; 'warning' drops the line per request (load tests)",
    )

    s = sub.add_parser(
        "eval", help="run an eval dataset; writes metrics.json, report.md, chart.png"
    )
    s.add_argument("--dataset", type=Path, required=True)
    s.add_argument("--out", type=Path, default=Path("evals/out"))
    s.add_argument("--retrieval-only", action="store_true")
    s.add_argument(
        "--llm",
        choices=["extractive", "local", "openai"],
        help="backend for the answer metrics (default ANQUAN_LLM, else extractive)",
    )
    s.add_argument(
        "--systems",
        default="assistant,hybrid,lexical,dense,hybrid-noboost",
        help="comma-separated retrieval systems to compare; the first is the headline "
        "(assistant: the reranked evidence answers cite; hybrid/lexical/dense: plain search)",
    )
    s.add_argument(
        "--baseline",
        type=Path,
        help="fail (exit 1) when a headline metric drops more than --tolerance below this baseline",
    )
    s.add_argument("--tolerance", type=float, default=0.05)

    for module in _command_modules():
        module.register(sub)

    s = sub.add_parser(
        "bench",
        help="benchmarks; writes figures to a JSON file",
        description="Build a fresh knowledge base and measure ingest and search, then answers "
        "(extractive, and the local model when its GGUF file is there), then load the "
        "HTTP service over loopback (one worker, then two on a Chroma server, then searches "
        "during an upload). Every run is a fixed number of requests: it stops by itself.",
    )
    s.add_argument("--out", type=Path, default=Path("bench/results.json"))
    s.add_argument("--quick", action="store_true", help="a small subset, for a smoke run")
    s.add_argument(
        "--http-only",
        action="store_true",
        help="only the HTTP load stage, on an existing knowledge base (--data-dir, copied to "
        "a temporary folder first so the benchmark never writes to it)",
    )
    s.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,  # so that 'anquan --data-dir DIR bench' works as well
        help="the knowledge base --http-only or --answers-only loads (default ANQUAN_DATA_DIR)",
    )
    s.add_argument(
        "--answers-only",
        action="store_true",
        help="only the answer stage (extractive answers to the dev set, then the local model), "
        "on an existing knowledge base (--data-dir); nothing is written to it",
    )
    s.add_argument(
        "--local-questions",
        type=int,
        default=12,
        metavar="N",
        help="questions the local model answers in the answer stage (0: none; skipped anyway "
        "when no GGUF file is there); default 12",
    )
    s.add_argument(
        "--no-http", action="store_true", help="skip the HTTP load stage (ingest and search only)"
    )
    return p


#: subcommands that live in their own module: each has ``register(sub)`` and ``run(args, settings)``
COMMAND_MODULES = ("api.cmd_ask", "api.cmd_checklist", "api.cmd_inspect", "api.cmd_keys")


def _command_modules() -> list:
    import importlib

    found = []
    for name in COMMAND_MODULES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found


def make_settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    if getattr(args, "embedder", None):
        overrides["embedder"] = args.embedder
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        settings = make_settings(args)
        for module in _command_modules():
            if args.command in getattr(module, "COMMANDS", ()):
                return module.run(args, settings)
        from api import commands

        return getattr(commands, f"cmd_{args.command}")(args, settings)
    except ConfigError as exc:
        print(f"anquan: {exc}", file=sys.stderr)
        return 2
    except AnquanError as exc:
        print(f"anquan: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("anquan: interrupted; run the same command again to finish the job", file=sys.stderr)
        return 130


def dump(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
