"""DingTalk messages: markdown (its subset: no tables), or an ActionCard whose 👍/👎 buttons are
signed links to ``/chat/vote`` (ActionCard buttons can only open a URL)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from api.chat.core import Reply, link_signature
from api.chat.text import cut, markdown_reply, zh

#: kept well under DingTalk's message size (its documented limit is 20,000 bytes, unconfirmed
#: for sessionWebhook replies); long checklists are cut with a count of what was left out
MAX_TEXT = 4000


def vote_links(
    reply: Reply, public_url: str | None, link_secret: str | None
) -> list[dict[str, str]]:
    if not (reply.answer_id and public_url and link_secret):
        return []
    base = public_url.rstrip("/") + "/chat/vote?"
    out = []
    for vote, title in (
        (1, "👍 有用" if zh(reply) else "👍 Helpful"),
        (-1, "👎 没用" if zh(reply) else "👎 Not helpful"),
    ):
        query = urlencode(
            {
                "a": reply.answer_id,
                "v": vote,
                "s": link_signature(link_secret, reply.answer_id, vote),
            }
        )
        out.append({"title": title, "actionURL": base + query})
    return out


def render(
    reply: Reply,
    at_user: str | None = None,
    public_url: str | None = None,
    link_secret: str | None = None,
) -> dict[str, Any]:
    text = cut(markdown_reply(reply, quote_chars=120), MAX_TEXT)
    title = "安全助手" if zh(reply) else "Anquan"
    buttons = (
        vote_links(reply, public_url, link_secret) if reply.kind in ("answer", "checklist") else []
    )
    if buttons:
        msg: dict[str, Any] = {
            "msgtype": "actionCard",
            "actionCard": {"title": title, "text": text, "btnOrientation": "1", "btns": buttons},
        }
    else:
        msg = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if at_user:
        msg["at"] = {"atUserIds": [at_user], "isAtAll": False}
    return msg
