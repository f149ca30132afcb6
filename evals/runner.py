"""Running a dataset through retrieval systems (and optionally the assistant) and scoring it.

The systems are plain callables, ``question -> results`` for search and ``question -> Answer``
for the assistant, so an ablation ("lexical", "dense", "hybrid", "dense:minilm", ...) is just
another entry in a dict, and the tests can pass small deterministic fakes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.metrics import DEFAULT_KS, aggregate, answer_metrics, match_matrix, retrieval_metrics
from ingest.errors import ConfigError

SearchFn = Callable[[str], list[dict]]
AskFn = Callable[[str], dict]

REQUIRED_FIELDS = ("id", "question", "lang", "answerable", "gold", "category")
CATEGORIES = ("lookup", "numeric", "two_clause", "cross_lingual", "accident", "unanswerable")
SNIPPET_CHARS = 160


class DatasetError(ConfigError):
    """An eval dataset file is missing or malformed; the message names the file and line."""


def load_dataset(path: str | Path) -> list[dict]:
    """Read a JSONL eval dataset (ARCHITECTURE.md "Eval datasets"), checking every line.

    Blank lines are skipped. ``facts`` and ``evidence`` default to empty lists. Raises
    :class:`DatasetError` naming the line for bad JSON, missing fields, an answerable item
    without gold entries, gold entries without ``source``/``locator``, or a repeated id.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"eval dataset {path} not found; pass --dataset with a JSONL file")
    items: list[dict] = []
    seen: set[str] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not valid JSON ({exc.msg}); one object per line") from exc
        if not isinstance(item, dict):
            raise DatasetError(f"{where}: expected a JSON object, got {type(item).__name__}")
        missing = [f for f in REQUIRED_FIELDS if f not in item]
        if missing:
            raise DatasetError(
                f"{where}: missing {', '.join(missing)}; every line needs {', '.join(REQUIRED_FIELDS)}"
            )
        item_id = str(item["id"])
        if item_id in seen:
            raise DatasetError(f"{where}: id {item_id!r} appears twice; ids must be unique")
        seen.add(item_id)
        gold = item["gold"]
        if not isinstance(gold, list) or any(
            not isinstance(g, dict) or not g.get("source") or not g.get("locator") for g in gold
        ):
            raise DatasetError(f"{where}: gold must be a list of {{source, locator}} objects")
        if item["answerable"] and not gold:
            raise DatasetError(f"{where}: answerable item {item_id!r} has no gold entries")
        item.setdefault("facts", [])
        item.setdefault("evidence", [])
        items.append(item)
    if not items:
        raise DatasetError(f"eval dataset {path} holds no questions")
    return items


def _base_row(item: dict) -> dict[str, Any]:
    return {
        "id": item["id"],
        "question": item["question"],
        "lang": item.get("lang"),
        "category": item.get("category"),
        "cross_lingual": bool(item.get("cross_lingual")) or item.get("category") == "cross_lingual",
        "answerable": bool(item.get("answerable", True)),
        "gold": item.get("gold") or [],
    }


def _snippet(text: Any) -> str:
    return " ".join(str(text or "").split())[:SNIPPET_CHARS]


def run_retrieval(
    items: Sequence[dict], search_fn: SearchFn, k: int = 10, ks: Sequence[int] = DEFAULT_KS
) -> list[dict]:
    """One row per item: its retrieval metrics on the top ``k``, what came back, and the latency.

    ``retrieved`` lists rank, source, locator, page, a snippet of the first 160 characters and
    ``match`` (which gold entries, by index, that chunk satisfies) so a report can show why a
    question failed. Errors from ``search_fn`` propagate: a broken system is not a score of 0.
    """
    rows = []
    for item in items:
        start = time.perf_counter()
        results = list(search_fn(item["question"]) or [])[:k]
        latency_ms = (time.perf_counter() - start) * 1000.0
        gold = item.get("gold") or []
        evidence = item.get("evidence") or []
        if not item.get("answerable", True):
            gold = []
        metrics = retrieval_metrics(results, gold, evidence, ks=[x for x in ks if x <= k] or [k])
        matrix = match_matrix(results, gold, evidence)
        retrieved = []
        for rank, (result, row) in enumerate(zip(results, matrix, strict=True), start=1):
            retrieved.append(
                {
                    "rank": rank,
                    "source": result.get("source"),
                    "locator": result.get("locator"),
                    "page": result.get("page"),
                    "also_in": list(result.get("also_in") or []),
                    "score": result.get("score"),
                    "snippet": _snippet(result.get("text")),
                    "match": [g for g, hit in enumerate(row) if hit],
                }
            )
        rows.append(
            {
                **_base_row(item),
                "metrics": metrics,
                "latency_ms": latency_ms,
                "retrieved": retrieved,
            }
        )
    return rows


def run_answers(items: Sequence[dict], ask_fn: AskFn) -> list[dict]:
    """One row per item: answer metrics, the answer text, refusal, citations and the latency."""
    rows = []
    for item in items:
        start = time.perf_counter()
        answer = ask_fn(item["question"]) or {}
        latency_ms = (time.perf_counter() - start) * 1000.0
        rows.append(
            {
                **_base_row(item),
                "metrics": answer_metrics(answer, item),
                "latency_ms": latency_ms,
                "answer": str(answer.get("answer") or ""),
                "refused": bool(answer.get("refused")),
                "reason": answer.get("reason"),
                "citations": [
                    {key: c.get(key) for key in ("n", "source", "locator", "page")}
                    | {"quote": _snippet(c.get("quote"))}
                    for c in answer.get("citations") or []
                ],
            }
        )
    return rows


def _pick_primary(systems: Mapping[str, SearchFn], primary: str | None) -> str | None:
    if primary is not None:
        if primary not in systems:
            raise ConfigError(
                f"primary system {primary!r} is not among the systems run; "
                f"available: {', '.join(systems) or 'none'}"
            )
        return primary
    if "hybrid" in systems:
        return "hybrid"
    return next(iter(systems), None)


def run_eval(
    dataset_path: str | Path,
    out_dir: str | Path,
    systems: Mapping[str, SearchFn],
    ask_fn: AskFn | None = None,
    primary: str | None = None,
    k: int = 10,
) -> dict[str, Any]:
    """Run every retrieval system (and the assistant, when given) and write the results.

    Writes ``out_dir/metrics.json`` (``{"dataset", "primary", "systems": {name: aggregate},
    "answers": aggregate or null, "generated_at"}``), ``out_dir/report.md`` and
    ``out_dir/chart.png``; returns the metrics dict. ``primary`` defaults to ``"hybrid"`` when
    present, else the first system.
    """
    from evals.report import write_report  # matplotlib is only needed once there is a report

    if not systems and ask_fn is None:
        raise ConfigError("nothing to evaluate: pass at least one search system or an ask function")
    items = load_dataset(dataset_path)
    chosen = _pick_primary(systems, primary)
    rows_by_system = {name: run_retrieval(items, fn, k=k) for name, fn in systems.items()}
    answer_rows = run_answers(items, ask_fn) if ask_fn is not None else None
    metrics: dict[str, Any] = {
        "dataset": str(dataset_path),
        "n_items": len(items),
        "primary": chosen,
        "systems": {name: aggregate(rows) for name, rows in rows_by_system.items()},
        "answers": aggregate(answer_rows) if answer_rows is not None else None,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    write_report(metrics, rows_by_system, out, answer_rows=answer_rows)
    return metrics
