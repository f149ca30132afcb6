"""Liveness and readiness: ``/healthz`` says the process answers, ``/readyz`` that it can work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import KBDep
from api.errors import ApiError
from ingest.errors import KnowledgeBaseError

router = APIRouter(tags=["health"])


def _vector_store_state(kb: Any, ready: dict[str, Any]) -> str:
    """ "ok", or why dense search cannot run: asked live, since a Chroma server can stop and
    come back while the service runs (waits for the warm-up, which opens the store)."""
    if ready.get("embedder") != "ok":
        return "loading"
    try:
        return kb.vectors.ping()
    except KnowledgeBaseError as exc:
        return f"unreachable: {exc}"


@router.get("/healthz", summary="The process is up")
def healthz(kb: KBDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "chunks": kb.registry.chunk_count(),
        "pending_vectors": kb.registry.pending_count(),
    }


@router.get(
    "/readyz",
    summary="The knowledge base is loaded and the models are ready",
    responses={503: {"description": "not ready yet; details.checks says what is missing"}},
)
def readyz(request: Request, kb: KBDep) -> dict[str, Any]:
    ready = request.app.state.readiness
    checks: dict[str, Any] = {
        "knowledge_base": ready.get("knowledge_base", "loading"),
        "embedder": ready.get("embedder", "loading"),
        "llm": ready.get("llm", "loading"),
        "vector_store": _vector_store_state(kb, ready),
        "documents": kb.registry.stats()["documents"],
        "chunks": kb.registry.chunk_count(),
        "pending_vectors": kb.registry.pending_count(),
    }
    problems = [
        name
        for name in ("knowledge_base", "embedder", "llm", "vector_store")
        if checks[name] not in ("ok", "extractive")
        and not str(checks[name]).startswith("unavailable")
    ]
    if not checks["chunks"]:
        problems.append("chunks")
    if problems:
        raise ApiError(
            503,
            "not ready: "
            + ", ".join(f"{p} {checks[p]}" for p in problems)
            + ("; run 'anquan ingest' to fill the knowledge base" if "chunks" in problems else ""),
            "not_ready",
            details={"checks": checks},
        )
    return {"status": "ready", "checks": checks}
