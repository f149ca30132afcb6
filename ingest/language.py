"""Cheap language detection: Chinese or English, by counting characters.

Used for queries (to answer in the asker's language) and for files without a manifest row. The
corpus is bilingual EN/ZH only, so a character-class count is enough and costs microseconds; a
statistical detector would add a dependency and misjudge short queries such as "1926.501 是什么".
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

#: how much of a long text to look at; the head of a document is representative enough
_SAMPLE_CHARS = 4000


def detect_language(text: str) -> str:
    """``"zh"`` when Chinese characters outweigh English words, else ``"en"``.

    One Chinese character is weighed against one English word (a Chinese word is one to two
    characters), so a mixed query such as "什么是 lockout/tagout" counts as Chinese and
    "What does 安全生产法 say about training?" as English. Text with neither is ``"en"``.
    """
    sample = text[:_SAMPLE_CHARS]
    cjk = len(_CJK.findall(sample))
    if cjk == 0:
        return "en"
    words = len(_LATIN_WORD.findall(sample))
    return "zh" if cjk >= words else "en"


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among the non-space characters of ``text`` (0.0 for empty)."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return len(_CJK.findall("".join(chars))) / len(chars)
