"""Anquan as an OpenAI-compatible chat model, so existing chat front ends can use it.

``POST /v1/chat/completions`` takes the last user message as the question and the earlier
user messages as the conversation; ``GET /v1/models`` lists ``anquan`` (the service's default
backend) and ``anquan-extractive`` / ``anquan-local`` / ``anquan-openai``. Front ends show only
the message text, so the citations travel twice: as a "Sources" list at the end of the text,
and as a ``citations`` list on the reply (on the last chunk when streaming), with the answer's
``answer_id`` for feedback.

A streamed reply cannot take back text already sent: when a model's answer is withdrawn
(the evidence gate found a figure its passages do not hold), the stream says so in the text
and the extractive answer follows.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import AssistantDep, CurrentUser, FeedbackDep, SettingsDep
from api.errors import ApiError, error_body, status_of
from api.feedback import new_answer_id
from assistant.llm import check_backend
from ingest.errors import AnquanError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai-compatible"])

MODELS = ("anquan", "anquan-extractive", "anquan-local", "anquan-openai")


class Message(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(str(p.get("text", "")) for p in parts if p.get("type", "text") == "text")


class ChatBody(BaseModel):
    model: str = Field("anquan", examples=["anquan"])
    messages: Annotated[list[Message], Field(min_length=1, max_length=200)]
    stream: bool = False
    # accepted for compatibility; the answer's wording is the assistant's, not sampled here
    temperature: float | None = None
    max_tokens: int | None = None
    user: str | None = None
    filters: dict[str, str] | None = Field(None, description="Anquan's search filters")


def backend_of(model: str, default: str) -> str:
    if model not in MODELS:
        raise ApiError(
            404,
            f"no model {model!r}. Available: {', '.join(MODELS)}",
            "model_not_found",
            details={"models": list(MODELS)},
        )
    return default if model == "anquan" else model.removeprefix("anquan-")


def question_and_history(messages: list[Message]) -> tuple[str, list[str]]:
    users = [m.text().strip() for m in messages if m.role == "user" and m.text().strip()]
    if not users:
        raise ApiError(400, "no user message: the last user message is the question", "bad_request")
    return users[-1], users[:-1]


def sources_block(citations: list[dict[str, Any]], language: str) -> str:
    if not citations:
        return ""
    lines = ["", "", "来源：" if language == "zh" else "Sources:"]
    for c in citations:
        page = f" p.{c['page']}" if c.get("page") else ""
        lines.append(f"[{c['n']}] {c['title']} {c['locator']}{page} ({c['source']})")
    return "\n".join(lines)


def _citations(answer: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("n", "source", "title", "locator", "page", "quote")
    return [{k: c.get(k) for k in keys} for c in answer.get("citations", [])]


@router.get("/models", summary="The models a chat front end can pick")
def models(user: CurrentUser) -> dict[str, Any]:
    now = int(time.time())
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": now, "owned_by": "anquan"} for m in MODELS
        ],
    }


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completions; the reply carries the citations",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def chat_completions(
    body: ChatBody,
    assistant: AssistantDep,
    settings: SettingsDep,
    feedback: FeedbackDep,
    user: CurrentUser,
) -> Any:
    backend = check_backend(backend_of(body.model, settings.llm), settings)
    question, history = question_and_history(body.messages)
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    if body.stream:
        return StreamingResponse(
            _stream(
                assistant, feedback, user, body, backend, question, history, completion_id, created
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = assistant.ask(question, history=history or None, filters=body.filters, llm=backend)
    data = answer.to_dict()
    answer_id = new_answer_id()
    feedback.log_answer(answer_id, question, {"answer_id": answer_id, **data}, user.key_id)
    text = data["answer"] + sources_block(data["citations"], data["language"])
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": _citations(data),
        "answer_id": answer_id,
        "refused": data["refused"],
    }


def _chunk(
    cid: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
    **extra: Any,
) -> str:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _stream(
    assistant,
    feedback,
    user,
    body: ChatBody,
    backend: str,
    question: str,
    history: list[str],
    cid: str,
    created: int,
) -> Iterator[str]:
    model = body.model
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""})
    try:
        for event in assistant.ask_stream(
            question, history=history or None, filters=body.filters, llm=backend
        ):
            kind = event["type"]
            if kind == "token":
                yield _chunk(cid, created, model, {"content": event["text"]})
            elif kind == "reset":
                note = f"\n\n[withdrawn: {event['reason']}; the quoted clauses follow]\n\n"
                yield _chunk(cid, created, model, {"content": note})
            elif kind == "answer":
                data = event["answer"]
                answer_id = new_answer_id()
                feedback.log_answer(
                    answer_id, question, {"answer_id": answer_id, **data}, user.key_id
                )
                block = sources_block(data["citations"], data["language"])
                if block:
                    yield _chunk(cid, created, model, {"content": block})
                yield _chunk(
                    cid,
                    created,
                    model,
                    {},
                    "stop",
                    citations=_citations(data),
                    answer_id=answer_id,
                    refused=data["refused"],
                )
    except AnquanError as exc:
        status, code = status_of(exc)
        yield f"data: {json.dumps({**error_body(code, str(exc)), 'status': status})}\n\n"
    except Exception as exc:
        log.exception("streamed chat completion failed")
        body_ = error_body("internal_error", f"{type(exc).__name__}: {exc}")
        yield f"data: {json.dumps({**body_, 'status': 500})}\n\n"
    yield "data: [DONE]\n\n"
