"""``anquan eval``: run a dataset through the knowledge base's search (ablations included) and,
unless ``--retrieval-only``, through the assistant (``--llm`` picks its backend)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from evals.gate import check_against_baseline
from evals.runner import run_eval
from ingest.errors import ConfigError
from ingest.kb import KnowledgeBase, open_kb
from ingest.settings import Settings

#: name → (mode, clause boost)
BASE_SYSTEMS = {
    "hybrid": ("hybrid", True),
    "hybrid-noboost": ("hybrid", False),
    "lexical": ("lexical", False),
    "dense": ("dense", False),
}


def search_system(
    kb: KnowledgeBase, mode: str, boost: bool, k: int = 10
) -> Callable[[str], list[dict]]:
    def run(question: str) -> list[dict]:
        return [h.to_dict() for h in kb.search(question, k=k, mode=mode, clause_boost=boost)]  # type: ignore[arg-type]

    return run


#: the ranking the answers rest on: search, then the assistant's reranking (assistant.retrieve)
ASSISTANT_SYSTEM = "assistant"


def assistant_system(kb: KnowledgeBase, k: int = 10) -> Callable[[str], list[dict]]:
    """The evidence ranking an answer is built from, as a retrieval system.

    Search results reranked by question-term coverage, units, named documents and jurisdiction
    hints, structured copies first, accident records only when the question asks for one
    (:func:`assistant.retrieve.retrieve`). It is what a user's answer cites from, so it is the
    headline; the plain search modes stay beside it as ablations.
    """
    from assistant.retrieve import retrieve

    def run(question: str) -> list[dict]:
        out: list[dict] = []
        seen: set[str] = set()
        for p in retrieve(kb, question).ranked:
            if p.chunk.chunk_id in seen:
                continue
            seen.add(p.chunk.chunk_id)
            c = p.chunk
            out.append(
                {
                    "source": c.source,
                    "locator": c.locator,
                    "page": c.page,
                    "text": c.text,
                    "score": round(p.score, 6),
                }
            )
            if len(out) == k:
                break
        return out

    return run


ANSWER_HEADLINES = (
    "citation_precision",
    "refusal_accuracy",
    "false_refusal_rate",
    "fact_recall",
    "language_match",
    "latency_p95_ms",
)


def answer_system(kb: KnowledgeBase, settings: Settings, llm: str | None) -> Callable[[str], dict]:
    """The assistant as an eval ``ask_fn``: question → Answer dict (``--llm`` picks the backend)."""
    from assistant.answer import Assistant
    from assistant.llm import check_backend

    backend = check_backend(llm, settings)
    assistant = Assistant(kb, settings)

    def ask(question: str) -> dict:
        return assistant.ask(question, llm=backend).to_dict()

    return ask


def ablation_kb(settings: Settings, embedder: str) -> KnowledgeBase:
    """A knowledge base of the same corpus embedded with another embedder, beside the main one."""
    from ingest.pipeline import run_ingest

    sub = settings.model_copy(
        update={
            "data_dir": settings.data_dir
            / "ablation"
            / embedder.replace(":", "_").replace("/", "_"),
            "embedder": embedder,
        }
    )
    kb = open_kb(sub)
    print(f"ablation: filling the {embedder} knowledge base in {sub.data_dir} …", file=sys.stderr)
    run_ingest(kb)
    return kb


def build_systems(kb: KnowledgeBase, names: list[str], settings: Settings) -> dict[str, Callable]:
    systems: dict[str, Callable] = {}
    extra: dict[str, KnowledgeBase] = {}
    for name in names:
        if name == ASSISTANT_SYSTEM:
            systems[name] = assistant_system(kb)
        elif name in BASE_SYSTEMS:
            mode, boost = BASE_SYSTEMS[name]
            systems[name] = search_system(kb, mode, boost)
        elif ":" in name and name.split(":", 1)[0] in ("dense", "hybrid"):
            mode, embedder = name.split(":", 1)
            if embedder == kb.embedder_name:
                systems[name] = search_system(kb, mode, mode == "hybrid")
                continue
            if embedder not in extra:
                extra[embedder] = ablation_kb(settings, embedder)
            systems[name] = search_system(extra[embedder], mode, mode == "hybrid")
        else:
            raise ConfigError(
                f"unknown system {name!r}. Available: {ASSISTANT_SYSTEM}, {', '.join(BASE_SYSTEMS)}, "
                "dense:<embedder>, hybrid:<embedder>"
            )
    return systems


def run_eval_command(args: argparse.Namespace, settings: Settings) -> int:
    kb = open_kb(settings)
    if kb.registry.chunk_count() == 0:
        raise ConfigError("the knowledge base is empty: run 'anquan ingest' first")
    if kb.registry.pending_count():
        print(
            f"warning: {kb.registry.pending_count()} chunks have no vector yet; dense figures "
            "are partial (run 'anquan ingest' to finish)",
            file=sys.stderr,
        )
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    systems = build_systems(kb, names, settings)
    ask_fn = (
        None
        if getattr(args, "retrieval_only", False)
        else answer_system(kb, settings, getattr(args, "llm", None))
    )
    metrics = run_eval(
        args.dataset, args.out, systems, ask_fn=ask_fn, primary=names[0] if names else None
    )
    primary = metrics["systems"].get(metrics["primary"]) or {}
    overall = primary.get("overall", {})
    print(
        f"{metrics['primary']}: "
        + ", ".join(
            f"{k} {overall[k]:.3f}"
            for k in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10")
            if isinstance(overall.get(k), int | float)
        )
    )
    answers = (metrics.get("answers") or {}).get("overall") or {}
    if answers:
        print(
            "answers: "
            + ", ".join(
                f"{k} {answers[k]:.3f}"
                for k in ANSWER_HEADLINES
                if isinstance(answers.get(k), int | float)
            )
        )
    print(f"wrote {Path(args.out) / 'metrics.json'}, report.md, chart.png")
    if args.baseline:
        baseline = json.loads(Path(args.baseline).read_text(encoding="utf-8"))
        if "systems" not in baseline:  # evals/baseline.json keeps one block per dataset
            stem = Path(args.dataset).stem
            if stem not in baseline:
                raise ConfigError(
                    f"{args.baseline} has no block for {stem!r}; it has {sorted(baseline)}"
                )
            baseline = baseline[stem]
        failures = check_against_baseline(metrics, baseline, tolerance=args.tolerance)
        for f in failures:
            print(f"REGRESSION {f}", file=sys.stderr)
        return 1 if failures else 0
    return 0
