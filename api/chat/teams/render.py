"""Teams messages: markdown text whose ``[n]`` markers are native citation entities (≤ 20), the
AI-generated label, and the feedback loop (👍/👎 with a comment); checklists as an Adaptive
Card 1.5 with a toggle per item. Kept under Teams' ~28 KB message size."""

from __future__ import annotations

import json
import re
from typing import Any

from api.chat.core import Reply
from api.chat.text import (
    answer_body,
    checklist_items,
    checklist_title,
    citations,
    cut,
    grouped_items,
    item_basis,
    markdown_reply,
    source_label,
    zh,
)

MAX_CITATIONS = 20
MAX_BYTES = 26000


def _entity(reply: Reply, text: str) -> dict[str, Any]:
    claims: list[dict[str, Any]] = []
    used = {int(n) for n in re.findall(r"\[(\d{1,2})\]", text)}
    for c in citations(reply):
        n = c.get("n")
        if not isinstance(n, int) or n not in used or len(claims) >= MAX_CITATIONS:
            continue
        locator = str(c.get("locator") or "")
        appearance: dict[str, Any] = {
            "@type": "DigitalDocument",
            "name": cut(source_label(c, 200), 80),
            "abstract": cut(" ".join(str(c.get("quote") or "").split()), 160),
        }
        if locator:
            appearance["keywords"] = [cut(locator, 28)]
        claims.append({"@type": "Claim", "position": n, "appearance": appearance})
    entity: dict[str, Any] = {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": ["AIGeneratedContent"],
    }
    if claims:
        entity["citation"] = claims
    return entity


def _size(activity: dict[str, Any]) -> int:
    return len(json.dumps(activity, ensure_ascii=False).encode())


def _message(text: str, reply: Reply, **extra: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": "message",
        "textFormat": "markdown",
        "text": text,
        "entities": [_entity(reply, text)],
        **extra,
    }
    if reply.answer_id:
        activity["channelData"] = {"feedbackLoopEnabled": True}
    return activity


def _checklist_card(reply: Reply, limit: int) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": checklist_title(reply),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    must = "（必查）" if zh(reply) else " (mandatory)"
    count = 0
    for category, items in grouped_items(reply):
        if category:
            body.append(
                {
                    "type": "TextBlock",
                    "text": category,
                    "weight": "Bolder",
                    "wrap": True,
                    "spacing": "Medium",
                }
            )
        for item in items:
            count += 1
            if count > limit:
                continue
            title = str(item["question"]).strip() + (must if item.get("mandatory") else "")
            body.append(
                {
                    "type": "Input.Toggle",
                    "id": f"item_{count}",
                    "title": cut(title, 400),
                    "value": "false",
                    "wrap": True,
                }
            )
            basis = item_basis(item)
            if basis:
                body.append(
                    {
                        "type": "TextBlock",
                        "text": basis,
                        "isSubtle": True,
                        "size": "Small",
                        "wrap": True,
                        "spacing": "None",
                    }
                )
    if count > limit:
        body.append({"type": "TextBlock", "text": f"… +{count - limit}", "isSubtle": True})
    return {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5",
            "body": body,
        },
    }


def render(reply: Reply) -> dict[str, Any]:
    if reply.kind == "answer":
        body = answer_body(reply)
        for chars in (20000, 8000, 3000):
            activity = _message(cut(body, chars), reply)
            if _size(activity) <= MAX_BYTES:
                return activity
        return activity
    if reply.kind == "checklist" and checklist_items(reply):
        for limit in (80, 40, 15):
            activity = _message(
                checklist_title(reply), reply, attachments=[_checklist_card(reply, limit)]
            )
            if _size(activity) <= MAX_BYTES:
                return activity
        return activity
    return _message(cut(markdown_reply(reply), 8000), reply)
