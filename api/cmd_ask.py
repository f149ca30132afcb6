"""``anquan ask``: one question, answered from the knowledge base with clause citations.

Without ``--json`` the answer is printed as it comes: the clauses found first, then the
answer text, then the sources. ``--json`` prints the final Answer object only.
"""

from __future__ import annotations

import argparse
import sys

from api.cli import dump
from ingest.settings import Settings

COMMANDS = ("ask",)


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "ask",
        help="ask a question; the answer cites the clauses it rests on",
        description="Answer a safety question from the knowledge base, in the question's "
        "language, citing clauses, with related accident records. Refuses when the knowledge "
        "base does not cover the question.",
    )
    s.add_argument("question")
    s.add_argument(
        "--llm",
        choices=["extractive", "local", "openai"],
        help="who writes the answer (default ANQUAN_LLM, else extractive: quoted clauses, "
        "no model); a missing or failing model falls back to extractive",
    )
    s.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="filter: jurisdiction, doc_type, language, industries, source, normative (repeatable)",
    )
    s.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="QUESTION",
        help="an earlier question of the conversation, oldest first (repeatable), so a "
        "follow-up such as 'and for scaffolds?' can be answered",
    )
    s.add_argument("--json", action="store_true", help="print the final Answer object as JSON")
    s.add_argument(
        "--stream",
        action="store_true",
        help="with --json: print every event (evidence, tokens, answer) as one JSON line",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from assistant.answer import Assistant
    from ingest.kb import open_kb, parse_where

    kb = open_kb(settings)
    assistant = Assistant(kb, settings)
    filters = parse_where(args.where)
    events = assistant.ask_stream(
        args.question, history=args.history or None, filters=filters, llm=args.llm
    )
    final: dict = {}
    if args.json:
        for event in events:
            if args.stream:
                print(json.dumps(event, ensure_ascii=False), flush=True)
            if event["type"] == "answer":
                final = event["answer"]
        if not args.stream:
            dump(final)
        return 0
    out = sys.stdout
    for event in events:
        kind = event["type"]
        if kind == "evidence":
            if event["passages"]:
                out.write("Clauses found:\n" if event["language"] == "en" else "检索到的条文：\n")
                for p in event["passages"]:
                    page = f" p.{p['page']}" if p.get("page") else ""
                    out.write(f"  [{p['n']}] {p['title']} · {p['locator']}{page}\n")
                out.write("\n")
        elif kind == "token":
            out.write(event["text"])
        elif kind == "reset":
            out.write(f"\n\n(model answer withdrawn: {event['reason']}; quoting the clauses)\n\n")
        elif kind == "answer":
            final = event["answer"]
        out.flush()
    out.write("\n")
    _print_sources(final)
    return 0


def _print_sources(answer: dict) -> None:
    zh = answer.get("language") == "zh"
    if answer.get("citations"):
        print("\n来源：" if zh else "\nSources:")
        for c in answer["citations"]:
            page = f" p.{c['page']}" if c.get("page") else ""
            print(f"  [{c['n']}] {c['title']} · {c['locator']}{page}  ({c['source']})")
    if answer.get("fallback"):
        print(f"\n(answered extractively: {answer['fallback']})", file=sys.stderr)
    t = answer.get("timings") or {}
    if t:
        print("\n" + ", ".join(f"{k} {v:.0f}" for k, v in t.items()), file=sys.stderr)
