"""Liveness and readiness: ``/healthz`` says the process answers, ``/readyz`` that it can work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import KBDep
from api.errors import ApiError

router = APIRouter(tags=["health"])


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
        "documents": kb.registry.stats()["documents"],
        "chunks": kb.registry.chunk_count(),
        "pending_vectors": kb.registry.pending_count(),
    }
    problems = [
        name
        for name in ("knowledge_base", "embedder", "llm")
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
