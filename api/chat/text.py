"""Words and markdown every renderer shares: sources, refusals, checklists, size guards.

Pure functions of the :class:`~api.chat.core.Reply`; each platform's ``render.py`` arranges
these pieces in its own format and keeps the result inside the platform's limits. Only fields
of the Answer and checklist dicts reach a user, never an exception's text.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from api.chat.core import Reply


def zh(reply_or_lang: Reply | str) -> bool:
    lang = reply_or_lang if isinstance(reply_or_lang, str) else reply_or_lang.language
    return lang == "zh"


def cut(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` within ``limit`` characters, cut at a line or word end where one is close."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(ellipsis))
    head = text[:room]
    for sep in ("\n", " ", "。", "；"):
        i = head.rfind(sep)
        if i > room * 0.8:
            head = head[: i + (1 if sep in "。；" else 0)]
            break
    return head.rstrip() + ellipsis


def cut_bytes(text: str, limit: int, ellipsis: str = "…") -> str:
    """``text`` within ``limit`` UTF-8 bytes (WeCom counts bytes), never splitting a character."""
    if len(text.encode()) <= limit:
        return text
    room = limit - len(ellipsis.encode())
    head = text.encode()[: max(0, room)].decode("utf-8", errors="ignore")
    return cut(head, len(head) - 1 if len(head) > 1 else 0, "") + ellipsis


def thinking(lang: str) -> str:
    return "正在查找相关条文…" if lang == "zh" else "Looking that up in the regulations…"


def sorry(lang: str) -> str:
    """The whole of what a user sees when answering failed."""
    return (
        "抱歉，这次没能生成回答。请稍后再试；如果问题持续，请联系管理员。"
        if lang == "zh"
        else "Sorry, I could not answer that just now. Please try again in a minute; "
        "if it keeps happening, tell your administrator."
    )


def help_text(lang: str) -> str:
    if lang == "zh":
        return (
            "你好，我是安全助手 Anquan。直接问安全生产问题即可，例如“脚手架作业需要哪些防护？”；"
            "要一份检查表，发送“清单：脚手架”。回答都注明依据条款。"
        )
    return (
        'Hi, I am Anquan, the safety assistant. Ask a safety question, e.g. "When is fall '
        'protection required?", or send "checklist: scaffolds" for a checklist. Every answer '
        "cites the clauses it rests on."
    )


def refusal_lead(lang: str) -> str:
    return (
        "抱歉，知识库里没有足以回答这个问题的条文，我不想猜。"
        if lang == "zh"
        else "Sorry, I could not find clauses that answer this, and I would rather not guess."
    )


def citations(reply: Reply) -> list[dict[str, Any]]:
    cites = reply.data.get("citations") or []
    return [c for c in cites if isinstance(c, dict)]


def source_label(c: dict[str, Any], limit: int = 160) -> str:
    """ "安全生产法 第四十一条" / "29 CFR 1926 Subpart M 1926.501(b)(1), p. 3"."""
    source = str(c.get("source") or "").split("#")[0]
    title = str(c.get("title") or PurePosixPath(source).stem).strip()
    locator = str(c.get("locator") or "").strip()
    label = f"{title} {locator}".strip() if locator and locator not in title else title
    page = c.get("page")
    if page not in (None, ""):
        label += f", p. {page}"
    return cut(label, limit)


def source_lines(reply: Reply, quote_chars: int = 0, limit: int = 20) -> list[str]:
    """``[n] label`` per citation, with the start of its quote when ``quote_chars``."""
    lines: list[str] = []
    for c in citations(reply)[:limit]:
        n = c.get("n", len(lines) + 1)
        line = f"[{n}] {source_label(c)}"
        quote = " ".join(str(c.get("quote") or "").split())
        if quote_chars and quote:
            line += f": “{cut(quote, quote_chars)}”"
        lines.append(line)
    return lines


def answer_body(reply: Reply) -> str:
    """The answer text, or for a refusal a polite lead, the reason and the nearest clauses."""
    text = str(reply.data.get("answer") or "").strip()
    if not reply.refused:
        return text
    lang = reply.language
    reason = str(reply.data.get("reason") or "").strip()
    parts = [refusal_lead(lang)]
    if reason:
        parts.append(("原因：" if lang == "zh" else "Why: ") + reason)
    if text and text not in parts[0]:
        parts.append(text)
    return "\n\n".join(parts)


def sources_heading(reply: Reply) -> str:
    n = len(citations(reply))
    return f"依据（{n}）" if zh(reply) else f"Sources ({n})"


def markdown_answer(reply: Reply, quote_chars: int = 0) -> str:
    """Plain markdown: the answer, then its sources as a list (DingTalk, WeCom, webhook)."""
    body = answer_body(reply)
    lines = source_lines(reply, quote_chars)
    if lines:
        body += f"\n\n**{sources_heading(reply)}**\n" + "\n".join(f"- {s}" for s in lines)
    return body


def checklist_items(reply: Reply) -> list[dict[str, Any]]:
    items = reply.data.get("items") or []
    return [i for i in items if isinstance(i, dict) and i.get("question")]


def checklist_title(reply: Reply) -> str:
    title = str(reply.data.get("title") or "").strip()
    if title:
        return title
    return f"检查表：{reply.question}" if zh(reply) else f"Checklist: {reply.question}"


def item_basis(item: dict[str, Any], limit: int = 2) -> str:
    basis = [b for b in item.get("basis") or [] if isinstance(b, dict)]
    return "; ".join(source_label(b, 80) for b in basis[:limit])


def item_line(item: dict[str, Any], lang: str, box: str = "☐") -> str:
    must = ("（必查）" if lang == "zh" else " (mandatory)") if item.get("mandatory") else ""
    basis = item_basis(item)
    line = f"{box} {str(item['question']).strip()}{must}"
    return f"{line} — {basis}" if basis else line


def grouped_items(reply: Reply) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in checklist_items(reply):
        groups.setdefault(str(item.get("category") or ""), []).append(item)
    return list(groups.items())


def markdown_checklist(reply: Reply) -> str:
    if not checklist_items(reply):
        return (
            f"没有找到“{reply.question}”的检查依据。换个说法试试，例如“清单：脚手架”。"
            if zh(reply)
            else f"I found no clauses to build a checklist on “{reply.question}”. "
            "Try another wording, e.g. “checklist: scaffolds”."
        )
    out = [f"**{checklist_title(reply)}**"]
    for category, items in grouped_items(reply):
        if category:
            out.append(f"\n**{category}**")
        out.extend(f"- {item_line(i, reply.language)}" for i in items)
    return "\n".join(out)


def markdown_reply(reply: Reply, quote_chars: int = 0) -> str:
    """Any reply as markdown: the fallback text every platform can show."""
    if reply.kind == "answer":
        return markdown_answer(reply, quote_chars)
    if reply.kind == "checklist":
        return markdown_checklist(reply)
    if reply.kind == "help":
        return help_text(reply.language)
    return sorry(reply.language)


def fit_lines(head: str, lines: list[str], limit: int, tail: str = "") -> str:
    """``head`` and as many of ``lines`` as fit in ``limit`` characters, then a count of
    what was left out (a long checklist keeps its first items rather than breaking)."""
    out = head
    for i, line in enumerate(lines):
        more = f"\n… +{len(lines) - i}"
        if len(out) + 1 + len(line) + len(more) + len(tail) > limit:
            return cut(out + more + tail, limit)
        out += "\n" + line
    return cut(out + tail, limit)
