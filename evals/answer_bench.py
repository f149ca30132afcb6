"""The answer stage of ``anquan bench``: how long a supervisor waits for an answer.

Extractive answers (no model) for every question of the dev set, then the local model
(llama.cpp on the GGUF in the settings) on a few answerable ones, alternating Chinese and
English: time to the first token, total time, and the prompt it was given. Each question is
asked once and none repeats, so no cache answers for the model. The local part is skipped,
with the reason in the figures, when no GGUF file or no ``llama-cpp-python`` is there.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from assistant.answer import Assistant
from assistant.prompts import build_messages, prompt_text
from assistant.retrieve import estimate_tokens, retrieve
from evals.runner import load_dataset
from ingest.kb import KnowledgeBase
from ingest.settings import Settings

DEV_SET = Path(__file__).parent / "datasets" / "dev.jsonl"


def nearest_rank(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of ``values``, the nearest measured value (bench figures)."""
    values = sorted(values)
    idx = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[idx]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 1),
        "p95": round(nearest_rank(values, 95), 1),
        "max": round(max(values), 1),
    }


def load_questions(path: Path = DEV_SET) -> list[dict[str, Any]]:
    """The dataset's items (:func:`evals.runner.load_dataset`: checked, with ``question``,
    ``lang`` and ``answerable``)."""
    return load_dataset(path)


def alternate_languages(items: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Up to ``n`` answerable items, Chinese and English in turn, in dataset order."""
    by_lang: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if item["answerable"]:
            by_lang.setdefault(item["lang"], []).append(item)
    queues = [by_lang[k] for k in sorted(by_lang)]
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n and any(i < len(q) for q in queues):
        out += [q[i] for q in queues if i < len(q)]
        i += 1
    return out[:n]


def local_unavailable(settings: Settings) -> str | None:
    """Why the local model cannot be timed here, or ``None``."""
    if not settings.gguf_path.is_file():
        return f"no GGUF file at {settings.gguf_path} (run 'make models')"
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return "llama-cpp-python is not installed (pip install 'anquan[local]')"
    return None


def answer_stage(
    kb: KnowledgeBase,
    settings: Settings,
    *,
    local_questions: int = 12,
    questions_file: Path = DEV_SET,
    chat_models: dict[str, BaseChatModel] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Extractive and local answer latencies (milliseconds) on ``kb``; ``chat_models`` (a
    ``"local"`` one, say) take the place of the models the settings name."""
    items = load_questions(questions_file)
    assistant = Assistant(kb, settings, chat_models=chat_models)
    for item in items[:3]:  # warm: the embedder, the lexical index, the catalogue
        assistant.ask(item["question"], llm="extractive")
    total, refused = [], 0
    for item in items:
        t = time.perf_counter()
        reply = assistant.ask(item["question"], llm="extractive")
        total.append((time.perf_counter() - t) * 1000)
        refused += reply.refused
    out: dict[str, Any] = {
        "questions_file": questions_file.name,
        "extractive": {"questions": len(total), "refused": refused, "total_ms": _summary(total)},
    }
    log(
        f"extractive answers: p50 {statistics.median(total):.0f} ms, p95 {nearest_rank(total, 95):.0f} ms"
    )

    if not local_questions:
        why_not: str | None = "--local-questions 0"
    elif chat_models and "local" in chat_models:
        why_not = None
    else:
        why_not = local_unavailable(settings)
    if why_not:
        out["local"] = {"skipped": why_not}
        log(f"local model not timed: {why_not}")
        return out
    t = time.perf_counter()
    model = assistant.chat_model("local")
    count = getattr(model, "count_tokens", estimate_tokens)
    count("load")  # loads the model file: timed apart from the answers
    load_s = time.perf_counter() - t
    rows = []
    for i, item in enumerate(alternate_languages(items, local_questions), start=1):
        question = item["question"]
        evidence = retrieve(
            kb,
            question,
            budget_tokens=settings.answer_context_tokens,
            max_passages=settings.answer_passages,
        )
        prompt = prompt_text(build_messages(question, evidence.language, evidence.passages))
        t = time.perf_counter()
        first = None
        answer: dict[str, Any] = {}
        for event in assistant.ask_stream(question, llm="local"):
            if event["type"] == "token" and first is None:
                first = (time.perf_counter() - t) * 1000
            elif event["type"] == "answer":
                answer = event["answer"]
        elapsed = (time.perf_counter() - t) * 1000
        rows.append(
            {
                "lang": item["lang"],
                "first_token_ms": round(first or elapsed, 1),
                "total_ms": round(elapsed, 1),
                "prompt_tokens": count(prompt),
                "answer_chars": len(answer.get("answer") or ""),
                "backend": answer.get("backend"),
                "refused": bool(answer.get("refused")),
            }
        )
        log(
            f"local {i}: first token {rows[-1]['first_token_ms'] / 1000:.1f} s, "
            f"total {elapsed / 1000:.1f} s ({answer.get('backend')})"
        )
    generated = [r for r in rows if r["backend"] == "local" and not r["refused"]]
    timed = generated or rows
    out["local"] = {
        "model": settings.gguf_path.name if not chat_models else type(model).__name__,
        "threads": settings.llm_threads or "one per core",
        "answer_context_tokens": settings.answer_context_tokens,
        "max_tokens": settings.llm_max_tokens,
        "load_seconds": round(load_s, 1),
        "questions": len(rows),
        "model_answers": len(generated),
        "fell_back_to_extractive": sum(1 for r in rows if r["backend"] == "extractive"),
        "refused": sum(1 for r in rows if r["refused"]),
        "first_token_ms": _summary([r["first_token_ms"] for r in timed]),
        "total_ms": _summary([r["total_ms"] for r in timed]),
        # the system rules, the numbered passages and the question, before the chat template
        "prompt_tokens": _summary([float(r["prompt_tokens"]) for r in rows]),
        "rows": rows,
    }
    return out
