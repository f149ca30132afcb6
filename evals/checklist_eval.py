"""Checklist quality on the committed pairs (``evals/checklists.json``).

For each (industry, topic) pair the drafter runs on the knowledge base, and we measure:

- **normative**: share of items whose every cited quote carries a normative word
  (``ingest.chunking.normative_of`` is not "none": shall/must/应当/必须/严禁/不得 or should/宜);
- **mandatory**: share of items marked mandatory;
- **duplicate pairs**: pairs of items that ask the same thing (identical cited quote, or question
  word/character-bigram overlap ≥ 0.8, measured here independently of the drafter's own merge);
- **coverage**: share of the expected clauses (listed by reading the rules, before running) that
  some item cites: same source, a locator inside the gold locator at a label boundary, and, where
  the gold lists evidence phrases, a quote that contains one;
- **lessons**: share of items with at least one related accident record.

Run: ``ANQUAN_DATA_DIR=/tmp/d1-checklist python -m evals.checklist_eval --out evals/out/checklists.json``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from assistant.checklist import Checklist, draft_checklist
from ingest.chunking import normative_of
from ingest.clauses import locator_matches
from ingest.kb import open_kb
from ingest.settings import Settings

DATASET = Path(__file__).resolve().parent / "checklists.json"
DUPLICATE_AT = 0.8


def _units(text: str, language: str) -> set[str]:
    if language == "zh":
        t = re.sub(r"[\s\W_]+", "", text)
        return {t[i : i + 2] for i in range(max(len(t) - 1, 1))}
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _overlap(a: str, b: str, language: str) -> float:
    sa, sb = _units(a, language), _units(b, language)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def duplicate_pairs(checklist: Checklist) -> list[tuple[str, str]]:
    items = checklist.items
    out = []
    for i, a in enumerate(items):
        qa = {(b.source, b.locator, b.quote) for b in a.basis}
        for b in items[i + 1 :]:
            same_quote = bool(qa & {(x.source, x.locator, x.quote) for x in b.basis})
            if same_quote or _overlap(a.question, b.question, checklist.language) >= DUPLICATE_AT:
                out.append((a.id, b.id))
    return out


def covered(expected: dict, checklist: Checklist) -> str | None:
    """The id of the first item that covers an expected requirement, or None."""
    for item in checklist.items:
        for basis in item.basis:
            for gold in expected["gold"]:
                if basis.source != gold["source"]:
                    continue
                if not locator_matches(basis.locator, gold["locator"]):
                    continue
                evidence = gold.get("evidence") or []
                if evidence and not any(e.lower() in basis.quote.lower() for e in evidence):
                    continue
                return item.id
    return None


def score_pair(pair: dict, checklist: Checklist, seconds: float) -> dict[str, Any]:
    n = len(checklist.items)
    lang = checklist.language
    normative_ok = [
        it.id
        for it in checklist.items
        if it.basis and all(normative_of(b.quote, lang) != "none" for b in it.basis)
    ]
    hits = {e["requirement"]: covered(e, checklist) for e in pair["expected"]}
    dups = duplicate_pairs(checklist)
    return {
        "id": pair["id"],
        "lang": lang,
        "items": n,
        "normative": len(normative_ok) / n if n else 0.0,
        "not_normative": [it.id for it in checklist.items if it.id not in set(normative_ok)],
        "mandatory": sum(it.mandatory for it in checklist.items) / n if n else 0.0,
        "duplicate_pairs": len(dups),
        "duplicates": dups,
        "expected": len(hits),
        "covered": sum(1 for v in hits.values() if v),
        "coverage": sum(1 for v in hits.values() if v) / len(hits) if hits else 0.0,
        "missing": [k for k, v in hits.items() if not v],
        "lessons": sum(1 for it in checklist.items if it.lessons) / n if n else 0.0,
        "seconds": round(seconds, 2),
    }


def run(
    settings: Settings,
    dataset: Path = DATASET,
    mode: str = "hybrid",
    max_items: int = 40,
    only: str | None = None,
    dump_dir: Path | None = None,
) -> dict[str, Any]:
    pairs = json.loads(dataset.read_text(encoding="utf-8"))["pairs"]
    kb = open_kb(settings)
    rows = []
    try:
        for pair in pairs:
            if only and only not in pair["id"]:
                continue
            t0 = time.perf_counter()
            checklist = draft_checklist(
                kb,
                pair["industry"],
                pair["topic"],
                pair["jurisdiction"],
                pair["lang"],
                mode=mode,
                max_items=max_items,
            )
            rows.append(score_pair(pair, checklist, time.perf_counter() - t0))
            if dump_dir:
                dump_dir.mkdir(parents=True, exist_ok=True)
                (dump_dir / f"{pair['id']}.json").write_text(
                    json.dumps(checklist.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
                )
    finally:
        kb.close()
    expected = sum(r["expected"] for r in rows)
    items = sum(r["items"] for r in rows)
    summary = {
        "pairs": len(rows),
        "items": items,
        "normative": sum(r["normative"] * r["items"] for r in rows) / items if items else 0.0,
        "duplicate_pairs": sum(r["duplicate_pairs"] for r in rows),
        "coverage": sum(r["covered"] for r in rows) / expected if expected else 0.0,
        "covered": sum(r["covered"] for r in rows),
        "expected": expected,
        "lessons": sum(r["lessons"] * r["items"] for r in rows) / items if items else 0.0,
        "mode": mode,
        "max_items": max_items,
        "embedder": settings.embedder,
    }
    return {"summary": summary, "pairs": rows}


def report(result: dict[str, Any]) -> str:
    lines = [
        "| pair | items | normative | mandatory | dup pairs | coverage | lessons | s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["pairs"]:
        lines.append(
            f"| {r['id']} | {r['items']} | {r['normative']:.0%} | {r['mandatory']:.0%} | "
            f"{r['duplicate_pairs']} | {r['covered']}/{r['expected']} ({r['coverage']:.0%}) | "
            f"{r['lessons']:.0%} | {r['seconds']} |"
        )
    s = result["summary"]
    lines.append(
        f"| **all** | {s['items']} | {s['normative']:.0%} | | {s['duplicate_pairs']} | "
        f"{s['covered']}/{s['expected']} ({s['coverage']:.0%}) | {s['lessons']:.0%} | |"
    )
    missing = [f"- {r['id']}: " + "; ".join(r["missing"]) for r in result["pairs"] if r["missing"]]
    if missing:
        lines += ["", "Not covered:", *missing]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, default=DATASET)
    p.add_argument("--data-dir", type=Path, help="knowledge base folder (default ANQUAN_DATA_DIR)")
    p.add_argument("--mode", choices=["hybrid", "lexical", "dense"], default="hybrid")
    p.add_argument("--max-items", type=int, default=40)
    p.add_argument("--only", help="run the pairs whose id contains this")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    p.add_argument("--dump", type=Path, help="write each drafted checklist (JSON) into this folder")
    args = p.parse_args(argv)
    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    result = run(settings, args.dataset, args.mode, args.max_items, args.only, args.dump)
    print(report(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
