"""Soft filters a question implies: "美国工地…" asks about US rules, "in China…" about Chinese
ones, "有没有…的事故记录" about accident records.

Search runs its rankers a second time inside the implied subset and fuses those lists with the
unrestricted ones, so the subset comes first without hiding everything else. This is what makes
a Chinese question about OSHA rules find English clauses: on its own, the lexical ranker sees
only Chinese words and the dense one prefers text in the question's language.
"""

from __future__ import annotations

import re

_US = re.compile(
    r"美国|美方|OSHA|MSHA|联邦|\bCFR\b|(?-i:\bU\.?S\.?A?\b)|\bAmerican?\b|\bfederal\b",
    re.IGNORECASE,
)
_CN = re.compile(
    r"\bChina\b|\bChinese\b|\bPRC\b|\bBeijing\b|\bShanghai\b|\bShenzhen\b|\bZhejiang\b|\bShandong\b"
    r"|中国|我国|国内|国家规定",
    re.IGNORECASE,
)
_ACCIDENT = re.compile(
    r"事故(?:记录|案例|报告|经过)|(?:有没有|有无|是否有).{0,40}(?:事故|受伤|死亡|伤亡)"
    r"|怎么回事|怎么发生|发生了什么|什么原因导致"
    r"|\b(?:accident|incident|fatality|injury) (?:record|report|case)s?\b"
    r"|\b(?:is there|was there|any) (?:a |an )?(?:case|record|accident|incident)\b"
    r"|\bfind the (?:accident|incident|case|record)\b|\bwhat happened\b|\bwhat caused (?:it|this|that)\b"
    r"|\bhas (?:a|an|any) .{0,80}\bever\b",
    re.IGNORECASE,
)


def query_cues(query: str) -> dict[str, str]:
    """Filters the wording implies, e.g. ``{"jurisdiction": "US"}``; empty when it implies none."""
    cues: dict[str, str] = {}
    us, cn = bool(_US.search(query)), bool(_CN.search(query))
    if us != cn:  # a question comparing both asks for neither alone
        cues["jurisdiction"] = "US" if us else "CN"
    if _ACCIDENT.search(query):
        cues["doc_type"] = "accident"
    return cues
