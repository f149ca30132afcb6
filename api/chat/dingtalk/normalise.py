"""A DingTalk robot message → :class:`Question` (text messages; others get the help text)."""

from __future__ import annotations

import json
import re
from typing import Any

from api.chat.core import BadRequest, Question, clean_text, parse_request

_ID = re.compile(r"[\w$+/=.:\-]{1,200}")


def _id(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadRequest(f"{key} is missing or malformed")
    return value


def normalise(body: bytes) -> Question:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    msg_id = _id(data, "msgId")
    conversation = _id(data, "conversationId")
    webhook = data.get("sessionWebhook")
    if not isinstance(webhook, str) or not webhook:
        raise BadRequest("sessionWebhook is missing")
    text = ""
    if data.get("msgtype") == "text" and isinstance(data.get("text"), dict):
        text = clean_text(data["text"].get("content"))
    kind, rest = parse_request(text)
    sender = data.get("senderStaffId") or data.get("senderId") or ""
    sender = sender if isinstance(sender, str) and _ID.fullmatch(sender) else ""
    group = str(data.get("conversationType")) == "2"
    thread = f"dingtalk:{conversation}:{sender}" if group else f"dingtalk:{conversation}"
    expires = data.get("sessionWebhookExpiredTime")
    return Question(
        platform="dingtalk",
        event_id=msg_id,
        thread_id=thread,
        text=rest if kind == "ask" else text,
        kind=kind,
        topic=rest if kind == "checklist" else "",
        user=sender,
        reply={
            "session_webhook": webhook,
            "expires_ms": expires if isinstance(expires, int) else None,
            "at_user": data.get("senderStaffId") if group else None,
        },
    )
