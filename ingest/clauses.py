"""Clause references: Chinese numerals, references found in a question, locator matching.

A question that names a clause ("安全生产法第41条", "1926.502(d)", "Section 5(a)(1) of the OSH
Act") should be answered from that clause, so search can look the locator up directly instead of
hoping the embedding finds it. The locators produced here follow the same conventions as the
chunker (``第四十一条``, ``1926.502(d)``, ``SEC. 5(a)(1)``, ``GB 30871-2022``), and
:func:`locator_matches` is the one rule, shared by search and the evals, that says whether a chunk
starting at one locator lies inside another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = {
    "零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_DIGIT_CHARS = "零一二三四五六七八九"

#: a number as Chinese statutes write it, or in Arabic digits
CN_NUMBER = r"[零〇○一二三四五六七八九十百千万两]+|\d+"


def cn_to_int(text: str) -> int:
    """``"一百零二"`` → 102, ``"十"`` → 10, ``"41"`` → 41, ``"二〇二二"`` → 2022.

    Raises ``ValueError`` for anything that is not a number.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty numeral")
    if text.isdigit():
        return int(text)
    if not any(ch in _UNITS for ch in text):  # digit by digit, as in years: 二〇二二
        try:
            return int("".join(str(_DIGITS[ch]) for ch in text))
        except KeyError as exc:
            raise ValueError(f"not a Chinese numeral: {text!r}") from exc
    total = section = num = 0
    for ch in text:
        if ch in _DIGITS:
            num = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit == 10000:
                total += (section + num) * unit
                section = 0
            else:
                section += (num or 1) * unit
            num = 0
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + section + num


def int_to_cn(n: int) -> str:
    """102 → ``"一百零二"``, 10 → ``"十"``, 110 → ``"一百一十"``: the form statutes use."""
    if n < 0 or n >= 100000:
        raise ValueError(f"out of range: {n}")
    if n < 10:
        return _DIGIT_CHARS[n]
    if n < 20:
        return "十" + (_DIGIT_CHARS[n % 10] if n % 10 else "")
    out = ""
    zero_pending = False
    started = False
    for value, name in ((10000, "万"), (1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, value)
        if q:
            if zero_pending:
                out += "零"
                zero_pending = False
            out += _DIGIT_CHARS[q] + name
            started = True
        elif started and n:
            zero_pending = True
    if n:
        out += ("零" if zero_pending else "") + _DIGIT_CHARS[n]
    return out


def to_cn_numeral(text: str) -> str:
    """Arabic digits → Chinese numerals; Chinese numerals are returned as they are."""
    return int_to_cn(int(text)) if text.isdigit() else text


@dataclass(frozen=True)
class ClauseRef:
    """A clause named in a question: its locator and, when given, the document it belongs to."""

    locator: str
    doc_hint: str | None = None


_ART = re.compile(
    rf"第\s*({CN_NUMBER})\s*条(?:\s*之\s*([一二三四五六七八九十]+))?"
    rf"(?:\s*第\s*({CN_NUMBER})\s*款)?"
    rf"(?:\s*第\s*[（(]?\s*({CN_NUMBER})\s*[)）]?\s*项)?"
)
_EN_ARTICLE = re.compile(
    r"\bArt(?:icle|\.)\s*(\d{1,3})(?:\s*\((\d{1,2})\))?"
    r"(?:\s+of\s+(?:the\s+)?(?:PRC\s+|China'?s?\s+)?"
    r"((?:[A-Z][\w-]*\s+(?:on\s+|and\s+|of\s+)?){0,8}(?:Law|Act|Regulations?|Provisions)))?"
)
_CFR = re.compile(
    r"(?:\b\d{1,2}\s*C\.?F\.?R\.?\s*(?:(?:Part|part|§+)\s*)?|§+\s*)?"
    r"(?<![\d.])(19\d\d\.\d{1,4}[a-z]?)(?![\d.]\d)"
    r"((?:\((?:[a-z]{1,2}|[ivxl]{1,6}|\d{1,3}|[A-Z])\))*)"
)
_SEC = re.compile(
    r"\b(?:SEC\.|Sec\.|sec\.|SECTION|Section|section)\s*(\d{1,3}[A-Za-z]?)(?![\d.]*\d)"
    r"((?:\((?:[a-z]{1,2}|[ivxl]{1,6}|\d{1,3}|[A-Z])\))*)"
)
_OSH_ACT = re.compile(r"OSH\s*Act|Occupational Safety and Health Act", re.IGNORECASE)
#: hints are matched against document titles, so they name documents as their titles do
_OSH_ACT_TITLE = "Occupational Safety and Health Act"
#: English names of Chinese laws, as questions in English give them
_EN_LAW_NAMES = {
    "work safety law": "安全生产法",
    "production safety law": "安全生产法",
    "law on work safety": "安全生产法",
    "law on production safety": "安全生产法",
    "fire protection law": "消防法",
    "fire control law": "消防法",
    "mine safety law": "矿山安全法",
    "occupational disease prevention and control law": "职业病防治法",
    "law on prevention and control of occupational diseases": "职业病防治法",
    "special equipment safety law": "特种设备安全法",
    "construction law": "建筑法",
    "labor law": "劳动法",
    "labour law": "劳动法",
    "coal law": "煤炭法",
    "emergency response law": "突发事件应对法",
    "hazardous chemicals safety law": "危险化学品安全法",
}
_STANDARD = re.compile(
    r"\b(GBZ|GB|AQ|JGJ|DL|SY|HG|MT|NB|JB|WS|TSG|SH|CJJ|GA|XF)(\s*/\s*T)?\s*"
    r"([A-Z]?\d{1,6}(?:\.\d{1,3})?)(?:\s*[-—–－]\s*(\d{2,4}))?\b"
)
_TITLE_SUFFIX = re.compile(r"(?:法|条例|规定|办法|细则|规则|规程|决定|解释|标准|规范)")
_HINT_PREFIXES = (
    "请问", "根据", "依据", "依照", "按照", "关于", "对于", "查询", "查一下", "请解释", "解释",
    "说明", "我国", "中华人民共和国",
)  # fmt: skip
_SELF_REFERENCES = {"本法", "本条例", "本规定", "本办法", "本细则", "本规则", "本规程", "本决定"}
_HINT_JOINERS = re.compile(r"^[\s、，,和及与或以及至到\-—~～]*$")


def _cn_hint(before: str) -> str | None:
    """The law a Chinese article reference belongs to, from the text right before it."""
    before = before.rstrip()
    quoted = re.search(r"《([^》]{1,60})》\s*(?:的)?$", before)
    if quoted:
        return _clean_hint(quoted.group(1))
    run = re.search(r"[\u4e00-\u9fff（）()]+$", before)
    if not run:
        return None
    text = run.group(0)
    ends = [m.end() for m in _TITLE_SUFFIX.finditer(text)]
    if not ends:
        return None
    hint = text[: ends[-1]]
    if hint.endswith("法规定") and len(hint) > 3:  # "安全生产法规定的第…": the law, then a verb
        hint = hint[: -len("规定")]
    return _clean_hint(hint)


def _clean_hint(hint: str) -> str | None:
    hint = hint.strip()
    changed = True
    while changed:
        changed = False
        for prefix in _HINT_PREFIXES:
            if hint.startswith(prefix) and len(hint) > len(prefix) + 1:
                hint = hint[len(prefix) :]
                changed = True
    if len(hint) < 2 or hint in _SELF_REFERENCES:
        return None
    return hint


def find_clause_refs(query: str) -> list[ClauseRef]:
    """Every clause reference in ``query``, in order of appearance, without duplicates.

    >>> find_clause_refs("《安全生产法》第41条和29 CFR 1910.146(c)(2)")
    [ClauseRef(locator='第四十一条', doc_hint='安全生产法'), ClauseRef(locator='1910.146(c)(2)', doc_hint=None)]
    """
    found: list[tuple[int, ClauseRef]] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(start: int, end: int, ref: ClauseRef) -> None:
        if free(start, end):
            taken.append((start, end))
            found.append((start, ref))

    for m in _STANDARD.finditer(query):
        code = m.group(1) + ("/T" if m.group(2) else "") + " " + m.group(3)
        if m.group(4):
            code += "-" + m.group(4)
        add(m.start(), m.end(), ClauseRef(code, None))

    for m in _CFR.finditer(query):
        add(m.start(), m.end(), ClauseRef(m.group(1) + m.group(2), None))

    for m in _SEC.finditer(query):
        window = query[max(0, m.start() - 25) : m.end() + 45]
        hint = _OSH_ACT_TITLE if _OSH_ACT.search(window) else None
        add(m.start(), m.end(), ClauseRef(f"SEC. {m.group(1)}{m.group(2)}", hint))

    last_end = 0
    last_hint: str | None = None
    for m in _ART.finditer(query):
        locator = _article_locator(m.group(1), m.group(2), m.group(3), m.group(4))
        hint = _cn_hint(query[last_end : m.start()])
        if hint is None and last_hint and _HINT_JOINERS.match(query[last_end : m.start()]):
            hint = last_hint  # "安全生产法第四十一条、第四十二条"
        add(m.start(), m.end(), ClauseRef(locator, hint))
        last_end, last_hint = m.end(), hint

    for m in _EN_ARTICLE.finditer(query):
        locator = _article_locator(m.group(1), None, m.group(2), None)
        name = m.group(3)
        add(
            m.start(),
            m.end(),
            ClauseRef(locator, _EN_LAW_NAMES.get(name.lower(), name) if name else None),
        )

    refs: list[ClauseRef] = []
    for _, ref in sorted(found, key=lambda item: item[0]):
        if ref not in refs:
            refs.append(ref)
    return refs


def _article_locator(article: str, zhi: str | None, kuan: str | None, xiang: str | None) -> str:
    locator = f"第{to_cn_numeral(article)}条"
    if zhi:
        locator += f"之{zhi}"
    if kuan:
        locator += f"第{to_cn_numeral(kuan)}款"
    if xiang:
        locator += f"第{to_cn_numeral(xiang)}项"
    return locator


_ARABIC_ORDINAL = re.compile(r"第(\d+)(条|款|项|章|节)")
_BOUNDARY = "(第"


def normalise_locator(locator: str) -> str:
    """One spelling per locator: no "§", ASCII brackets, Chinese numerals, single spaces."""
    text = locator.strip().replace("（", "(").replace("）", ")").replace("§", "")
    text = _ARABIC_ORDINAL.sub(lambda m: f"第{int_to_cn(int(m.group(1)))}{m.group(2)}", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s+", "", text)
    text = re.sub(r"\s*\(\s*", "(", text)
    text = re.sub(r"\s*\)", ")", text)
    text = re.sub(r"^(?:SEC\.|Sec\.|SECTION|Section)\s*(?=\d)", "SEC. ", text)
    return text.rstrip(".。:：").strip()


def locator_matches(chunk_locator: str, gold_locator: str) -> bool:
    """Whether a chunk starting at ``chunk_locator`` lies inside the clause ``gold_locator``.

    True when the chunk locator starts with the gold one at a label boundary: ``1926.501``
    matches ``1926.501(b)(1)`` and ``第二十一条`` matches ``第二十一条第二款``, but ``1926.50``
    does not match ``1926.501`` and ``第十条`` does not match ``第十条之一``.
    """
    chunk = normalise_locator(chunk_locator).casefold()
    gold = normalise_locator(gold_locator).casefold()
    if not gold or not chunk.startswith(gold):
        return False
    rest = chunk[len(gold) :]
    if not rest or rest[0] in _BOUNDARY:
        return True
    if rest[0] == ".":  # a numbered sub-clause ("4.2" → "4.2.1"), never "1926.50" → "1926.501"
        return rest[1:2].isdigit() and gold[-1:].isdigit()
    # a section's appendix belongs to it; heading text ("Inspection" → "Inspection Plan") does not
    return rest.startswith(" appendix")
