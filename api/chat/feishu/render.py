"""Feishu cards, JSON 2.0 (≤ 30 KB): the answer in markdown, its sources in a collapsed panel,
👍/👎 callback buttons; checklists as ``checker`` elements a person can tick."""

from __future__ import annotations

import json
from typing import Any

from api.chat.core import Reply
from api.chat.text import (
    answer_body,
    checklist_items,
    checklist_title,
    cut,
    grouped_items,
    help_text,
    item_basis,
    markdown_checklist,
    sorry,
    source_lines,
    sources_heading,
    zh,
)

MAX_CARD_BYTES = 30 * 1024
MAX_CHECKERS = 80


def _md(text: str) -> dict[str, Any]:
    return {"tag": "markdown", "content": text}


def _card(title: str, template: str, elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "width_mode": "fill"},
        "header": {"title": {"tag": "plain_text", "content": title}, "template": template},
        "body": {"elements": elements},
    }


def _buttons(reply: Reply) -> dict[str, Any]:
    def button(label: str, vote: str) -> dict[str, Any]:
        return {
            "tag": "column",
            "width": "auto",
            "elements": [
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": label},
                    "type": "default",
                    "size": "small",
                    "behaviors": [
                        {
                            "type": "callback",
                            "value": {"anquan_vote": vote, "answer_id": reply.answer_id},
                        }
                    ],
                }
            ],
        }

    return {"tag": "column_set", "columns": [button("👍", "up"), button("👎", "down")]}


def _sources_panel(reply: Reply, quote_chars: int) -> dict[str, Any] | None:
    lines = source_lines(reply, quote_chars)
    if not lines:
        return None
    return {
        "tag": "collapsible_panel",
        "expanded": False,
        "header": {"title": {"tag": "markdown", "content": f"**{sources_heading(reply)}**"}},
        "elements": [_md("\n".join(lines))],
    }


def _size(card: dict[str, Any]) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


def answer_card(reply: Reply) -> dict[str, Any]:
    title = "安全助手" if zh(reply) else "Anquan"
    template = "orange" if reply.refused else "blue"
    body = answer_body(reply)
    for quote_chars, body_chars in ((300, 20000), (120, 12000), (0, 6000), (0, 2000)):
        elements: list[dict[str, Any]] = [_md(cut(body, body_chars))]
        panel = _sources_panel(reply, quote_chars)
        if panel:
            elements.append(panel)
        if reply.answer_id:
            elements.append(_buttons(reply))
        card = _card(title, template, elements)
        if _size(card) <= MAX_CARD_BYTES:
            return card
    return card


def checklist_card(reply: Reply) -> dict[str, Any]:
    if not checklist_items(reply):
        return _card(checklist_title(reply), "orange", [_md(markdown_checklist(reply))])
    must = "（必查）" if zh(reply) else " (mandatory)"
    for limit, basis in ((MAX_CHECKERS, True), (MAX_CHECKERS, False), (30, False)):
        elements: list[dict[str, Any]] = []
        count = 0
        for category, items in grouped_items(reply):
            if category:
                elements.append(_md(f"**{category}**"))
            for item in items:
                count += 1
                if count > limit:
                    break
                label = str(item["question"]).strip() + (must if item.get("mandatory") else "")
                if basis and item_basis(item):
                    label += f" — {item_basis(item)}"
                elements.append(
                    {
                        "tag": "checker",
                        "element_id": f"item_{count}",
                        "checked": False,
                        "text": {"tag": "plain_text", "content": cut(label, 500)},
                    }
                )
        if count > limit:
            elements.append(_md(f"… +{count - limit}"))
        if reply.answer_id:
            elements.append(_buttons(reply))
        card = _card(checklist_title(reply), "green", elements)
        if _size(card) <= MAX_CARD_BYTES:
            return card
    return card


def render(reply: Reply) -> dict[str, Any]:
    if reply.kind == "answer":
        return answer_card(reply)
    if reply.kind == "checklist":
        return checklist_card(reply)
    if reply.kind == "help":
        return _card("Anquan", "blue", [_md(help_text(reply.language))])
    return _card("Anquan", "red", [_md(sorry(reply.language))])
