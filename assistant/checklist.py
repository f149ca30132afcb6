"""Inspection checklists drafted from the rules, every item cited to its clause.

``draft_checklist(kb, industry="construction", topic="scaffolds", jurisdiction="US")`` runs:

1. **expand** the topic into sub-topics (hazards, equipment, activities; :mod:`assistant.topics`);
2. **retrieve** clauses per sub-topic, keeping those that apply (jurisdiction, industry, a rule
   rather than guidance or a penalty) and that carry a normative word;
3. **split** each clause into provisions and turn each into a yes/no question **by rule**
   ("Are guardrails installed …?", "是否设置…？"; "yes" always means compliant);
4. **merge** near-duplicates (the same duty in two laws becomes one item with two bases);
5. **order** the items as an inspector walks the site (sub-topic stage, then clause order);
6. attach **lessons** from related accident records.

A chat model is optional (``rephrase``): it may only reword the questions; the basis is the
application's, never the model's. Without one (the ``extractive`` backend) every item is made by
rule, instantly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from assistant.topics import (
    STAGES,
    SubTopic,
    TopicEntry,
    find_entries,
    normalise_industry,
    topic_words,
)

Force = Literal["mandatory", "recommended"]
#: a chat model as the checklist sees it: a prompt in, text out
ChatFn = Callable[[str], str]

#: document types whose clauses an inspector checks against; guidance, court interpretations
#: and accident records are not obligations (accident records become lessons instead)
NOT_RULES = frozenset(
    {"guidance", "judicial_interpretation", "accident_records", "accident_report"}
)
ACCIDENT_TYPES = ("accident_report", "accident_records")


# ---------------------------------------------------------------------------------------------
# The checklist


@dataclass
class Basis:
    source: str
    locator: str
    page: int | None
    quote: str


@dataclass
class Lesson:
    source: str
    locator: str
    title: str
    quote: str


@dataclass
class ChecklistItem:
    id: str
    question: str
    category: str
    mandatory: bool
    basis: list[Basis] = field(default_factory=list)
    lessons: list[Lesson] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "category": self.category,
            "mandatory": self.mandatory,
            "basis": [asdict(b) for b in self.basis],
            "lessons": [asdict(le) for le in self.lessons],
        }


@dataclass
class Checklist:
    title: str
    industry: str
    topic: str
    jurisdiction: str
    language: str
    items: list[ChecklistItem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Exactly the published JSON shape (``anquan checklist --format json``)."""
        return {
            "title": self.title,
            "industry": self.industry,
            "topic": self.topic,
            "jurisdiction": self.jurisdiction,
            "language": self.language,
            "items": [i.to_dict() for i in self.items],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checklist:
        from ingest.errors import ConfigError

        missing = [k for k in ("title", "items") if k not in data]
        if missing:
            raise ConfigError(
                f"not a checklist: missing {', '.join(missing)}. Make one with "
                "'anquan checklist --industry X --topic Y --format json'"
            )
        items = []
        for n, raw in enumerate(data["items"], start=1):
            items.append(
                ChecklistItem(
                    id=str(raw.get("id") or n),
                    question=str(raw["question"]),
                    category=str(raw.get("category", "")),
                    mandatory=bool(raw.get("mandatory", True)),
                    basis=[
                        Basis(b["source"], b["locator"], b.get("page"), b.get("quote", ""))
                        for b in raw.get("basis", [])
                    ],
                    lessons=[
                        Lesson(
                            le["source"],
                            le.get("locator", ""),
                            le.get("title", ""),
                            le.get("quote", ""),
                        )
                        for le in raw.get("lessons", [])
                    ],
                )
            )
        return cls(
            title=str(data["title"]),
            industry=str(data.get("industry", "")),
            topic=str(data.get("topic", "")),
            jurisdiction=str(data.get("jurisdiction", "")),
            language=str(data.get("language", "")),
            items=items,
        )

    def item(self, item_id: str) -> ChecklistItem | None:
        return next((i for i in self.items if i.id == str(item_id)), None)

    def categories(self) -> list[tuple[str, list[ChecklistItem]]]:
        groups: dict[str, list[ChecklistItem]] = {}
        for it in self.items:
            groups.setdefault(it.category, []).append(it)
        return list(groups.items())


def canonical_json(obj: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept. Hashes are taken over this."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Provisions: from a clause to checkable obligations
#
# A clause often holds several obligations: "(1) … shall …; (2) … shall …", or
# "应当履行下列职责：（一）…；（二）…". Each becomes one Provision with the verbatim words it rests on.
# A list item under a lead-in ("Stairway-type ladders shall: (i) Be positioned …",
# "有下列情形之一的，属于重大事故隐患：（二）瓦斯超限作业的") inherits the lead-in's force.

_ZH_MUST = re.compile(
    r"应当|必须|(?<![相响适供反对效感呼顺答理报])应(?![当急用对聘届征邀收付答允变])(?=[\u4e00-\u9fff])"
)
_ZH_MUST_NOT = re.compile(r"严禁|禁止|不得|不准|不应")
_ZH_SHOULD = re.compile(r"(?<![事适便])宜(?=[\u4e00-\u9fff])|提倡|尽量|尽可能")
_EN_MUST = re.compile(r"\b(shall|must)\b", re.IGNORECASE)
_EN_REQUIRED = re.compile(r"\b(is|are) (required|prohibited)\b", re.IGNORECASE)
_EN_SHOULD = re.compile(r"\bshould\b", re.IGNORECASE)

#: subjects an inspector cannot check at a site: the state and its agencies
_ZH_AUTHORITY = re.compile(
    r"人民政府|主管部门|监督管理部门|管理职责的部门|有关部门|国务院|监察机构|公安机关|消防救援机构"
    r"|检验机构|检测机构|人民法院|人民检察院|应急管理部门|行政管理部门|^国家|^县级以上"
    r"|村民委员会|居民委员会|工会|共产主义青年团|妇女联合会|新闻|广播、电视|^各级"
)
_EN_AUTHORITY = re.compile(
    r"^(the )?(secretary|assistant secretary|commission|director|administrator|osha|institute|"
    r"compliance safety and health officer|csho|area director|state|agency)\b",
    re.IGNORECASE,
)
_ZH_PENALTY = re.compile(r"罚款|责令|吊销|追究|处分|拘留|没收|违反本")
_ZH_CATCH_ALL = re.compile(r"^(?:有)?(?:法律、(?:行政)?法规|其他|国家规定的其他)|规定的其他")


def zh_force(text: str) -> Force | None:
    if _ZH_MUST.search(text) or _ZH_MUST_NOT.search(text):
        return "mandatory"
    if _ZH_SHOULD.search(text):
        return "recommended"
    return None


def en_force(text: str) -> Force | None:
    if _EN_MUST.search(text) or _EN_REQUIRED.search(text):
        return "mandatory"
    if _EN_SHOULD.search(text):
        return "recommended"
    return None


def force_of(text: str, language: str) -> Force | None:
    return zh_force(text) if language == "zh" else en_force(text)


@dataclass
class Provision:
    """One checkable obligation inside a clause."""

    #: the obligation as one sentence (a list item joined to its lead-in)
    text: str
    #: the verbatim words of the clause it rests on
    quote: str
    force: Force
    #: "must" (a sentence with its own subject), "duty" (an item of a list of duties: no
    #: subject of its own) or "situation" (an item of a list of things that must not exist)
    kind: str = "must"
    position: int = 0
    #: the paragraph heading it sits under ("Management of change"), for matching topics
    heading: str = ""


_ZH_ARTICLE = re.compile(r"^第[零〇一二三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?\s*")
_ZH_ITEM = re.compile(r"^[（(][一二三四五六七八九十]+[）)]\s*")
_EN_SECTION = re.compile(r"^\s*§\s*\d+\.\d+[a-z]?\s+.*?\.\s+(?=\(|[A-Z])")
_EN_ACT_SECTION = re.compile(r"^\s*SEC\.\s*\d+[a-z]?\.\s*[^(]*")
_EN_LABEL = r"\((?:[a-z]{1,4}|\d{1,3}|[A-Z]|[ivxlc]{1,6})\)"
_EN_LABELS = re.compile(rf"^(?:{_EN_LABEL}\s*)+")
_EN_SPLIT = re.compile(
    rf"(?<=[.;:])\s+(?:(?:and|or),?\s+)?(?={_EN_LABEL}|[A-Z“\"])|(?<=—)(?={_EN_LABEL})"
)
_EN_ABBREV = re.compile(
    r"(?:\be\.g|\bi\.e|\bU\.S|\bNo|\bNos|\bSec|\bapprox|\bet seq|\bft|\bin|\bvs|\bDr|\bSt|\bInc|\bCo)\.$"
)


def split_provisions(text: str, language: str) -> list[Provision]:
    """Every obligation (or recommendation) in a clause, in reading order."""
    text = text.replace("\\n", "\n")
    found = _zh_provisions(text) if language == "zh" else _en_provisions(text)
    for i, p in enumerate(found):
        p.position = i
    return found


def _zh_sentences(paragraph: str) -> list[str]:
    parts = [s for s in re.split(r"(?<=。)", paragraph) if s.strip()]
    out: list[str] = []
    for s in parts:
        if len(s) > 160 and "；" in s:
            out.extend(x for x in re.split(r"(?<=；)", s) if x.strip())
        else:
            out.append(s)
    return [s.strip() for s in out]


_ZH_DUTY_LEAD = re.compile(
    r"(?:应当|必须)(?!包括)[^：:]*(?<![对在与向从将按])(?:下列|以下)(?!.*(?:内容|资料|场所|区域|图纸))"
    r"|(?:履行|负有|遵守|做到|采取|具备|符合|建立|落实|做好)(?:下列|以下)"
)
_ZH_SITUATION_LEAD = re.compile(
    r"(?:下列|以下)(?:情形|行为|情况)之一|有(?:下列|以下)[^：:]*?(?:隐患|情形|行为)"
)
_ZH_LIST = re.compile(r"下列|以下")


def _zh_provisions(text: str) -> list[Provision]:
    out: list[Provision] = []
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    if paragraphs:
        paragraphs[0] = _ZH_ARTICLE.sub("", paragraphs[0])
    lead: str | None = None
    lead_kind = ""
    things: list[str] = []

    def flush_things() -> None:
        """A list of places or things: the lead-in, with the list written into it, is the duty."""
        if lead and lead_kind == "things" and zh_force(lead):
            kept = [t for t in things if not _ZH_CATCH_ALL.search(t)]
            listed = "、".join(kept)
            body = lead.rstrip("：:")
            if kept and len(listed) <= 120:
                body = _ZH_LIST.sub(f"{listed}等", body, count=1).replace("等等", "等")
            quote = lead + "".join(things)
            out.append(Provision(body, quote, "mandatory"))

    for para in paragraphs:
        if _ZH_ITEM.match(para):
            item = _ZH_ITEM.sub("", para).strip().rstrip("；;。")
            if lead is None:
                force = zh_force(item)
                if force:
                    out.append(Provision(item, para, force))
                continue
            if lead_kind == "things":
                things.append(item)
                continue
            if _ZH_CATCH_ALL.search(item) or lead_kind == "skip":
                continue
            out.append(
                Provision(
                    item,
                    f"{lead}{para}",
                    "mandatory",
                    kind="situation" if lead_kind == "situation" else "duty",
                )
            )
            continue
        flush_things()
        lead, lead_kind, things = None, "", []
        for sentence in _zh_sentences(para):
            if sentence.endswith(("：", ":")) and _ZH_LIST.search(sentence):
                lead = sentence
                must = _ZH_MUST.search(sentence) or _ZH_MUST_NOT.search(sentence)
                if must and _ZH_AUTHORITY.search(sentence[: must.start()]):
                    lead_kind = "skip"  # the authorities' list: not the site's duties
                elif _ZH_SITUATION_LEAD.search(sentence) and (
                    "隐患" in sentence or _ZH_MUST_NOT.search(sentence)
                ):
                    lead_kind = "situation"
                elif _ZH_DUTY_LEAD.search(sentence) and zh_force(sentence):
                    lead_kind = "duty"
                else:
                    lead_kind = "things"
                continue
            force = zh_force(sentence)
            if force:
                out.append(Provision(sentence.rstrip("。；;"), sentence, force))
    flush_things()
    return out


def _en_pieces(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip()
    text = _EN_SECTION.sub("", text, count=1)
    text = _EN_ACT_SECTION.sub("", text, count=1)
    text = re.sub(r"\s+--\s+(?=\()", ": ", text)  # "Each employer -- (1) shall …"
    pieces: list[str] = []
    buf = ""
    for part in _EN_SPLIT.split(text):
        if not part:
            continue
        buf = f"{buf} {part}".strip() if buf else part.strip()
        if _EN_ABBREV.search(buf):
            continue  # "e.g." or "U.S." does not end a sentence
        pieces.append(buf)
        buf = ""
    if buf:
        pieces.append(buf)
    return pieces


_EN_VERB_LEAD = re.compile(
    r"^(?P<subj>.+?)\s+(?P<modal>shall|must)(?P<be>\s+be)?\s*:$", re.IGNORECASE
)
_EN_FOLLOWING = re.compile(
    r"[,;]?\s*(?:including,?\s*(?:where appropriate,?\s*)?|as follows|in accordance with)?\s*"
    r"(?:the following[^:]*)?:$"
)
_EN_DANGLING = re.compile(
    r"\b(with|to|of|in|by|as|for|on|than|least|include|includes|including|are|is|be|following|that|and|or)$",
    re.IGNORECASE,
)


def _child_of_verb_lead(piece: str) -> bool:
    """ "Be positioned …", "Have slip-resistant treads …": a list item completing "X shall:"."""
    if not piece[:1].isupper():
        return False
    modal = _EN_MUST.search(piece)
    comma = piece.find(",")
    return modal is None or (comma != -1 and comma < modal.start())


def _en_provisions(text: str) -> list[Provision]:
    out: list[Provision] = []
    verb_lead: re.Match[str] | None = None
    subject_lead: str | None = None
    heading = ""

    def add(p: Provision) -> None:
        p.heading = heading
        out.append(p)

    for raw in _en_pieces(text):
        piece = _EN_LABELS.sub("", raw).strip()
        if "?" in piece:  # 29 CFR 1904 asks and answers: "How quickly …? You must enter …"
            piece = _EN_LABELS.sub("", piece.rsplit("?", 1)[1]).strip()
        if not piece:
            continue
        if verb_lead is not None and _child_of_verb_lead(piece):
            subj, modal = verb_lead.group("subj"), verb_lead.group("modal").lower()
            be = " be" if verb_lead.group("be") else ""
            body = re.sub(r"[;,.]?\s*(?:and|or)?$", "", piece.rstrip(";.,"))
            sentence = f"{subj} {modal}{be} {body[:1].lower()}{body[1:]}"
            add(Provision(sentence, f"{verb_lead.string} {piece}", "mandatory"))
            continue
        verb_lead = None
        if subject_lead and re.match(r"^(shall|must|should)\b", piece, re.IGNORECASE):
            sentence = f"{subject_lead} {piece}".rstrip(";,")
            add(Provision(sentence, f"{subject_lead}: {piece}", en_force(piece) or "mandatory"))
            continue
        subject_lead = None
        force = en_force(piece)
        if force is None:
            if piece.endswith(":") and len(piece.split()) <= 6:
                subject_lead = piece.rstrip(":").strip()  # "Each employer:" then "(1) shall …"
            elif len(piece.split()) <= 8 and piece.endswith((".", "—")):
                heading = piece.rstrip(".— ")  # "Management of change."
            continue
        if piece.endswith(":"):
            m = _EN_VERB_LEAD.match(piece)
            if m:
                verb_lead = m
                continue
            lead = _EN_FOLLOWING.sub("", piece).strip()
            if re.search(r"\bthan$", lead):  # "… closer to power lines than as follows:" (a table)
                lead += " the distances the rule lists"
            # a lead-in of a list ("… shall include the following:", "… as gassy if:") is
            # kept only when it reads as a whole duty without its list
            if (
                lead
                and lead != piece.rstrip(":")
                and en_force(lead)
                and not _EN_DANGLING.search(lead)
            ):
                add(Provision(lead, piece, force))
            continue
        add(Provision(piece.rstrip(";"), piece, force))
    return out


def checkable(p: Provision, language: str) -> bool:
    """Whether an inspector can check it at the site: not the state's duty, not a penalty,
    not a scope or definition clause."""
    if language == "zh":
        if p.kind != "must":
            return not _ZH_PENALTY.search(p.text) and len(p.text) >= 4
        m = _ZH_MUST.search(p.text) or _ZH_MUST_NOT.search(p.text) or _ZH_SHOULD.search(p.text)
        subject = p.text[: m.start()] if m else p.text[:20]
        if _ZH_AUTHORITY.search(subject) or _ZH_PENALTY.search(p.text):
            return False
        if re.search(r"(工作|方针|原则)$", subject.strip("，, ")):
            return False  # "安全生产工作实行…", "消防工作贯彻…": principles, not duties
        if p.text.startswith(("违反", "本法", "本条例", "本规定", "本办法", "本细则", "前款")):
            return False
        return len(p.text) >= 6
    m = _EN_MUST.search(p.text) or _EN_REQUIRED.search(p.text) or _EN_SHOULD.search(p.text)
    subject = p.text[: m.start()] if m else p.text
    subject = split_condition(p.text)[1]
    m2 = _EN_MODAL.search(subject)
    subject = (subject[: m2.start()] if m2 else subject).strip()
    after = p.text[m.end() :].strip().lower() if m else ""
    if _EN_AUTHORITY.search(subject) or re.search(
        r"\b(Secretary|Director|Commission|Institute|Administrator)\b", subject
    ):
        return False
    if re.search(r"\b(this definition|for purposes of)\b", p.text, re.I):
        return False
    if re.match(
        r"^(this|these) (part|subpart|section|standard|paragraph)", subject, re.I
    ) or re.search(r"\bmeans\b", subject):
        return False
    if re.match(r"^(this|these|that|those|such)\b", subject, re.I) and len(subject.split()) <= 3:
        return False  # "this determination", "such activities": meaningless out of context
    if re.match(
        r"^(not )?(apply|applies|be deemed|mean|include the following|be as follows)\b", after
    ):
        return False
    return len(p.text.split()) >= 4


# ---------------------------------------------------------------------------------------------
# Questions, by rule. "Yes" always means compliant.

MAX_QUESTION = {"zh": 150, "en": 300}


def to_question(p: Provision, language: str) -> str:
    q = zh_question(p) if language == "zh" else en_question(p.text)
    return _cap(q, MAX_QUESTION.get(language, 300), language)


def _cap(q: str, limit: int, language: str) -> str:
    """Shorten a long question in the middle, so its subject and its predicate both stay."""
    mark = "？" if language == "zh" else "?"
    body = q.rstrip("?？").rstrip("，、；,; ")
    if len(body) <= limit:
        return body + mark
    head, tail = body[: int(limit * 0.62)], body[-int(limit * 0.3) :]
    if language == "zh":
        cut = max(head.rfind("，"), head.rfind("、"), head.rfind("；"))
        head = head[:cut] if cut > len(head) // 2 else head
        start = min(
            (i for i in (tail.find("，"), tail.find("、"), tail.find("；")) if i != -1), default=-1
        )
        tail = tail[start + 1 :] if 0 <= start < len(tail) // 2 else tail
        return f"{head.rstrip('，、；')}……{tail}{mark}"
    head = head[: head.rfind(" ")] if " " in head else head
    tail = tail[tail.find(" ") + 1 :] if " " in tail else tail
    return f"{head.rstrip(',; ')} … {tail}{mark}"


def zh_question(p: Provision) -> str:
    text = p.text.strip().rstrip("。；;，,：:")
    if p.kind == "situation":
        core = text[:-1] if text.endswith("的") else text
        return f"是否不存在“{core}”的情形"
    pos = _ZH_MUST.search(text)
    neg = _ZH_MUST_NOT.search(text)
    if p.kind == "duty":
        first = min((m.start() for m in (pos, neg) if m), default=-1)
        # an item with its own duty word after a condition ("…通风时，必须采用压入式") reads
        # like a sentence; otherwise the item is the duty ("落实消防安全责任制")
        if first != 0 and not (first > 0 and re.search(r"(时|的|前|后)，$", text[:first])):
            return f"是否{text}"
    if neg and (not pos or neg.start() < pos.start()):
        subject, pred = text[: neg.start()], text[neg.end() :]
        pred = re.sub(r"不得|严禁|禁止|不准", "不", pred)
        return f"{subject}是否确保不{pred}"
    if pos:
        subject, pred = text[: pos.start()], text[pos.end() :]
        if subject.endswith(("都", "均", "还", "也")):  # "施工单位还应当…" → "施工单位是否还…"
            return f"{subject[:-1]}是否{subject[-1]}{pred}"
        return f"{subject}是否{pred}"
    rec = _ZH_SHOULD.search(text)
    if rec:
        return f"{text[: rec.start()]}是否{text[rec.end() :]}"
    return f"是否{text}"


_EN_CONDITION = re.compile(
    r"^(?:when|where|if|before|after|except|unless|prior to|during|while|once|whenever|"
    r"in addition to|for|at|on|in|effective|to)\b",
    re.IGNORECASE,
)
_EN_MAIN = re.compile(
    r"^(?P<subj>.+?)\s+(?P<modal>shall|must|(?:is|are) required to)\s+(?P<neg>not\s+)?(?P<rest>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_EN_PROHIBITED = re.compile(
    r"^(?P<subj>.+?)\s+(?P<be>is|are)\s+prohibited\b(?P<rest>.*)$", re.IGNORECASE
)
_EN_RESPONSIBILITY = re.compile(
    r"^it shall be the responsibility of (?P<who>.+?) to (?P<rest>.+)$", re.I
)
_EN_NO = re.compile(r"^no\s+(?P<subj>.+?)\s+(?:shall|must|may)\s+(?P<be>be\s+)?(?P<rest>.+)$", re.I)
_EN_HEAD_STOP = re.compile(
    r"\s(?:of|in|on|for|with|that|which|who|at|to|under|from|by|when|where|whose)\b|[,(]",
    re.IGNORECASE,
)
_EN_BE = re.compile(
    r"^(?:(?P<adv>either|also|only|always|then|still|each|all)\s+)?be\s+", re.IGNORECASE
)
_MAX_SUBJECT = 160


def _lower_first(s: str) -> str:
    word = s.split(" ", 1)[0]
    if len(word) > 1 and (word.isupper() or any(ch.isdigit() for ch in word)):
        return s
    return s[:1].lower() + s[1:]


def _upper_first(s: str) -> str:
    return s[:1].upper() + s[1:]


#: what follows a participle that starts a post-modifier ("installed to", "addressed by"; "" is
#: the end of the noun phrase: "the standards contained [in this part]")
_POST_MODIFIER_NEXT = {
    "",
    "to",
    "by",
    "on",
    "in",
    "for",
    "with",
    "at",
    "under",
    "from",
    "as",
    "during",
    "into",
    "within",
    "a",
    "an",
    "the",
    "and",
    "or",
}


def is_plural(subject: str) -> bool:
    """Whether an English subject takes "are"/"do": "Each platform" no, "Guardrail systems" yes."""
    words = subject.lower().split()
    if not words:
        return False
    if words[0] in ("each", "every", "a", "an", "any", "no", "one", "either", "neither"):
        return False
    if words[0] in ("you", "we", "they"):
        return True
    head_words = _EN_HEAD_STOP.split(" " + subject, maxsplit=1)[0].split()
    for i, w in enumerate(head_words):
        low = w.lower()
        # post-modifiers end the noun phrase: "Guardrail systems installed …", "Scaffolds not …"
        after = head_words[i + 1].lower() if i + 1 < len(head_words) else ""
        if (
            i >= 1
            and (low in ("not", "so", "as") or low.endswith("ly"))
            or (i >= 1 and low.endswith(("ed", "ing")) and after in _POST_MODIFIER_NEXT)
        ):
            head_words = head_words[:i]
            break
    if any(w.lower() in ("and", "or") for w in head_words[1:]) and "or" not in [
        w.lower() for w in head_words
    ]:
        return True
    head = re.sub(r"[^a-z]", "", (head_words[-1] if head_words else words[-1]).lower())
    return head.endswith("s") and not head.endswith(("ss", "us", "is", "ics"))


def split_condition(s: str) -> tuple[str, str]:
    """ "When X, Y shall Z" → ("When X", "Y shall Z"); a sentence without one → ("", s)."""
    if not _EN_CONDITION.match(s):
        return "", s
    for modal in _EN_MODAL.finditer(s):
        last = s.rfind(",", 0, modal.start())
        if last <= 0:
            continue
        main = s[last + 1 :].strip()
        if re.match(r"^(or|and)\b", main):  # "…, A, B, or C shall be used": the list is the subject
            first = s.find(",")
            return s[:first].strip(), s[first + 1 :].strip()
        return s[:last].strip(), main
    return "", s


_EN_MODAL = re.compile(
    r"\b(shall|must|is required|are required|is prohibited|are prohibited)\b", re.I
)


def en_question(text: str) -> str:
    s = re.sub(r"\s+", " ", text).strip().rstrip(".;:,")
    condition, s = split_condition(s)
    q = _en_main_question(s)
    if condition:
        return f"{_upper_first(condition)}, {_lower_first(q)}"
    return _upper_first(q)


def _en_main_question(s: str) -> str:
    m = _EN_RESPONSIBILITY.match(s)
    if m:
        who = m.group("who")
        return f"{'Do' if is_plural(who) else 'Does'} {_lower_first(who)} {m.group('rest')}"
    m = _EN_NO.match(s)
    if m:
        verb = "is " if m.group("be") else "is allowed to "
        return f"Is it ensured that no {m.group('subj')} {verb}{m.group('rest')}"
    m = _EN_PROHIBITED.match(s)
    if m and len(m.group("subj")) <= _MAX_SUBJECT:
        subj = _lower_first(m.group("subj"))
        return f"Is it ensured that {subj} {m.group('be').lower()} not permitted{m.group('rest')}"
    m = _EN_MAIN.match(s)
    if (
        not m
        or len(m.group("subj")) > _MAX_SUBJECT
        or m.group("subj").lower() in ("it", "there", "this")
    ):
        return _en_fallback(s)
    subj, rest = m.group("subj").strip(), m.group("rest").strip()
    rest = re.sub(
        r"\b(and|or)\s+(?:shall|must)\s+(?:be\s+)?", r"\1 ", rest
    )  # "… and shall be constructed"
    plural = is_plural(subj)
    subj_l = _lower_first(subj)
    negative = bool(m.group("neg"))
    be_match = _EN_BE.match(rest)
    if be_match:
        be = "are" if plural else "is"
        adv = f"{be_match.group('adv')} " if be_match.group("adv") else ""
        body = adv + rest[be_match.end() :]
        if negative:
            return f"Is it ensured that {subj_l} {be} not {body}"
        return f"{_upper_first(be)} {subj_l} {body}"
    do = "do" if plural else "does"
    if negative:
        return f"Is it ensured that {subj_l} {do} not {rest}"
    return f"{_upper_first(do)} {subj_l} {rest}"


def _en_fallback(s: str) -> str:
    """Any sentence: "Is it ensured that … will …" keeps the grammar without knowing the number."""
    body = re.sub(r"\b(shall|must)\b", "will", s, flags=re.IGNORECASE)
    return f"Is it ensured that {_lower_first(body)}"


# ---------------------------------------------------------------------------------------------
# Near-duplicates


def _norm(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", text.lower())


def _shingles(text: str, language: str) -> set[str]:
    if language == "zh":
        t = _norm(text)
        return {t[i : i + 2] for i in range(max(len(t) - 1, 1))}
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def similarity(a: str, b: str, language: str) -> float:
    """Jaccard overlap of word sets (English) or character bigrams (Chinese)."""
    sa, sb = _shingles(a, language), _shingles(b, language)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


DUPLICATE_AT = 0.6
#: items one clause may give: more would crowd out the other rules on a 40-item list (items of
#: a list of duties or of prohibited situations count half: each is one short obligation)
MAX_PER_CLAUSE = 4


# ---------------------------------------------------------------------------------------------
# Drafting


@dataclass
class _Candidate:
    provision: Provision
    question: str
    chunk: Any
    subtopic: int
    score: float
    basis: list[Basis] = field(default_factory=list)
    first_seen: int = 0


@dataclass
class _Plan:
    subtopics: list[SubTopic]
    anchors: tuple[str, ...]
    words: tuple[str, ...]
    anchors_en: tuple[str, ...]


def plan_topic(topic: str, industry: str, language: str) -> _Plan:
    """Sub-topics, anchor words and the topic's own words for one checklist."""
    entries: list[TopicEntry] = find_entries(topic, industry)
    words = topic_words(topic, language)
    subtopics: list[SubTopic] = []
    anchors: list[str] = []
    anchors_en: list[str] = []
    for e in entries:
        subtopics.extend(e.subtopics)
        anchors.extend(e.anchors(language))
        anchors_en.extend(e.anchors_en)
    general_name = ("其他要求", "Other requirements")
    subtopics.append(
        SubTopic(
            general_name[1],
            general_name[0],
            85,
            words if language != "zh" else (),
            words if language == "zh" else (),
        )
    )
    if not entries:
        anchors = list(words)
        anchors_en = list(words) if language != "zh" else []
    return _Plan(subtopics, tuple(dict.fromkeys(anchors)), words, tuple(dict.fromkeys(anchors_en)))


def _term_hits(text: str, terms: Iterable[str], language: str) -> int:
    low = text.lower()
    if language == "zh":
        return sum(1 for t in terms if t and t.lower() in low)
    return sum(1 for t in terms if t and re.search(r"\b" + re.escape(t.lower()), low))


def _applies(chunk: Any, jurisdiction: str, industry: str) -> bool:
    if chunk.doc_type in NOT_RULES:
        return False
    if jurisdiction:
        cj = chunk.jurisdiction or ""
        if cj and not (jurisdiction == cj or jurisdiction.startswith(cj + "-")):
            return False
    if industry and chunk.industries:
        wanted = {industry}
        if industry != "general":
            wanted.add("general")
        if industry == "mining":
            wanted.add("coal")
        if not wanted & set(chunk.industries):
            return False
    if re.search(r"appendix", chunk.locator or "", re.IGNORECASE):
        return False  # appendices are examples and non-mandatory guidelines
    return not re.search(r"法律责任|罚则|附则", chunk.heading_path or "")


def _locator_key(locator: str) -> tuple:
    from ingest.clauses import cn_to_int

    key: list[tuple[int, Any]] = []
    for tok in re.findall(r"\d+|[零〇一二三四五六七八九十百千两]+|[a-zA-Z]+", locator):
        if tok.isdigit():
            key.append((0, int(tok)))
        elif re.fullmatch(r"[零〇一二三四五六七八九十百千两]+", tok):
            try:
                key.append((0, cn_to_int(tok)))
            except ValueError:
                key.append((1, tok))
        else:
            key.append((1, tok.lower()))
    return tuple(key)


def default_language(topic: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", topic) else "en"


def make_title(topic: str, industry: str, jurisdiction: str, language: str) -> str:
    if language == "zh":
        return f"{topic}隐患排查清单"
    return f"Inspection checklist: {topic} ({industry.replace('_', ' ')}, {jurisdiction})"


def draft_checklist(
    kb: Any,
    industry: str,
    topic: str,
    jurisdiction: str | None = None,
    language: str | None = None,
    *,
    max_items: int = 40,
    per_query: int = 15,
    mode: str = "hybrid",
    mandatory_only: bool = False,
    lessons: bool = True,
    rephrase: ChatFn | None = None,
) -> Checklist:
    """Draft a checklist for ``industry`` + ``topic`` from the knowledge base ``kb``.

    ``jurisdiction`` "CN" keeps national rules only; "CN-BJ" adds Beijing's own; "US" the
    federal ones. ``language`` defaults to the topic's (zh when it has Chinese characters).
    ``rephrase`` is an optional chat model that may reword the questions (see module doc).
    """
    language = language or default_language(topic)
    jurisdiction = jurisdiction or ("CN" if language == "zh" else "US")
    industry_key = normalise_industry(industry) if industry else ""
    plan = plan_topic(topic, industry_key, language)
    root = jurisdiction.split("-")[0]
    where = {"jurisdiction": root, "language": language}

    candidates: dict[tuple[str, int], _Candidate] = {}
    seen = 0
    for s_index, sub in enumerate(plan.subtopics):
        terms = sub.terms(language)
        query = " ".join(dict.fromkeys((*plan.words, *terms[:8])))
        if not query.strip():
            continue

        def applies(chunk: Any) -> bool:
            return _applies(chunk, jurisdiction, industry_key)

        for rank, hit in enumerate(
            _retrieve(kb, query, where, industry_key, per_query, mode, applies)
        ):
            chunk = hit.chunk
            context = f"{chunk.title}\n{chunk.heading_path}\n{chunk.text}"
            if plan.anchors and not _term_hits(context, plan.anchors, language):
                continue
            if plan.words and not _term_hits(context, plan.words, language):
                continue
            specific = industry_key and industry_key in chunk.industries
            # a rule about the topic itself (its title names it) is worth more than a general
            # rule that happens to mention a sub-topic word; the latter must mention two
            core = bool(_term_hits(chunk.title, (*plan.words, *plan.anchors), language))
            for prov in split_provisions(chunk.text, language):
                if mandatory_only and prov.force != "mandatory":
                    continue
                if not checkable(prov, language):
                    continue
                own = _term_hits(f"{prov.heading} {prov.text}", terms, language)
                topical = _term_hits(
                    f"{prov.heading} {prov.text}", (*plan.words, *plan.anchors), language
                )
                if own == 0 and not (topical and s_index == len(plan.subtopics) - 1):
                    continue
                if not core and own + min(topical, 1) < 2:
                    continue
                score = (
                    1.0 / (rank + 2)
                    + (0.3 if core else 0.0)
                    + 0.15 * min(own, 4)
                    + 0.05 * min(topical, 2)
                    + (0.2 if specific else 0.0)
                    + (0.1 if prov.force == "mandatory" else 0.0)
                    - 0.01 * min(prov.position, 10)
                )
                key = (chunk.chunk_id, prov.position)
                old = candidates.get(key)
                if old is not None and old.score >= score:
                    continue
                seen += 1
                candidates[key] = _Candidate(
                    provision=prov,
                    question=to_question(prov, language),
                    chunk=chunk,
                    subtopic=s_index,
                    score=score,
                    basis=[Basis(chunk.source, chunk.locator, chunk.page, prov.quote)],
                    first_seen=old.first_seen if old else seen,
                )

    picked = _select(list(candidates.values()), plan, language, max_items)
    items = _order(picked, plan, language)
    checklist = Checklist(
        title=make_title(topic, industry, jurisdiction, language),
        industry=industry,
        topic=topic,
        jurisdiction=jurisdiction,
        language=language,
        items=items,
    )
    if lessons:
        attach_lessons(kb, checklist, plan, language)
    if rephrase is not None:
        rephrase_questions(checklist, rephrase)
    return checklist


def _retrieve(
    kb: Any,
    query: str,
    where: dict[str, str],
    industry: str,
    k: int,
    mode: str,
    keep: Callable[[Any], bool] = lambda chunk: True,
) -> list[Any]:
    """The ``k`` best applicable chunks: the industry's own rules first (so that general rules
    cannot crowd them out), then the general rules that apply to every industry. Search is
    asked for three times ``k`` because local rules, penalty clauses and guidance are dropped
    after it."""
    passes = [(industry, k, mode)] if industry else [("", k, mode)]
    if industry and industry != "general":
        # lexical only: the general rules are the second call on the list, and a dense query
        # costs an embedding (most of a checklist's time on a CPU)
        passes.append(("general", max(k // 2, 3), "lexical" if mode == "hybrid" else mode))
    merged: dict[str, tuple[int, Any]] = {}
    for ind, n, how in passes:
        w = {**where, "industries": ind} if ind else where
        rank = 0
        for hit in kb.search(query, k=n * 3, where=w, mode=how, candidates=max(60, n * 3)):
            if not keep(hit.chunk):
                continue
            cid = hit.chunk.chunk_id
            if cid not in merged or rank < merged[cid][0]:
                merged[cid] = (rank, hit)
            rank += 1
            if rank >= n:
                break
    return [hit for _, hit in sorted(merged.values(), key=lambda x: x[0])]


def _select(
    cands: list[_Candidate], plan: _Plan, language: str, max_items: int
) -> list[_Candidate]:
    """Best first, near-duplicates merged into the item they repeat, each sub-topic its share."""
    cands.sort(key=lambda c: (-c.score, c.first_seen))
    kept: list[_Candidate] = []
    for c in cands:
        twin = next(
            (
                k
                for k in kept
                if similarity(k.provision.text, c.provision.text, language) >= DUPLICATE_AT
                or _norm(c.provision.text) in _norm(k.provision.text)
                or _norm(k.provision.text) in _norm(c.provision.text)
            ),
            None,
        )
        if twin is None:
            kept.append(c)
            continue
        b = c.basis[0]
        if (
            all((x.source, x.locator) != (b.source, b.locator) for x in twin.basis)
            and len(twin.basis) < 3
        ):
            twin.basis.append(b)
    # each sub-topic gets its share first (round-robin by score), then the best of the rest
    by_sub: dict[int, list[_Candidate]] = {}
    for c in kept:
        by_sub.setdefault(c.subtopic, []).append(c)
    share = max(2, max_items // max(len(by_sub), 1))

    def weight(c: _Candidate) -> float:
        return 0.5 if c.provision.kind != "must" else 1.0

    chosen: list[_Candidate] = []
    for group in by_sub.values():
        per_chunk: dict[str, float] = {}
        taken = 0
        for c in group:
            if taken >= share or per_chunk.get(c.chunk.chunk_id, 0) >= 2:
                continue
            per_chunk[c.chunk.chunk_id] = per_chunk.get(c.chunk.chunk_id, 0) + weight(c)
            chosen.append(c)
            taken += 1
    chosen.sort(key=lambda c: -c.score)
    chosen = chosen[:max_items]
    per_chunk_all: dict[str, float] = {}
    for c in chosen:
        per_chunk_all[c.chunk.chunk_id] = per_chunk_all.get(c.chunk.chunk_id, 0) + weight(c)
    for c in kept:
        if len(chosen) >= max_items:
            break
        if c in chosen or per_chunk_all.get(c.chunk.chunk_id, 0) + weight(c) > MAX_PER_CLAUSE:
            continue
        per_chunk_all[c.chunk.chunk_id] = per_chunk_all.get(c.chunk.chunk_id, 0) + weight(c)
        chosen.append(c)
    return chosen


def _order(picked: list[_Candidate], plan: _Plan, language: str) -> list[ChecklistItem]:
    """As an inspector walks: sub-topic stage, then document, then clause order."""
    source_rank: dict[tuple[int, str], int] = {}
    for c in sorted(picked, key=lambda c: -c.score):
        source_rank.setdefault((c.subtopic, c.chunk.source), len(source_rank))

    def key(c: _Candidate) -> tuple:
        sub = plan.subtopics[c.subtopic]
        return (
            sub.stage,
            c.subtopic,
            source_rank[(c.subtopic, c.chunk.source)],
            _locator_key(c.chunk.locator),
            c.provision.position,
        )

    items = []
    for n, c in enumerate(sorted(picked, key=key), start=1):
        items.append(
            ChecklistItem(
                id=str(n),
                question=c.question,
                category=plan.subtopics[c.subtopic].name(language),
                mandatory=c.provision.force == "mandatory",
                basis=c.basis,
            )
        )
    return items


# ---------------------------------------------------------------------------------------------
# Lessons from accident records

_LESSON_STOP = {
    "shall", "must", "employer", "employee", "employees", "each", "with", "that", "this", "which",
    "from", "have", "been", "when", "where", "than", "there", "their", "other", "such", "used",
    "section", "paragraph", "provided", "accordance", "requirements", "following", "least",
}  # fmt: skip


def _content_words(text: str) -> set[str]:
    words = re.findall(r"[a-z]{4,}", text.lower())
    return {w.rstrip("s") for w in words if w not in _LESSON_STOP}


def _lesson_quote(text: str, limit: int = 320) -> str:
    body = text.strip()
    if len(body) <= limit:
        return body
    cut = body[:limit]
    end = cut.rfind(". ")
    return (cut[: end + 1] if end > limit // 2 else cut.rstrip()) + " …"


def attach_lessons(
    kb: Any, checklist: Checklist, plan: _Plan, language: str, per_item: int = 1
) -> None:
    """Give items the accident records that show what happens when the rule is broken.

    Records are searched with the sub-topic's English words (the corpus's records are
    English), lexically, and must mention the topic; an English item takes the record that
    shares most words with its clause, a Chinese item the best records of its sub-topic.
    """
    by_category: dict[str, list[ChecklistItem]] = {}
    for it in checklist.items:
        by_category.setdefault(it.category, []).append(it)
    used: set[tuple[str, str]] = set()
    for sub in plan.subtopics:
        items = by_category.get(sub.name(language))
        if not items:
            continue
        terms = sub.terms_en or (plan.words if language != "zh" else ())
        if not terms:
            continue
        query = " ".join(dict.fromkeys((*plan.anchors_en[:3], *terms[:8])))
        found = []
        for doc_type in ACCIDENT_TYPES:
            for hit in kb.search(query, k=6, where={"doc_type": doc_type}, mode="lexical"):
                text = f"{hit.chunk.title}\n{hit.chunk.text}"
                if plan.anchors_en and not _term_hits(text, plan.anchors_en, "en"):
                    continue
                if not _term_hits(text, terms, "en"):
                    continue
                found.append(hit.chunk)
        if not found:
            continue
        for it in items:
            quote = " ".join(b.quote for b in it.basis)
            want = _content_words(quote) if language != "zh" else set()
            ranked = sorted(
                (c for c in found if (c.source, c.locator) not in used),
                key=lambda c: -len(want & _content_words(c.text)),
            )
            for chunk in ranked[:per_item]:
                if language != "zh" and len(want & _content_words(chunk.text)) < 2:
                    continue
                used.add((chunk.source, chunk.locator))
                title = chunk.title if chunk.title and chunk.title not in chunk.text[:200] else ""
                it.lessons.append(
                    Lesson(
                        chunk.source,
                        chunk.locator,
                        title or chunk.text.split("\n", 1)[0][:120],
                        _lesson_quote(chunk.text),
                    )
                )


# ---------------------------------------------------------------------------------------------
# Optional rewording by a chat model

_REPHRASE_PROMPT = {
    "en": (
        "Rewrite each inspection question below as one short, plain yes/no question an inspector "
        "can answer on site. A 'yes' must mean compliant. Keep every number, limit and unit. "
        "Answer with the same numbers, one per line, as 'N. question?'.\n\n"
    ),
    "zh": (
        "把下面每条检查内容改写成一句简明的“是否…？”检查问句，回答“是”表示符合要求。"
        "保留所有数字、限值和单位。按相同编号逐行回答，格式为“N. 是否…？”。\n\n"
    ),
}


def rephrase_questions(checklist: Checklist, chat: ChatFn, batch: int = 8) -> int:
    """Let a chat model reword the rule-made questions; keep a rewording only when it is a
    question in the right language that keeps the clause's numbers. Returns items reworded."""
    language = checklist.language if checklist.language in _REPHRASE_PROMPT else "en"
    changed = 0
    for start in range(0, len(checklist.items), batch):
        chunk = checklist.items[start : start + batch]
        lines = [
            f"{n}. {it.question}  [rule: {it.basis[0].quote[:300] if it.basis else ''}]"
            for n, it in enumerate(chunk, start=1)
        ]
        try:
            reply = chat(_REPHRASE_PROMPT[language] + "\n".join(lines))
        except Exception:  # noqa: BLE001 - a failing model leaves the rule-made questions
            continue
        answers = dict(re.findall(r"^\s*(\d+)[.、)]\s*(.+?)\s*$", reply or "", flags=re.MULTILINE))
        for n, it in enumerate(chunk, start=1):
            new = answers.get(str(n), "").strip()
            if _acceptable_rewording(it.question, new, language):
                it.question = new
                changed += 1
    return changed


def _acceptable_rewording(old: str, new: str, language: str) -> bool:
    if not new or len(new) > max(len(old) * 1.5, 40):
        return False
    if language == "zh":
        if not (new.endswith("？") and "是否" in new):
            return False
    elif not new.endswith("?"):
        return False
    numbers = set(re.findall(r"\d+(?:\.\d+)?", old))
    return numbers <= set(re.findall(r"\d+(?:\.\d+)?", new))


def stage_name(stage: int, language: str) -> str:
    en, zh = STAGES.get(stage, ("", ""))
    return zh if language == "zh" else en
