"""Site words → the words the rules use, in the same language.

A supervisor asks about "hard hats", "the spoil pile" and "a forklift"; OSHA writes *head
protection*, *excavated or other materials* and *powered industrial truck*. Chinese rules say
从业人员 where a site says 工人. Neither BM25 nor the small bilingual embedder bridges such
pairs (see README "Evaluation"), so a question's site words are looked up here and the rule's
wording joins the lexical query and the coverage test (:mod:`assistant.retrieve`).

The lists are trade vocabulary, written from how the regulations in the starter corpus name
things: when they were written, the words of every phrase on the right occurred together in
some clause of the starter corpus. They widen what a question can match; they never narrow it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ingest.lexical import tokenize

#: English site word → phrases the rules use for it. Lowercase; plurals match by themselves.
EN: dict[str, tuple[str, ...]] = {
    # protective equipment
    "hard hat": ("head protection", "protective helmets"),
    "hardhat": ("head protection", "protective helmets"),
    "safety glasses": ("eye and face protection",),
    "goggles": ("eye and face protection",),
    "face shield": ("eye and face protection",),
    "earplug": ("hearing protection", "ear protective devices"),
    "ear muff": ("hearing protection", "ear protective devices"),
    "ear protection": ("hearing protection",),
    "steel toe": ("foot protection", "protective footwear"),
    "safety boot": ("foot protection", "protective footwear"),
    "safety shoe": ("foot protection", "protective footwear"),
    "gloves": ("hand protection",),
    "dust mask": ("respiratory protection", "respirator"),
    "ppe": ("personal protective equipment",),
    "safety vest": ("high-visibility", "warning vests"),
    "life jacket": ("personal flotation device",),
    # falls, edges, scaffolds, ladders
    "tie off": ("personal fall arrest system", "anchorage"),
    "tied off": ("personal fall arrest system", "anchorage"),
    "anchor point": ("anchorage",),
    "floor opening": ("hole", "floor holes"),
    "open edge": ("unprotected side and edge",),
    "unprotected edge": ("unprotected side and edge",),
    "railing": ("guardrail system", "stair rail"),
    "handrail": ("handrail", "stair rail"),
    "toe board": ("toeboards",),
    "kick plate": ("toeboards",),
    "rolling scaffold": ("mobile scaffolds",),
    "scaffold tower": ("mobile scaffolds",),
    "baker scaffold": ("mobile scaffolds",),
    "scissor lift": ("mobile scaffolds", "aerial lift"),
    "boom lift": ("aerial lift", "aerial device"),
    "man lift": ("aerial lift", "aerial device"),
    "manlift": ("aerial lift", "aerial device"),
    "cherry picker": ("aerial lift", "aerial device"),
    "bucket truck": ("aerial lift", "aerial device"),
    "cross brace": ("crossbraces",),
    "stepladder top": ("top step", "top cap"),
    "extension ladder": ("portable ladder",),
    "stairs": ("stairway",),
    "mezzanine": ("walking-working surface",),
    "loading dock": ("dockboard",),
    # excavations
    "spoil": ("excavated or other materials",),
    "spoil pile": ("excavated or other materials",),
    "dirt pile": ("excavated or other materials",),
    "trench box": ("shield system", "trench shield"),
    "shoring": ("support system", "shoring"),
    "sloping": ("sloping system",),
    "cave in": ("cave-in",),
    # cranes, vehicles, equipment
    "forklift": ("powered industrial truck",),
    "fork truck": ("powered industrial truck",),
    "lift truck": ("powered industrial truck",),
    "pallet jack": ("powered industrial truck",),
    "backs up": ("reverse signal alarm", "backing"),
    "backing up": ("reverse signal alarm", "backing"),
    "back up alarm": ("reverse signal alarm",),
    "backup alarm": ("reverse signal alarm",),
    "rear view": ("obstructed view to the rear",),
    "dump truck": ("haulage vehicle", "motor vehicle"),
    "excavator": ("earthmoving equipment",),
    "backhoe": ("earthmoving equipment",),
    "bulldozer": ("earthmoving equipment",),
    "front end loader": ("earthmoving equipment",),
    "rollover": ("rollover protective structures",),
    "rops": ("rollover protective structures",),
    "counterweight": ("swing radius", "hazard area"),
    "hand signal": ("signal person", "hand signals"),
    "crane signal": ("signal person",),
    "rigger": ("qualified rigger",),
    "ironworker": ("steel erection", "connector"),
    "roofer": ("roofing work",),
    "grinder": ("abrasive wheel",),
    "table saw": ("circular saw",),
    "nail gun": ("pneumatic power tools",),
    "jackhammer": ("pneumatic power tools",),
    "punch press": ("mechanical power presses", "point of operation"),
    "press brake": ("press brakes", "point of operation"),
    "pinch point": ("point of operation", "nip points"),
    # electrical
    "gfci": ("ground-fault circuit interrupter",),
    "gfi": ("ground-fault circuit interrupter",),
    "extension cord": ("flexible cords", "extension cord sets"),
    "power outlet": ("receptacle outlets",),
    "outlet": ("receptacle",),
    "temporary power": ("temporary wiring",),
    "live wire": ("energized",),
    "hot wire": ("energized",),
    "power line": ("overhead power lines", "energized lines"),
    "loto": ("lockout/tagout", "energy control"),
    "lock out": ("lockout", "energy control"),
    # confined spaces, fire, chemicals, health
    "manhole": ("permit-required confined space",),
    "vault": ("permit-required confined space",),
    "hole watch": ("attendant",),
    "fire watch": ("fire watch",),
    "hot work": ("welding, cutting", "hot work permit"),
    "torch": ("oxygen-fuel gas welding and cutting",),
    "gas cylinder": ("compressed gas cylinders",),
    "oxygen bottle": ("compressed gas cylinders",),
    "propane": ("liquefied petroleum gas",),
    "lpg": ("liquefied petroleum gas",),
    "msds": ("safety data sheet",),
    "sds": ("safety data sheet",),
    "hazcom": ("hazard communication",),
    "right to know": ("hazard communication",),
    "silica dust": ("respirable crystalline silica",),
    "exposure limit": ("permissible exposure limit",),
    "pel": ("permissible exposure limit",),
    "eyewash": ("quick drenching or flushing of the eyes",),
    "emergency shower": ("quick drenching",),
    "porta potty": ("toilet facilities",),
    "porta-john": ("toilet facilities",),
    "portable toilet": ("toilet facilities",),
    "toilet": ("toilet facilities",),
    "drinking water": ("potable water",),
    "first aid kit": ("first aid supplies",),
    "clinic": ("infirmary, clinic, or hospital",),
    "exit": ("exit routes", "means of egress"),
    "evacuation plan": ("emergency action plan",),
    "fire drill": ("emergency action plan",),
    # people, records, enforcement
    "my guys": ("employees",),
    "our guys": ("employees",),
    "the guys": ("employees",),
    "crew": ("employees",),
    "workers": ("employees",),
    "fingertip": ("amputation",),
    "hospitalized": ("in-patient hospitalization",),
    "killed": ("fatality",),
    "died": ("fatality",),
    "injury log": ("OSHA 300 Log",),
    "300 log": ("OSHA 300 Log",),
    "inspector": ("compliance safety and health officer", "CSHO"),
    "tip off": ("advance notice",),
    "heads up": ("advance notice",),
    "appeal": ("contest", "notice of contest"),
    "fight the citation": ("contest", "notice of contest"),
    "whistleblower": ("discrimination", "section 11(c)"),
    "retaliation": ("discrimination", "section 11(c)"),
}

#: Chinese site word → the wording of the laws and regulations.
ZH: dict[str, tuple[str, ...]] = {
    "老板": ("主要负责人", "生产经营单位"),
    "厂长": ("主要负责人",),
    "一把手": ("主要负责人",),
    "工人": ("从业人员",),
    "员工": ("从业人员",),
    "干活": ("作业",),
    "新工人": ("从业人员", "上岗"),
    "安全员": ("安全生产管理人员",),
    "上岗证": ("特种作业操作资格证书", "持证上岗"),
    "操作证": ("特种作业操作资格证书", "持证上岗"),
    "电工证": ("特种作业操作资格证书",),
    "焊工证": ("特种作业操作资格证书",),
    "电焊工": ("特种作业人员",),
    "电工": ("特种作业人员",),
    "叉车": ("场（厂）内专用机动车辆",),
    "吊车": ("起重机械",),
    "塔吊": ("起重机械",),
    "危化品": ("危险化学品",),
    "危险品": ("危险化学品",),
    "出事": ("生产安全事故",),
    "死人": ("死亡",),
    "死了": ("死亡",),
    "瞒着不报": ("瞒报",),
    "外包": ("发包", "承包"),
    "包工头": ("承包单位",),
    "派遣工": ("被派遣劳动者", "劳务派遣"),
    "加班": ("延长工作时间",),
    "孕妇": ("怀孕女职工", "孕期"),
    "童工": ("未满十六周岁",),
    "体检": ("职业健康检查",),
    "预案": ("应急预案",),
    "演习": ("应急演练",),
    "安全费用": ("安全生产费用",),
    "安全投入": ("安全生产费用", "资金投入"),
    "三同时": ("同时设计、同时施工、同时投入生产和使用",),
    "隐患整改": ("事故隐患", "排查治理"),
    "消防通道": ("消防车通道", "疏散通道"),
    "安全出口": ("安全出口", "疏散通道"),
    "劳保用品": ("劳动防护用品",),
    "防护用品": ("劳动防护用品",),
    "井下": ("矿山", "井下"),
    "煤气中毒": ("一氧化碳",),
    "罚多少": ("罚款",),
    "罚钱": ("罚款",),
}


def _en_pattern(term: str) -> re.Pattern[str]:
    body = re.escape(term).replace(r"\ ", r"[\s-]+")
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])", re.IGNORECASE)


_EN_PATTERNS = [(t, _en_pattern(t)) for t in sorted(EN, key=len, reverse=True)]
_EN_PATTERN_OF = dict(_EN_PATTERNS)
_ZH_TERMS = sorted(ZH, key=len, reverse=True)


def site_terms(question: str) -> list[tuple[str, tuple[str, ...]]]:
    """The site words in ``question`` (longest first, none inside another) with the rule's
    phrases for each."""
    found: list[tuple[str, tuple[str, ...]]] = []
    rest = question
    for term, pattern in _EN_PATTERNS:
        if pattern.search(rest):
            found.append((term, EN[term]))
            rest = pattern.sub(" ", rest)
    for term in _ZH_TERMS:
        if term in rest:
            found.append((term, ZH[term]))
            rest = rest.replace(term, " ")
    return found


def in_rule_words(question: str) -> str | None:
    """``question`` with its site words replaced by the rule's phrases ("steel toe boots" →
    "foot protection protective footwear boots"), or ``None`` when it has none."""
    found = site_terms(question)
    if not found:
        return None
    text = question
    for term, phrases in found:
        words = " ".join(phrases)
        if term in ZH:
            text = text.replace(term, f" {words} ")
        else:
            text = _EN_PATTERN_OF[term].sub(f" {words} ", text)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s+(?=[?.,!;:？。，！；：])", "", text).strip()


@lru_cache(maxsize=4096)
def _phrase_tokens(phrase: str) -> frozenset[str]:
    return frozenset(tokenize(phrase))


def alternatives(question: str) -> dict[str, list[set[str]]]:
    """Per token of a site word, the token sets of the rule's phrases standing for it: a passage
    that says *head protection* covers the question's "hard" and "hat"."""
    out: dict[str, list[set[str]]] = {}
    for term, phrases in site_terms(question):
        alts = [set(_phrase_tokens(p)) for p in phrases if _phrase_tokens(p)]
        for tok in tokenize(term, for_query=True):
            out.setdefault(tok, []).extend(alts)
    return out
