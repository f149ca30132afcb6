"""``anquan checklist``: draft an inspection checklist from the rules, each item cited.

anquan checklist --industry construction --topic scaffolds --jurisdiction US --lang en
anquan checklist --industry chemical --topic 危险化学品储存 --jurisdiction CN --format html --out 清单.html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ingest.settings import Settings

COMMANDS = ("checklist",)


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "checklist",
        help="draft an inspection checklist with clause citations",
        description="Draft an inspection checklist for an industry and topic: the topic is "
        "expanded into the hazards, equipment and activities it implies; the clauses that carry "
        "a duty (shall/must/应当/必须/严禁/不得) become yes/no items ('yes' = compliant), each "
        "with its basis (source, locator, quote), grouped by sub-topic in the order an inspector "
        "walks the site, with lessons from related accident records. Chinese checklists use the "
        "排查清单 layout.",
    )
    s.add_argument(
        "--industry",
        required=True,
        help="construction, mining, chemical, special_equipment, fire, general, …",
    )
    s.add_argument("--topic", required=True, help='e.g. "scaffolds", "危险化学品储存"')
    s.add_argument(
        "--jurisdiction",
        help="CN (national rules), CN-BJ (adds Beijing's), US; "
        "default CN for a Chinese topic, else US",
    )
    s.add_argument("--lang", choices=["zh", "en"], help="default: the topic's language")
    s.add_argument(
        "--format",
        choices=["md", "json", "csv", "html"],
        default="md",
        help="md (default), json, csv, or html (printable A4 with signature lines)",
    )
    s.add_argument("--out", type=Path, help="write to this file instead of standard output")
    s.add_argument("--max-items", type=int, default=40, help="most items (default 40)")
    s.add_argument(
        "--mandatory-only", action="store_true", help="leave out recommended (should/宜) items"
    )
    s.add_argument("--no-lessons", action="store_true", help="do not look up accident records")
    s.add_argument(
        "--mode",
        choices=["hybrid", "lexical", "dense"],
        default="hybrid",
        help="retrieval (default hybrid)",
    )
    s.add_argument(
        "--llm",
        choices=["extractive", "local", "openai"],
        help="who words the questions: extractive (default: by rule, no model), or a "
        "model that may reword them; citations are always the application's",
    )
    for name, label in (
        ("site", "site"),
        ("area", "area"),
        ("date", "date"),
        ("inspector", "inspector"),
    ):
        s.add_argument(f"--{name}", default="", help=f"pre-fill the {label} header field (md/html)")


def chat_function(settings: Settings, backend: str | None) -> Any:
    """The configured chat model as a prompt → text function, or None for extractive."""
    from assistant.llm import LLMUnavailable, get_chat_model

    try:
        model = get_chat_model(settings, backend)
    except LLMUnavailable as exc:
        print(f"anquan: {exc}; the questions are made by rule", file=sys.stderr)
        return None
    if model is None:
        return None

    def chat(prompt: str) -> str:
        reply = model.invoke(prompt)
        return str(getattr(reply, "content", reply))

    return chat


def run(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.checklist import draft_checklist
    from assistant.checklist_render import render
    from ingest.kb import open_kb

    kb = open_kb(settings)
    try:
        checklist = draft_checklist(
            kb,
            args.industry,
            args.topic,
            args.jurisdiction,
            args.lang,
            max_items=args.max_items,
            mode=args.mode,
            mandatory_only=args.mandatory_only,
            lessons=not args.no_lessons,
            rephrase=chat_function(settings, args.llm),
        )
    finally:
        kb.close()
    header = {"site": args.site, "area": args.area, "date": args.date, "inspector": args.inspector}
    text = render(checklist, args.format, header=header)
    if not checklist.items:
        print(
            "anquan: no clauses found for this industry and topic; try other words, another "
            "--jurisdiction, or check that the knowledge base is ingested ('anquan stats')",
            file=sys.stderr,
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8-sig" if args.format == "csv" else "utf-8")
        print(f"{len(checklist.items)} items written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0 if checklist.items else 1
