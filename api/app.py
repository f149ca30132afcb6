"""The HTTP service: ``create_app`` builds its parts once, in the lifespan.

Parts given to the factory (a knowledge base, an assistant, settings) are used as they are,
which is how tests run the service on a small knowledge base; missing ones are built from
the settings at start-up and kept on ``app.state``. Models load in a background thread, so the
service answers ``/healthz`` at once and ``/readyz`` says when it can work.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import openai_compat
from api.auth import KeyStore, RateLimiter
from api.config import ApiSettings
from api.errors import install_error_handlers
from api.feedback import FeedbackStore
from api.routes import ask, checklists, documents, health, search, web
from api.routes import inspections as inspection_routes
from api.uploads import Uploads
from assistant.answer import Assistant
from assistant.inspections import Inspections
from ingest.errors import VectorStoreUnavailable
from ingest.kb import KnowledgeBase, open_kb
from ingest.settings import Settings

log = logging.getLogger(__name__)

#: background embedding: pause between rounds, and the wait when another worker holds the lock
EMBED_PAUSE_S = 0.2
EMBED_RETRY_S = 2.0
#: background embedding after a fault (the Chroma server down): first pause, doubling to the most
EMBED_BACKOFF_S = 0.5
EMBED_BACKOFF_MAX_S = 30.0

DESCRIPTION = """Production-safety knowledge base: answers cited to the clause, search,
inspection checklists, inspection records, and the document library.

Send an API key as `Authorization: Bearer <key>` (or `X-API-Key`) when the service has keys;
a service on 127.0.0.1 without keys serves its local user. Every error has one shape:
`{"error": {"code", "message", "details"}}`."""


def _embed_in_background(kb: KnowledgeBase, stop: threading.Event) -> None:
    """Fill missing vectors while the service answers (lexical search works meanwhile).

    A fault (the Chroma server down, say) is logged and the round tried again after a growing
    pause, so vectors fill in once the server is back; the thread ends only when nothing is
    pending or the service stops."""
    backoff = EMBED_BACKOFF_S
    while not stop.is_set():
        try:
            if not kb.registry.pending_count():
                return
            # several workers: one embeds (a file lock), the others skip this round; the
            # pause lets an upload waiting in another worker take the lock between rounds
            written = kb.sync_vectors(limit=kb.settings.embed_batch_size * 4, wait=False)
            backoff = EMBED_BACKOFF_S
            stop.wait(EMBED_PAUSE_S if written else EMBED_RETRY_S)
        except Exception as exc:  # the service must keep running
            if isinstance(exc, VectorStoreUnavailable):
                log.warning("background embedding retries in %.1fs: %s", backoff, exc)
            else:
                log.exception("background embedding failed; retrying in %.1fs", backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, EMBED_BACKOFF_MAX_S)


def _warm_up(app: FastAPI) -> None:
    """Load the models now rather than on the first question; ``/readyz`` reports each."""
    ready: dict[str, Any] = app.state.readiness
    kb: KnowledgeBase = app.state.kb
    try:
        kb.embedder.embed_queries(["warm-up"])
        ready["embedder"] = "ok"
    except Exception as exc:
        log.exception("the embedder could not be loaded")
        ready["embedder"] = f"failed: {type(exc).__name__}: {exc}"
    try:
        kb.vectors.count()  # opens the collection now; /readyz asks it again each time
    except VectorStoreUnavailable as exc:
        log.warning("%s", exc)
    except Exception:
        log.exception("the vector store could not be opened")
    backend = app.state.settings.llm
    if backend == "extractive":
        ready["llm"] = "extractive"
        return
    try:
        app.state.assistant.chat_model(backend)
        ready["llm"] = "ok"
    except Exception as exc:  # answers fall back to extractive; say why
        ready["llm"] = f"unavailable ({backend}): {exc}"


def _chat_router(app: FastAPI, settings: Settings):
    """The chat platforms (``/chat/<platform>``), wired to the same assistant as the API."""
    from api.chat.routes import make_chat_router
    from api.feedback import new_answer_id
    from assistant.checklist import draft_checklist

    def ask(question: str, history: list[dict]) -> dict:
        answer = app.state.assistant.ask(question, history=history).to_dict()
        answer_id = new_answer_id()
        app.state.feedback.log_answer(answer_id, question, answer, "chat")
        return {"answer_id": answer_id, **answer}

    def checklist(topic: str, lang: str) -> dict:
        return draft_checklist(app.state.kb, "", topic, None, lang).to_dict()

    def feedback(answer_id: str, vote: int, comment: str) -> None:
        app.state.feedback.add(answer_id, vote, comment, "chat")

    return make_chat_router(ask, checklist, feedback, settings)


WORKER_HEADER = b"x-anquan-worker"
#: ``anquan serve --workers N`` tells its workers whether to fill vectors in the background
BACKGROUND_EMBED_ENV = "ANQUAN_BACKGROUND_EMBED"


class WorkerHeader:
    """Names the process that answered (``X-Anquan-Worker: <pid>``) on every HTTP response:
    with several workers, a client or a test can tell them apart. Plain ASGI, so streamed
    answers (SSE) pass through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pid = str(os.getpid()).encode()

        async def send_named(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (WORKER_HEADER, pid)]
            await send(message)

        await self.app(scope, receive, send_named)


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as ``ANQUAN_*`` variables: how a process passes the settings it was given
    (by the command line, say) to the worker processes it starts, which build their own."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, list):
            if name == "corpus":
                value = ":".join(str(Path(v).absolute()) for v in value)
            else:
                value = ",".join(str(v) for v in value)
        elif isinstance(value, Path):
            value = value.absolute()
        env[f"ANQUAN_{name.upper()}"] = str(value)
    return env


def app_from_env() -> FastAPI:
    """The app built from the environment alone: what each of several uvicorn workers runs
    (``uvicorn.run("api.app:app_from_env", factory=True, workers=N)``); ``anquan serve``
    passes its settings as :func:`settings_env` variables."""
    background = os.environ.get(BACKGROUND_EMBED_ENV, "1").strip().lower()
    return create_app(settings=Settings(), background_embed=background not in ("0", "false", "no"))


def create_app(
    kb: KnowledgeBase | None = None,
    settings: Settings | None = None,
    background_embed: bool = False,
    assistant: Assistant | None = None,
    api_settings: ApiSettings | None = None,
    inspections: Inspections | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        s = app.state
        s.settings = settings or (kb.settings if kb else None) or Settings()
        s.api_settings = api_settings or ApiSettings()
        s.kb = kb or open_kb(s.settings)
        s.readiness = {"knowledge_base": "loading", "embedder": "loading", "llm": "loading"}
        s.kb.lexical()
        s.readiness["knowledge_base"] = "ok"
        s.assistant = assistant or Assistant(s.kb, s.settings)
        s.inspections = inspections or Inspections.from_settings(s.settings)
        s.keys = KeyStore(s.settings.data_dir / "api.sqlite")
        s.feedback = FeedbackStore(
            s.settings.data_dir / "api.sqlite", s.api_settings.answer_log_size
        )
        s.uploads = Uploads(s.kb, s.settings.data_dir / "uploads")
        s.uploads.start()
        s.limiter = RateLimiter()
        s.facet_cache = {}
        stop = threading.Event()
        warm = threading.Thread(target=_warm_up, args=(app,), name="anquan-warm-up", daemon=True)
        warm.start()
        worker = None
        if background_embed:
            worker = threading.Thread(
                target=_embed_in_background, args=(s.kb, stop), name="anquan-embed", daemon=True
            )
            worker.start()
        try:
            yield
        finally:
            stop.set()
            s.uploads.stop()
            warm.join(timeout=60)  # a model still loading must not outlive the parts it uses
            if worker:
                worker.join(timeout=30)
            s.keys.close()
            s.feedback.close()
            if inspections is None:
                s.inspections.close()
            if kb is None:
                s.kb.close()

    app = FastAPI(
        title="Anquan",
        version="0.1.0",
        lifespan=lifespan,
        description=DESCRIPTION,
    )
    install_error_handlers(app)
    app.add_middleware(WorkerHeader)
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(ask.router)
    app.include_router(checklists.router)
    app.include_router(documents.router)
    app.include_router(inspection_routes.router)
    app.include_router(openai_compat.router)
    app.include_router(_chat_router(app, settings or (kb.settings if kb else None) or Settings()))
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    return app
