"""Questions and answers: ``POST /v1/ask`` (JSON, or a stream of server-sent events) and
``POST /v1/feedback`` on an answer.

The stream sends what the assistant yields, as it happens::

    event: evidence   {"query", "language", "passages": [citation…], "refused"}
    event: token      {"text"}                   pieces of the answer (many)
    event: reset      {"reason"}                 a model's text withdrawn; the extractive one follows
    event: answer     {"answer_id", …Answer}     the final answer, as the JSON reply has it
    event: error      {"error": {code, message, details}}   instead of an answer, when it failed
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.deps import AdminUser, AssistantDep, CurrentUser, FeedbackDep, SettingsDep
from api.errors import ApiError, error_body, status_of
from api.feedback import new_answer_id
from assistant.llm import check_backend
from ingest.errors import AnquanError
from ingest.kb import parse_where

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["answers"])


class Turn(BaseModel):
    role: Literal["user", "assistant", "system"] = "user"
    content: str = Field(max_length=8000)


class AskBody(BaseModel):
    question: str = Field(
        min_length=1, max_length=4000, examples=["有限空间作业前要检测什么气体？"]
    )
    history: list[str | Turn] | None = Field(
        None, max_length=50, description="earlier questions (or chat turns), oldest first"
    )
    filters: dict[str, str] | None = Field(
        None,
        description="jurisdiction, doc_type, language, industries, source, normative",
        examples=[{"jurisdiction": "CN"}],
    )
    llm: Literal["extractive", "local", "openai"] | None = Field(
        None, description="who writes the answer (default: the service's ANQUAN_LLM)"
    )
    stream: bool = Field(False, description="same as 'Accept: text/event-stream'")

    def history_list(self) -> list[Any] | None:
        if not self.history:
            return None
        return [h if isinstance(h, str) else h.model_dump() for h in self.history]


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def wants_stream(accept: str | None, flag: bool) -> bool:
    return flag or "text/event-stream" in (accept or "")


def _events(assistant, body: AskBody, filters, feedback, user) -> Iterator[str]:
    try:
        for event in assistant.ask_stream(
            body.question, history=body.history_list(), filters=filters, llm=body.llm
        ):
            kind = event["type"]
            if kind == "answer":
                answer_id = new_answer_id()
                answer = {"answer_id": answer_id, **event["answer"]}
                feedback.log_answer(answer_id, body.question, answer, user.key_id)
                yield sse("answer", answer)
            else:
                yield sse(kind, {k: v for k, v in event.items() if k != "type"})
    except AnquanError as exc:
        status, code = status_of(exc)
        yield sse("error", {**error_body(code, str(exc)), "status": status})
    except Exception as exc:  # the stream has started: the error must travel in it
        log.exception("streamed answer failed")
        yield sse(
            "error", {**error_body("internal_error", f"{type(exc).__name__}: {exc}"), "status": 500}
        )


@router.post(
    "/ask",
    summary="Ask a question; the answer cites the clauses it rests on",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "the Answer, or (Accept: text/event-stream) its events",
        }
    },
)
def ask(
    body: AskBody,
    assistant: AssistantDep,
    settings: SettingsDep,
    feedback: FeedbackDep,
    user: CurrentUser,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    filters = parse_where(body.filters)  # bad filters are a 400 before any work starts
    check_backend(body.llm, settings)
    if wants_stream(accept, body.stream):
        return StreamingResponse(
            _events(assistant, body, filters, feedback, user),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer = assistant.ask(
        body.question, history=body.history_list(), filters=filters, llm=body.llm
    )
    answer_id = new_answer_id()
    out = {"answer_id": answer_id, **answer.to_dict()}
    feedback.log_answer(answer_id, body.question, out, user.key_id)
    return out


class FeedbackBody(BaseModel):
    answer_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down", 1, -1] = Field(description="👍 up (1) or 👎 down (-1)")
    comment: str = Field("", max_length=4000)


@router.post("/feedback", status_code=201, summary="👍/👎 with a comment on an answer")
def post_feedback(body: FeedbackBody, feedback: FeedbackDep, user: CurrentUser) -> dict[str, Any]:
    if feedback.answer(body.answer_id) is None:
        raise ApiError(
            404,
            f"no answer {body.answer_id!r}: give the answer_id that /v1/ask returned",
            "not_found",
        )
    rating = 1 if body.rating in ("up", 1) else -1
    fid = feedback.add(body.answer_id, rating, body.comment.strip(), user.key_id)
    return {"feedback_id": fid, "answer_id": body.answer_id, "rating": rating}


@router.get("/feedback", summary="Recent feedback (admin)")
def list_feedback(
    feedback: FeedbackDep,
    user: AdminUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    return {"feedback": feedback.list(limit)}
