"""A Bot Framework activity → :class:`Question`, a feedback-loop vote, or nothing."""

from __future__ import annotations

import contextlib
import html
import json
import re
from dataclasses import dataclass
from typing import Any

from api.chat.core import BadRequest, Question, clean_text, parse_request, parse_vote

_ID = re.compile(r"[\w.:;@=,+\-/|#]{1,512}")
_AT = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]{0,200}>")


@dataclass(frozen=True)
class FeedbackInvoke:
    """The Teams feedback loop: a reaction on one of our messages (``replyToId``)."""

    event_id: str
    reply_to_id: str
    vote: int
    comment: str


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_activity(body: bytes) -> dict[str, Any]:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be an activity object")
    return data


def _ident(value: Any) -> str:
    return value if isinstance(value, str) and _ID.fullmatch(value) else ""


def normalise(activity: dict[str, Any]) -> Question | FeedbackInvoke | None:
    kind = activity.get("type")
    activity_id = _ident(activity.get("id"))
    if kind == "invoke" and activity.get("name") == "message/submitAction":
        value = _d(activity.get("value"))
        action = _d(value.get("actionValue"))
        vote = parse_vote(action.get("reaction"))
        reply_to = _ident(activity.get("replyToId"))
        if value.get("actionName") != "feedback" or vote is None or not reply_to:
            return None
        comment = ""
        with contextlib.suppress(TypeError, ValueError):
            comment = str(_d(json.loads(action.get("feedback") or "{}")).get("feedbackText") or "")
        return FeedbackInvoke(activity_id or reply_to, reply_to, vote, clean_text(comment, 1000))
    if kind != "message":
        return None
    conversation = _ident(_d(activity.get("conversation")).get("id"))
    if not (activity_id and conversation):
        raise BadRequest("message activity without id or conversation.id")
    raw = activity.get("text")
    raw = raw if isinstance(raw, str) else ""
    text = clean_text(html.unescape(_TAG.sub("", _AT.sub("", raw))))
    req, rest = parse_request(text)
    return Question(
        platform="teams",
        event_id=activity_id,
        thread_id=f"teams:{conversation}",
        text=rest if req == "ask" else text,
        kind=req,
        topic=rest if req == "checklist" else "",
        user=_ident(_d(activity.get("from")).get("id")),
        reply={
            "service_url": activity.get("serviceUrl"),
            "conversation_id": conversation,
            "activity_id": activity_id,
        },
    )
