"""A webhook body → :class:`Question`: ``{"question": "...", "thread_id": "..."}``."""

from __future__ import annotations

import json
import re
from typing import Any

from api.chat.core import BadRequest, Question, clean_text, parse_request

_THREAD = re.compile(r"[\w.:\-@/]{1,200}")


def normalise(body: bytes, msg_id: str) -> Question:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('body is not JSON: send {"question": "...", "thread_id": "..."}') from None
    if not isinstance(data, dict):
        raise BadRequest('body must be a JSON object with a "question"')
    text = clean_text(data.get("question") or data.get("text"))
    thread = data.get("thread_id")
    if thread is not None and (not isinstance(thread, str) or not _THREAD.fullmatch(thread)):
        raise BadRequest("thread_id must be up to 200 letters, digits or ._:-@/")
    kind, rest = parse_request(text)
    if kind == "help" and not text:
        raise BadRequest('"question" is missing or empty')
    return Question(
        platform="webhook",
        event_id=msg_id,
        thread_id=f"webhook:{thread or msg_id}",
        text=rest if kind == "ask" else text,
        kind=kind,
        topic=rest if kind == "checklist" else "",
        user=clean_text(data.get("user"), 200),
        reply={"thread_id": thread or msg_id, "request_id": msg_id},
    )
