"""WeCom callbacks → :class:`Question`, :class:`Vote` or a stream refresh.

App callbacks are XML (outer envelope with ``<Encrypt>``, inner message after decryption); AI
bot callbacks are JSON (``{"encrypt": ...}`` outside, the message inside). XML with a DOCTYPE
or entity declaration is refused before parsing.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from api.chat.core import (
    BadRequest,
    Question,
    Vote,
    clean_text,
    parse_request,
    parse_vote,
)

_ID = re.compile(r"[\w@.\-]{1,128}")
_MSG_ID = re.compile(r"[\w@.\-/+=:]{1,128}")
_VOTE_KEY = re.compile(r"vote:(up|down):(ans_[0-9a-f]{16})")


def parse_xml(body: bytes) -> dict[str, str]:
    """A flat WeCom XML document as tag → text."""
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise BadRequest("XML with a DOCTYPE or entities is not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise BadRequest("body is not well-formed XML") from None
    return {child.tag: (child.text or "").strip() for child in root}


def envelope_xml(body: bytes) -> str:
    encrypt = parse_xml(body).get("Encrypt", "")
    if not encrypt:
        raise BadRequest("no <Encrypt> element: is encryption (安全模式) on for this app?")
    return encrypt


def envelope_json(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not JSON") from None
    encrypt = data.get("encrypt") if isinstance(data, dict) else None
    if not isinstance(encrypt, str) or not encrypt:
        raise BadRequest('no "encrypt" field')
    return encrypt


def _ident(value: Any) -> str:
    return value if isinstance(value, str) and _ID.fullmatch(value) else ""


def normalise_app(plain: bytes) -> Question | Vote | None:
    msg = parse_xml(plain)
    user = _ident(msg.get("FromUserName"))
    if not user:
        raise BadRequest("FromUserName is missing")
    msg_type = msg.get("MsgType")
    if msg_type == "event":
        m = _VOTE_KEY.fullmatch(msg.get("EventKey", ""))
        if msg.get("Event") == "template_card_event" and m:
            event_id = f"{user}:{msg.get('CreateTime', '')}:{msg.get('TaskId', '')}:{m.group(1)}"
            return Vote("wecom", event_id, m.group(2), parse_vote(m.group(1)) or 0)
        return None
    msg_id = _ident(msg.get("MsgId"))
    if not msg_id:
        raise BadRequest("MsgId is missing")
    text = clean_text(msg.get("Content")) if msg_type == "text" else ""
    kind, rest = parse_request(text)
    return Question(
        platform="wecom",
        event_id=msg_id,
        thread_id=f"wecom:{user}",
        text=rest if kind == "ask" else text,
        kind=kind,
        topic=rest if kind == "checklist" else "",
        user=user,
        reply={"touser": user},
    )


@dataclass(frozen=True)
class StreamRefresh:
    """The AI bot asking for the current state of a streamed reply."""

    stream_id: str


_MENTION = re.compile(r"^\s*@\S+\s*")


def normalise_bot(plain: bytes) -> Question | StreamRefresh | None:
    try:
        msg: Any = json.loads(plain)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("decrypted message is not JSON") from None
    if not isinstance(msg, dict):
        raise BadRequest("decrypted message is not a JSON object")
    msg_type = msg.get("msgtype")
    if msg_type == "stream":
        stream = msg.get("stream")
        sid = _ident(stream.get("id")) if isinstance(stream, dict) else ""
        if not sid:
            raise BadRequest("stream refresh without a stream id")
        return StreamRefresh(sid)
    if msg_type != "text":
        return None
    msg_id = msg.get("msgid")
    if not isinstance(msg_id, str) or not _MSG_ID.fullmatch(msg_id):
        raise BadRequest("msgid is missing")
    sender = msg.get("from")
    user = _ident(sender.get("userid")) if isinstance(sender, dict) else ""
    content = msg.get("text", {}).get("content") if isinstance(msg.get("text"), dict) else ""
    text = clean_text(_MENTION.sub("", content if isinstance(content, str) else ""))
    kind, rest = parse_request(text)
    chat = _ident(msg.get("chatid"))
    thread = f"wecom-bot:{chat}:{user}" if chat else f"wecom-bot:{user}"
    return Question(
        platform="wecom-bot",
        event_id=msg_id,
        thread_id=thread,
        text=rest if kind == "ask" else text,
        kind=kind,
        topic=rest if kind == "checklist" else "",
        user=user,
        reply={},
    )
