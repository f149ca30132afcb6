"""A decrypted Feishu event → challenge, :class:`Question`, :class:`Vote` or nothing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from api.chat.core import (
    BadRequest,
    Question,
    Vote,
    clean_text,
    parse_request,
    parse_vote,
    valid_answer_id,
)

_MESSAGE_ID = re.compile(r"om_[A-Za-z0-9_\-]{1,120}")
_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_MENTION = re.compile(r"@_user_\d+\s*|@_all\s*")


@dataclass(frozen=True)
class Challenge:
    challenge: str


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def normalise(event: dict[str, Any]) -> Challenge | Question | Vote | None:
    if event.get("type") == "url_verification":
        challenge = event.get("challenge")
        if not isinstance(challenge, str) or len(challenge) > 512:
            raise BadRequest("url_verification without a challenge")
        return Challenge(challenge)
    header = _d(event.get("header"))
    event_id = header.get("event_id")
    if not isinstance(event_id, str) or not _ID.fullmatch(event_id):
        return None
    body = _d(event.get("event"))
    kind = header.get("event_type")
    if kind == "card.action.trigger":
        value = _d(_d(body.get("action")).get("value"))
        vote = parse_vote(value.get("anquan_vote"))
        if vote is None or not valid_answer_id(value.get("answer_id")):
            return None
        return Vote("feishu", event_id, value["answer_id"], vote)
    if kind != "im.message.receive_v1":
        return None
    if _d(body.get("sender")).get("sender_type") != "user":
        return None  # never answer a bot, ourselves included
    message = _d(body.get("message"))
    message_id = message.get("message_id")
    chat_id = message.get("chat_id")
    if not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id):
        raise BadRequest("message_id is missing or malformed")
    if not isinstance(chat_id, str) or not _ID.fullmatch(chat_id):
        raise BadRequest("chat_id is missing or malformed")
    text = ""
    if message.get("message_type") == "text":
        try:
            content = json.loads(message.get("content") or "{}")
        except (TypeError, ValueError):
            content = {}
        text = clean_text(_MENTION.sub("", str(_d(content).get("text") or "")))
    req, rest = parse_request(text)
    group = message.get("chat_type") != "p2p"
    root = message.get("root_id")
    root = root if isinstance(root, str) and _MESSAGE_ID.fullmatch(root) else message_id
    user = _d(_d(body.get("sender")).get("sender_id")).get("open_id")
    return Question(
        platform="feishu",
        event_id=event_id,
        thread_id=f"feishu:{chat_id}:{root}" if group else f"feishu:{chat_id}",
        text=rest if req == "ask" else text,
        kind=req,
        topic=rest if req == "checklist" else "",
        user=user if isinstance(user, str) else "",
        reply={"message_id": message_id, "in_thread": group},
    )
