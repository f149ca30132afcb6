"""The answer event we post back: a Standard Webhooks payload ``{type, timestamp, data}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.chat.core import Question, Reply
from api.chat.text import markdown_reply


def render(q: Question, reply: Reply, now: float) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_id": q.reply.get("request_id", q.event_id),
        "thread_id": q.reply.get("thread_id", q.thread_id),
        "answer_id": reply.answer_id or None,
        "kind": reply.kind,
        "refused": reply.refused,
        "language": reply.language,
        "markdown": markdown_reply(reply, quote_chars=200),
    }
    if reply.kind == "answer":
        data["answer"] = {
            k: reply.data.get(k)
            for k in ("answer", "refused", "reason", "citations", "related_accidents", "language")
        }
    elif reply.kind == "checklist":
        data["checklist"] = reply.data
    stamp = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    return {"type": f"anquan.{reply.kind}", "timestamp": stamp, "data": data}
