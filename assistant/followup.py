"""Follow-up questions: "and for scaffolds?" after a question about guardrails on floors.

A follow-up leans on the previous question for its topic, so it is rewritten into a question
that stands alone before it is searched. The rewrite is deterministic (no model call, so it
costs nothing on a CPU): a follow-up's new subject replaces the matching phrase of the last
question ("for floors" → "for scaffolds"); when no phrase matches, the two are joined so
search sees both the topic and the new subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_EN_FOLLOWUP = re.compile(
    r"^\s*(?:and|but|also|what about|how about|and what about|same for|what if)\b[\s,]*"
    r"(?:(?P<prep>for|on|in|with|about|at|under|to)\s+)?(?P<subject>.+?)[\s?.!]*$",
    re.IGNORECASE,
)
_ZH_FOLLOWUP = re.compile(
    r"^\s*(?:那么?|那|还有|另外|如果是|如果|换成|要是)?\s*(?P<subject>.+?)\s*"
    r"(?:呢|怎么样|怎么办|又如何|如何|也是这样吗|也一样吗|也适用吗)\s*[？?。！!]*$"
)
_PREPOSITIONS = r"\b(?:for|on|in|at|with|under|near|during|inside|around|about)\s+"
_PRONOUN = re.compile(
    r"\b(it|its|they|them|those|that one|this one|the same)\b|它|它们|这个|那个|上述|同样", re.I
)


def history_questions(history: Sequence[Any] | None) -> list[str]:
    """The user's earlier questions, oldest first, from ``["q1", ...]`` or
    ``[{"role": "user", "content": "q1"}, {"role": "assistant", ...}, ...]``."""
    out: list[str] = []
    for turn in history or ():
        if isinstance(turn, str):
            out.append(turn)
        elif isinstance(turn, dict) and turn.get("role", "user") == "user":
            text = turn.get("content") or turn.get("question") or ""
            if text:
                out.append(str(text))
    return out


def is_followup(question: str) -> bool:
    q = question.strip()
    if _EN_FOLLOWUP.match(q) or _ZH_FOLLOWUP.match(q) and len(q) <= 20:
        return True
    words = re.findall(r"[A-Za-z]+", q)
    short = len(words) <= 4 if words else len(q) <= 8
    return short or bool(_PRONOUN.search(q)) and len(q) <= 60


def standalone_query(question: str, history: Sequence[Any] | None = None) -> str:
    """``question`` rewritten to stand alone, using the last question of ``history``."""
    previous = history_questions(history)
    if not previous or not is_followup(question):
        return question
    last = previous[-1]
    q = question.strip()
    m = _EN_FOLLOWUP.match(q)
    if m and re.search(r"[A-Za-z]", last):
        subject, prep = m.group("subject").strip(), m.group("prep")
        if prep:
            # the previous question's last prepositional phrase names what changes:
            # "... for guardrails on floors?" + "and for scaffolds?" → "... on scaffolds?"
            spots = list(re.finditer(_PREPOSITIONS, last, flags=re.I))
            if spots:
                start = spots[-1].end()
                stop = re.search(r"[,;?.!]|$", last[start:])
                end = start + (stop.start() if stop else 0)
                return f"{last[:start]}{subject}{last[end:]}"
        return f"{last.rstrip(' ?？。.')} — {subject}?"
    z = _ZH_FOLLOWUP.match(q)
    if z:
        subject = z.group("subject").strip()
        return f"{last.rstrip('？?。')}（{subject}）？"
    return f"{last.rstrip(' ?？。.')} {q}"
