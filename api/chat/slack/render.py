"""Slack messages: a ``markdown`` block (≤ 12,000 characters) for the answer, sources in
``context`` blocks (≤ 10 elements each), 👍/👎 buttons carrying the answer id, and always a
plain ``text`` fallback for notifications; at most 50 blocks."""

from __future__ import annotations

from typing import Any

from api.chat.core import Reply
from api.chat.text import (
    answer_body,
    checklist_items,
    checklist_title,
    cut,
    fit_lines,
    grouped_items,
    item_line,
    markdown_reply,
    source_lines,
    zh,
)

MAX_MARKDOWN = 12000
MAX_CONTEXT_TEXT = 3000
MAX_TEXT = 3000
MAX_BLOCKS = 50


def mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _buttons(reply: Reply) -> dict[str, Any]:
    def button(label: str, vote: str) -> dict[str, Any]:
        return {
            "type": "button",
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "action_id": f"anquan_vote_{vote}",
            "value": reply.answer_id,
        }

    return {"type": "actions", "elements": [button("👍", "up"), button("👎", "down")]}


def _sources(reply: Reply) -> list[dict[str, Any]]:
    lines = [mrkdwn_escape(s) for s in source_lines(reply, quote_chars=160)]
    blocks = []
    for i in range(0, min(len(lines), 20), 10):
        elements = [{"type": "mrkdwn", "text": cut(s, MAX_CONTEXT_TEXT)} for s in lines[i : i + 10]]
        blocks.append({"type": "context", "elements": elements})
    return blocks


def render(reply: Reply) -> dict[str, Any]:
    """``{"text", "blocks"}`` for ``chat.postMessage`` or a ``response_url``."""
    blocks: list[dict[str, Any]] = []
    if reply.kind == "answer":
        blocks.append({"type": "markdown", "text": cut(answer_body(reply), MAX_MARKDOWN)})
        blocks.extend(_sources(reply))
    elif reply.kind == "checklist" and checklist_items(reply):
        blocks.append(
            {
                "type": "header",
                "text": {"type": "plain_text", "text": cut(checklist_title(reply), 150)},
            }
        )
        lines: list[str] = []
        for category, items in grouped_items(reply):
            if category:
                lines.append(f"\n**{category}**")
            lines.extend(f"- {item_line(i, reply.language)}" for i in items)
        blocks.append({"type": "markdown", "text": fit_lines("", lines, MAX_MARKDOWN).lstrip("\n")})
    else:
        blocks.append({"type": "markdown", "text": cut(markdown_reply(reply), MAX_MARKDOWN)})
    if reply.answer_id and reply.kind in ("answer", "checklist"):
        blocks.append(_buttons(reply))
    fallback = markdown_reply(reply) if reply.kind != "answer" else answer_body(reply)
    lead = "安全助手：" if zh(reply) else "Anquan: "
    return {"text": cut(lead + fallback, MAX_TEXT), "blocks": blocks[:MAX_BLOCKS]}
