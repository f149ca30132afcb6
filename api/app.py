"""The HTTP service: ``create_app`` builds its parts once, in the lifespan."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from ingest.errors import AnquanError, ConfigError
from ingest.kb import KnowledgeBase, open_kb, parse_where
from ingest.settings import Settings

log = logging.getLogger(__name__)


def _embed_in_background(kb: KnowledgeBase, stop: threading.Event) -> None:
    """Fill missing vectors while the service answers (lexical search works meanwhile)."""
    try:
        while not stop.is_set() and kb.registry.pending_count():
            kb.sync_vectors(limit=kb.settings.embed_batch_size * 4)
    except Exception:  # the service must keep running; the next start carries on
        log.exception("background embedding stopped")


def create_app(
    kb: KnowledgeBase | None = None,
    settings: Settings | None = None,
    background_embed: bool = False,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.settings = settings or Settings()
        app.state.kb = kb or open_kb(app.state.settings)
        app.state.kb.lexical()
        stop = threading.Event()
        worker = None
        if background_embed:
            worker = threading.Thread(
                target=_embed_in_background, args=(app.state.kb, stop), daemon=True
            )
            worker.start()
        yield
        stop.set()
        if worker:
            worker.join(timeout=30)

    app = FastAPI(
        title="Anquan",
        version="0.1.0",
        lifespan=lifespan,
        description="Production-safety knowledge base: search, answers with clause citations.",
    )

    @app.exception_handler(ConfigError)
    async def _bad_request(request: Request, exc: ConfigError):
        return JSONResponse(
            status_code=400,
            content={"error": {"code": "bad_request", "message": str(exc), "details": {}}},
        )

    @app.exception_handler(AnquanError)
    async def _anquan_error(request: Request, exc: AnquanError):
        return JSONResponse(
            status_code=503,
            content={"error": {"code": "unavailable", "message": str(exc), "details": {}}},
        )

    @app.get("/healthz")
    def healthz(request: Request) -> dict:
        stats = request.app.state.kb.registry
        return {
            "status": "ok",
            "chunks": stats.chunk_count(),
            "pending_vectors": stats.pending_count(),
        }

    @app.get("/v1/search")
    def search(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=2000)],
        k: Annotated[int, Query(ge=1, le=100)] = 10,
        where: Annotated[list[str] | None, Query()] = None,
        mode: str = "hybrid",
    ) -> dict:
        if mode not in ("hybrid", "lexical", "dense"):
            raise ConfigError(f"unknown mode {mode!r}. Available: hybrid, lexical, dense")
        hits = request.app.state.kb.search(q, k=k, where=parse_where(where), mode=mode)  # type: ignore[arg-type]
        return {"query": q, "results": [h.to_dict() for h in hits]}

    return app
