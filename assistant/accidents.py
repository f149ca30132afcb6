"""Related accidents: records of the question's hazard, each with a one-line lesson.

Prevention learns from accidents, so an answer about guardrails ends with falls that a
guardrail would have stopped. The hazard is recognised from the question (English or Chinese
keywords); records are searched in the accident collections and kept only when they show the
same hazard. The lesson is the hazard's standing lesson, in the question's language: a record's
narrative says what went wrong, the lesson says what prevents it, and neither needs a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from assistant.glossary import to_english_terms
from assistant.retrieve import ACCIDENT_TYPES
from ingest.kb import Hit, KnowledgeBase
from ingest.models import Chunk


@dataclass(frozen=True)
class Hazard:
    name: str
    #: regexes over the question (either language) that name the hazard
    question: tuple[str, ...]
    #: regex over a record's text that shows the hazard
    record: str
    lesson_en: str
    lesson_zh: str


HAZARDS: tuple[Hazard, ...] = (
    Hazard("skylight", (r"skylight", r"天窗"), r"skylight",
           "Cover or guard every skylight and roof opening; never walk on skylights.",
           "屋面天窗和洞口必须加盖或设护栏，严禁踩踏天窗。"),
    Hazard("scaffold", (r"scaffold", r"脚手架"), r"scaffold",
           "Have a competent person inspect scaffolds and keep guardrails and planking complete.",
           "脚手架须经专人检查验收，护栏、脚手板必须齐全。"),
    Hazard("ladder", (r"\bladder", r"梯子|直梯|爬梯|人字梯"), r"\bladder",
           "Secure and extend ladders properly and keep three points of contact.",
           "梯子必须放稳固定并伸出足够长度，攀爬时保持三点接触。"),
    Hazard("trench", (r"trench|excavat|cave-?in|spoil", r"沟槽|基坑|开挖|坍塌|塌方"),
           r"trench|excavat|cave-?in",
           "Shore, slope or shield any trench 5 ft or deeper before anyone enters.",
           "沟槽、基坑开挖必须按规定放坡或支护，未支护严禁人员进入。"),
    Hazard("confined_space", (r"confined space|permit[- ]space|manhole|tank entry", r"有限空间|受限空间|密闭空间"),
           r"confined space|manhole|\btank\b|asphyxia|oxygen",
           "Test the air, ventilate and keep an attendant and a rescue plan before entering.",
           "进入有限空间前必须先通风、检测，设专人监护并备好救援措施。"),
    Hazard("electrical", (r"electric|power ?line|energi[sz]ed|voltage", r"触电|电线|高压线|带电|用电|漏电"),
           r"electrocut|power ?line|energi[sz]ed|electric shock|overhead line",
           "De-energize or keep clear of live lines and lock out before work.",
           "作业前必须断电或与带电线路保持安全距离，并上锁挂牌。"),
    Hazard("crane", (r"crane|hoist|rigging|derrick|boom", r"起重|吊车|汽车吊|吊装|吊臂"),
           r"crane|hoist|boom|rigging",
           "Keep cranes clear of power lines, use a signal person and stay out from under loads.",
           "起重作业须远离架空线路、专人指挥，严禁人员在吊物下停留。"),
    Hazard("lockout", (r"lockout|tagout|lock out|energy control|unexpected start", r"上锁|挂牌|能量隔离|意外启动"),
           r"lock(?:ed)? ?out|tag(?:ged)? ?out|energi[sz]ed|started up|unexpectedly",
           "Lock out and verify zero energy before cleaning or servicing machinery.",
           "清理、检修设备前必须断开能源、上锁挂牌并确认无残余能量。"),
    Hazard("machine", (r"machine guard|point of operation|amputat|conveyor|saw\b|press\b", r"防护装置|机械伤害|截肢|传送带|卷入"),
           r"amputat|caught in|conveyor|unguarded|point of operation",
           "Keep machine guards in place and never reach into moving parts.",
           "机械防护装置必须完好，严禁将手伸入运转部位。"),
    Hazard("forklift", (r"forklift|powered industrial truck|telehandler", r"叉车|场内机动车"),
           r"forklift|powered industrial truck|telehandler",
           "Train and evaluate forklift operators and wear the seat belt.",
           "叉车司机必须经培训考核持证上岗，驾驶时系好安全带。"),
    Hazard("vehicle", (r"backing|back-?up alarm|dump truck|struck by (?:a )?vehicle", r"倒车|自卸车|车辆伤害"),
           r"backing|backed|back-?up alarm|dump truck|run over",
           "Use spotters and back-up alarms and keep workers out of vehicle blind spots.",
           "车辆倒车须有专人指挥和倒车报警，人员远离盲区。"),
    Hazard("fire_explosion", (r"fire|explosi|flammable|hot work|welding", r"火灾|爆炸|动火|焊接|易燃"),
           r"fire|explo|flammable|ignit|burn",
           "Control ignition sources, issue hot-work permits and keep a fire watch.",
           "动火作业必须审批并清除可燃物、设专人监火。"),
    Hazard("chemical", (r"chemical|acid|caustic|toxic|hazardous substance", r"化学品|危险化学品|酸|碱|有毒"),
           r"chemical|acid|caustic|lime|toxic|burn",
           "Know the chemical's hazards and wear the required eye, face and skin protection.",
           "接触化学品前须了解危害并正确佩戴防护眼镜、面罩和防护服。"),
    Hazard("heat", (r"\bheat\b|hot weather|heat stress|heat stroke", r"高温|中暑"),
           r"\bheat\b|heat stroke|heat exhaustion|cramps",
           "Provide water, rest and shade in heat and watch for early heat illness.",
           "高温作业须供应饮水、安排休息，及早发现中暑症状。"),
    Hazard("mining", (r"\bmine\b|miner|roof fall|rib|methane|coal", r"矿山|煤矿|瓦斯|冒顶|井下"),
           r"\bmine\b|miner|roof fall|\brib\b|methane|coal|shaft",
           "Examine roof, ribs and air before work and keep to the approved plans.",
           "井下作业前必须检查顶板、两帮和有害气体，严格按规程作业。"),
    Hazard("fall", (r"\bfall|guardrail|edge|height|roof|harness|tie off|lanyard|floor opening|\bholes?\b",
                    r"坠落|高处|临边|护栏|安全带|屋面|洞口|登高"),
           r"\bfell\b|\bfall|fell from|fell through|fell off",
           "Protect every edge and opening with guardrails, covers or fall arrest.",
           "高处作业必须设置护栏、盖板或系挂安全带，防止坠落。"),
)  # fmt: skip


def hazards_of(question: str) -> list[Hazard]:
    """The hazards a question is about, most specific first (the table's order)."""
    text = question + " " + " ".join(to_english_terms(question))
    return [h for h in HAZARDS if any(re.search(p, text, re.IGNORECASE) for p in h.question)]


def record_id(chunk: Chunk) -> str:
    """``200361855`` for a CSV row, ``201523974`` for ``cases/osha-201523974.md``."""
    if "#" in chunk.source:
        return chunk.source.split("#", 1)[1]
    stem = PurePosixPath(chunk.source).stem
    m = re.search(r"(\d{6,})", stem)
    return m.group(1) if m else stem


def record_title(chunk: Chunk) -> str:
    first = chunk.text.strip().split("\n", 1)[0]
    if chunk.doc_type == "accident_report" and chunk.title:
        first = chunk.title
    return first if len(first) <= 110 else first[:107].rstrip() + "…"


def related_accidents(
    kb: KnowledgeBase,
    question: str,
    language: str,
    n: int = 3,
    exclude: set[str] | None = None,
    candidates: Sequence[Hit] = (),
) -> list[dict[str, Any]]:
    """Up to ``n`` accident records showing the question's hazard, best first, one per record.

    ``candidates`` are the records the answer's own search found (dense search reaches English
    records from a Chinese question); a lexical search of the record sets, with the hazard's
    English terms, tops them up without embedding the question a second time.
    """
    hazards = hazards_of(question)
    if not hazards or n <= 0:
        return []
    seen = set(exclude or ())
    out: list[dict[str, Any]] = []
    _collect(list(candidates), hazards, language, seen, out, n)
    query = question + " " + " ".join(to_english_terms(question))
    for doc_type in ACCIDENT_TYPES:  # the case reports repeat rows of the record sets
        if len(out) >= n:
            break
        hits = kb.search(
            query, k=12, where={"doc_type": doc_type}, mode="lexical", clause_boost=False
        )
        _collect(hits, hazards, language, seen, out, n)
    return out


def _collect(
    hits: list[Hit],
    hazards: list[Hazard],
    language: str,
    seen: set[str],
    out: list[dict[str, Any]],
    n: int,
) -> None:
    for h in hits:
        c = h.chunk
        rid = record_id(c)
        if rid in seen:
            continue
        hazard = next((hz for hz in hazards if re.search(hz.record, c.text, re.IGNORECASE)), None)
        if hazard is None:
            continue
        seen.add(rid)
        out.append(
            {
                "record_id": rid,
                "source": c.source,
                "title": record_title(c),
                "hazard": hazard.name,
                "lesson": hazard.lesson_zh if language == "zh" else hazard.lesson_en,
                "score": round(h.score, 4),
            }
        )
        if len(out) >= n:
            return
