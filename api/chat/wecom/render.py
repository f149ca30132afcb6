"""WeCom messages: ``markdown`` (≤ 4,096 bytes), a ``template_card`` with 👍/👎 buttons (the app
gets a ``template_card_event`` back), and AI-bot ``stream`` replies (≤ 20,480 bytes)."""

from __future__ import annotations

from typing import Any

from api.chat.core import Reply
from api.chat.text import cut_bytes, markdown_reply, zh

MAX_MARKDOWN_BYTES = 4096
MAX_STREAM_BYTES = 20480


def markdown(reply: Reply) -> str:
    text = markdown_reply(reply, quote_chars=80)
    # WeCom markdown can colour a line: a refusal or an error should not look like an answer
    if reply.refused or reply.kind == "error":
        first, _, rest = text.partition("\n")
        text = f'<font color="warning">{first}</font>' + (f"\n{rest}" if rest else "")
    return cut_bytes(text, MAX_MARKDOWN_BYTES)


def feedback_card(reply: Reply) -> dict[str, Any] | None:
    """A small button card under an answer: the only way a WeCom app message can take a vote."""
    if not reply.answer_id or reply.kind not in ("answer", "checklist"):
        return None
    return {
        "card_type": "button_interaction",
        "main_title": {"title": "这个回答有帮助吗？" if zh(reply) else "Was this helpful?"},
        "task_id": reply.answer_id,
        "button_list": [
            {"text": "👍", "style": 1, "key": f"vote:up:{reply.answer_id}"},
            {"text": "👎", "style": 2, "key": f"vote:down:{reply.answer_id}"},
        ],
    }


def stream(stream_id: str, content: str, finish: bool) -> dict[str, Any]:
    return {
        "msgtype": "stream",
        "stream": {
            "id": stream_id,
            "finish": finish,
            "content": cut_bytes(content, MAX_STREAM_BYTES),
        },
    }


def stream_text(reply: Reply) -> str:
    return cut_bytes(markdown_reply(reply, quote_chars=120), MAX_STREAM_BYTES)
