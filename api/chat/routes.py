"""``make_chat_router(ask, checklist, feedback, settings)``: the ``/chat/<platform>`` endpoints.

Every endpoint reads the raw body (capped), hands it to its platform's handler in a worker
thread (verification may fetch signing keys), and turns a :class:`ChatRejected` into the API's
error shape with the right status. Anything unexpected is logged and answered with a plain
500: a platform never sees a traceback.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from api.chat.core import (
    MAX_BODY_BYTES,
    AskFn,
    ChatCore,
    ChatRejected,
    ChatStore,
    ChecklistFn,
    Clock,
    FeedbackFn,
    PayloadTooLarge,
    Vote,
    equal,
    error_body,
    link_signature,
    parse_vote,
    valid_answer_id,
)
from api.chat.dingtalk import handler as dingtalk
from api.chat.feishu import handler as feishu
from api.chat.service import Ack, ChatService, Inbound
from api.chat.slack import handler as slack
from api.chat.teams import handler as teams
from api.chat.webhook import handler as webhook
from api.chat.wecom import handler as wecom
from ingest.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[ChatService, Inbound], Ack]

#: path → (handler, methods); GET only where the platform checks the URL with one
PLATFORMS: dict[str, tuple[Handler, list[str]]] = {
    "webhook": (webhook.handle, ["POST"]),
    "dingtalk": (dingtalk.handle, ["POST"]),
    "wecom": (wecom.handle_app, ["GET", "POST"]),
    "wecom-bot": (wecom.handle_bot, ["GET", "POST"]),
    "feishu": (feishu.handle, ["POST"]),
    "slack": (slack.handle, ["POST"]),
    "teams": (teams.handle, ["POST"]),
}


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _endpoint(service: ChatService, platform: str, handler: Handler) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await read_body(request)
            inbound = Inbound(
                request.method,
                body,
                {k.lower(): v for k, v in request.headers.items()},
                dict(request.query_params),
            )
            ack = await run_in_threadpool(handler, service, inbound)
        except ChatRejected as exc:
            log.info("chat/%s refused (%s): %s", platform, exc.status, exc)
            return JSONResponse(error_body(exc), status_code=exc.status)
        except Exception:
            log.exception("chat/%s failed", platform)
            failure = {
                "error": {
                    "code": "internal",
                    "message": "the chat adapter failed; see the server log",
                    "details": {},
                }
            }
            return JSONResponse(failure, status_code=500)
        return Response(ack.content(), status_code=ack.status, media_type=ack.media_type)

    endpoint.__name__ = f"chat_{platform.replace('-', '_')}"
    return endpoint


def make_chat_router(
    ask: AskFn,
    checklist: ChecklistFn,
    feedback: FeedbackFn,
    settings: Settings,
    *,
    clock: Clock = time.time,
    store: ChatStore | None = None,
) -> APIRouter:
    """The chat endpoints, wired to the assistant through three callables:
    ``ask(question, history) -> Answer dict``, ``checklist(topic, lang) -> checklist dict`` and
    ``feedback(answer_id, vote, comment)`` with vote 1 (👍) or -1 (👎). The running
    :class:`ChatService` is ``router.chat_service`` (tests wait on its dispatcher)."""
    store = store or ChatStore(settings.chat_db_path, clock)
    core = ChatCore(ask, checklist, feedback, store, settings.chat_history_turns)
    service = ChatService(core, settings, clock)

    @asynccontextmanager
    async def lifespan(_: Any):
        yield
        service.close()

    router = APIRouter(prefix="/chat", tags=["chat"], lifespan=lifespan)
    router.chat_service = service  # type: ignore[attr-defined]
    for platform, (handler, methods) in PLATFORMS.items():
        router.add_api_route(
            f"/{platform}",
            _endpoint(service, platform, handler),
            methods=methods,
            include_in_schema=True,
            summary=f"{platform} events",
        )

    @router.get("/vote", response_class=HTMLResponse, summary="👍/👎 from a signed link")
    def vote_link(a: str = "", v: str = "", s: str = "") -> HTMLResponse:
        secret = settings.chat_link_secret
        vote = parse_vote(v)
        if (
            not secret
            or vote is None
            or not valid_answer_id(a)
            or not equal(s, link_signature(secret, a, vote))
        ):
            return HTMLResponse("<p>This link is not valid.</p>", status_code=403)
        service.vote(Vote("link", f"{a}:{vote}", a, vote))
        thanks = "Thanks, your feedback was recorded. 感谢反馈，已记录。"
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>{html.escape(thanks)}</p>")

    return router
