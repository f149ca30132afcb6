"""Slack requests → challenge, :class:`Question`, :class:`Vote` or nothing.

One Request URL serves all three Slack features: Events API (JSON), slash commands (form) and
interactivity (form with a JSON ``payload``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from api.chat.core import (
    BadRequest,
    Question,
    Vote,
    clean_text,
    parse_request,
    parse_vote,
    valid_answer_id,
)

_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>\s*")
#: Slack escapes these three in message text
_UNESCAPE = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


@dataclass(frozen=True)
class Challenge:
    challenge: str


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ident(value: Any) -> str:
    return value if isinstance(value, str) and _ID.fullmatch(value) else ""


def _text(raw: Any) -> str:
    text = _MENTION.sub("", raw if isinstance(raw, str) else "")
    for a, b in _UNESCAPE:
        text = text.replace(a, b)
    return clean_text(text)


def _question(text: str, **fields: Any) -> Question:
    kind, rest = parse_request(text)
    return Question(
        platform="slack",
        text=rest if kind == "ask" else text,
        kind=kind,
        topic=rest if kind == "checklist" else "",
        **fields,
    )


def normalise(body: bytes, content_type: str | None) -> Challenge | Question | Vote | None:
    if body.lstrip()[:1] == b"{" or (content_type or "").startswith("application/json"):
        try:
            data: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("body is not JSON") from None
        return _event(_d(data))
    try:
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        raise BadRequest("form body is not UTF-8") from None
    if "payload" in form:
        try:
            return _interaction(_d(json.loads(form["payload"])))
        except ValueError:
            raise BadRequest("interaction payload is not JSON") from None
    if "command" in form:
        return _command(form)
    raise BadRequest("not a Slack event, command or interaction")


def _event(data: dict[str, Any]) -> Challenge | Question | None:
    if data.get("type") == "url_verification":
        challenge = data.get("challenge")
        if not isinstance(challenge, str) or len(challenge) > 512:
            raise BadRequest("url_verification without a challenge")
        return Challenge(challenge)
    if data.get("type") != "event_callback":
        return None
    event = _d(data.get("event"))
    kind = event.get("type")
    direct = kind == "message" and event.get("channel_type") == "im"
    if kind != "app_mention" and not direct:
        return None
    if event.get("bot_id") or event.get("subtype"):
        return None  # our own replies, edits, joins: never answered
    event_id, team, channel, ts = (
        _ident(data.get("event_id")),
        _ident(data.get("team_id")),
        _ident(event.get("channel")),
        _ident(event.get("ts")),
    )
    if not (event_id and channel and ts):
        raise BadRequest("event without event_id, channel or ts")
    thread_ts = _ident(event.get("thread_ts")) or ts
    return _question(
        _text(event.get("text")),
        event_id=event_id,
        thread_id=f"slack:{team}:{channel}:{thread_ts}",
        user=_ident(event.get("user")),
        reply={"channel": channel, "thread_ts": thread_ts},
    )


def _command(form: dict[str, str]) -> Question:
    trigger, channel, user = (
        _ident(form.get("trigger_id")),
        _ident(form.get("channel_id")),
        _ident(form.get("user_id")),
    )
    response_url = form.get("response_url", "")
    if not (trigger and channel and response_url):
        raise BadRequest("slash command without trigger_id, channel_id or response_url")
    team = _ident(form.get("team_id"))
    return _question(
        _text(form.get("text")),
        event_id=f"command:{trigger}",
        thread_id=f"slack:{team}:{channel}:command:{user}",
        user=user,
        reply={"response_url": response_url},
    )


def _interaction(payload: dict[str, Any]) -> Vote | None:
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    action = _d(actions[0]) if isinstance(actions, list) and actions else {}
    action_id = action.get("action_id")
    vote = (
        parse_vote(str(action_id).removeprefix("anquan_vote_"))
        if isinstance(action_id, str)
        else None
    )
    if not (isinstance(action_id, str) and action_id.startswith("anquan_vote_")) or vote is None:
        return None
    if not valid_answer_id(action.get("value")):
        return None
    user = _ident(_d(payload.get("user")).get("id"))
    event_id = f"action:{user}:{action['value']}:{_ident(action.get('action_ts'))}"
    return Vote("slack", event_id, action["value"], vote)
