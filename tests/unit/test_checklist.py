"""Checklist drafting: provisions and questions by rule, and drafting on real rules.

The knowledge base is built once for the module from real corpus files (copied into a temporary
corpus root) on the hashing embedder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from assistant.checklist import (
    Checklist,
    Provision,
    checkable,
    draft_checklist,
    is_plural,
    rephrase_questions,
    split_provisions,
    to_question,
)
from assistant.topics import find_entries, normalise_industry, topic_words
from ingest.chunking import normative_of
from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.conftest import SHARED_CORPUS

SCAFFOLDS = "regulations/us/29cfr1926/29cfr1926-subpart-L-scaffolds.pdf"
EXTINGUISHERS = "regulations/us/29cfr1910/1910.157.html"
EXITS = "regulations/us/29cfr1910/1910.37.html"
FIRE_LAW = "regulations/cn/消防法(2021-04-29).md"
CHEM_REG = "regulations/cn/危险化学品安全管理条例(2013-12-07).md"
CHEM_LAW = "regulations/cn/危险化学品安全法(2025-12-27).md"
SCAFFOLD_FALL = "accidents/us/cases/osha-201129640.md"
SCAFFOLD_FALL_2 = "accidents/us/cases/osha-201078318.md"
FILES = (
    SCAFFOLDS,
    EXTINGUISHERS,
    EXITS,
    FIRE_LAW,
    CHEM_REG,
    CHEM_LAW,
    SCAFFOLD_FALL,
    SCAFFOLD_FALL_2,
)


# -- provisions and questions, by rule ---------------------------------------------------------
def test_zh_duty_list_items_become_one_question_each():
    text = (
        "第十六条 机关、团体、企业、事业等单位应当履行下列消防安全职责：\n"
        "（一）落实消防安全责任制，制定本单位的消防安全制度；\n"
        "（二）按照国家标准、行业标准配置消防设施、器材，设置消防安全标志；\n"
        "（三）法律、法规规定的其他消防安全职责。\n"
        "单位的主要负责人是本单位的消防安全责任人。"
    )
    provs = split_provisions(text, "zh")
    questions = [to_question(p, "zh") for p in provs]
    assert questions == [
        "是否落实消防安全责任制，制定本单位的消防安全制度？",
        "是否按照国家标准、行业标准配置消防设施、器材，设置消防安全标志？",
    ]
    assert all(p.force == "mandatory" and "应当履行下列" in p.quote for p in provs)


def test_zh_prohibition_and_major_hazard_list_read_yes_means_compliant():
    ban = split_provisions("第二十一条 禁止在具有火灾、爆炸危险的场所吸烟、使用明火。", "zh")[0]
    assert to_question(ban, "zh") == "是否确保不在具有火灾、爆炸危险的场所吸烟、使用明火？"
    text = (
        "第三十六条 煤矿企业有下列情形之一的，属于重大事故隐患，应当立即停止受影响区域生产：\n"
        "（一）瓦斯超限作业的；\n（二）有其他重大事故隐患的。"
    )
    provs = split_provisions(text, "zh")
    assert [to_question(p, "zh") for p in provs] == ["是否不存在“瓦斯超限作业”的情形？"]


def test_zh_subject_keeps_its_place_and_authorities_are_left_out():
    own = split_provisions(
        "第二十五条 储存危险化学品的单位应当建立危险化学品出入库核查、登记制度。", "zh"
    )[0]
    assert to_question(own, "zh") == "储存危险化学品的单位是否建立危险化学品出入库核查、登记制度？"
    gov = split_provisions(
        "第十七条 县级以上地方人民政府消防救援机构应当将发生火灾可能性较大的单位确定为重点单位。",
        "zh",
    )[0]
    assert not checkable(gov, "zh")
    fine = split_provisions(
        "第六十条 违反本法规定，生产经营单位应当责令限期改正，处五万元以下的罚款。", "zh"
    )[0]
    assert not checkable(fine, "zh")


@pytest.mark.parametrize(
    ("sentence", "question"),
    [
        (
            "Guardrail systems shall be installed along all open sides and ends of platforms.",
            "Are guardrail systems installed along all open sides and ends of platforms?",
        ),
        (
            "Each platform on all working levels of scaffolds shall be fully planked or decked.",
            "Is each platform on all working levels of scaffolds fully planked or decked?",
        ),
        (
            "The employer shall provide portable fire extinguishers.",
            "Does the employer provide portable fire extinguishers?",
        ),
        (
            "Scaffolds shall not be loaded in excess of their maximum intended loads.",
            "Is it ensured that scaffolds are not loaded in excess of their maximum intended loads?",
        ),
        (
            "Employees shall not work on scaffolds during storms.",
            "Is it ensured that employees do not work on scaffolds during storms?",
        ),
        (
            "When the employer has reason to believe that an employee lacks the skill, the employer "
            "shall retrain each such employee.",
            "When the employer has reason to believe that an employee lacks the skill, does the "
            "employer retrain each such employee?",
        ),
        (
            "Work on or from scaffolds is prohibited during storms or high winds.",
            "Is it ensured that work on or from scaffolds is not permitted during storms or high winds?",
        ),
        (
            "It shall be the responsibility of the employer to initiate and maintain such programs.",
            "Does the employer initiate and maintain such programs?",
        ),
        ("Exit routes must be free and unobstructed.", "Are exit routes free and unobstructed?"),
    ],
)
def test_en_questions(sentence, question):
    assert to_question(Provision(sentence, sentence, "mandatory"), "en") == question


def test_en_list_items_complete_their_lead_in_and_headings_are_kept_for_matching():
    text = (
        "§ 1926.451 General requirements. (e) Access. (3) Stairway-type ladders shall: "
        "(i) Be positioned such that their bottom step is not more than 24 inches above the "
        "scaffold supporting level; (ii) Be provided with rest platforms at 12 foot maximum "
        "vertical intervals; and (iii) Have slip-resistant treads on all steps and landings."
    )
    provs = split_provisions(text, "en")
    assert [to_question(p, "en") for p in provs] == [
        "Are stairway-type ladders positioned such that their bottom step is not more than 24 "
        "inches above the scaffold supporting level?",
        "Are stairway-type ladders provided with rest platforms at 12 foot maximum vertical intervals?",
        "Do stairway-type ladders have slip-resistant treads on all steps and landings?",
    ]
    assert {p.heading for p in provs} == {"Access"}


def test_definitions_scope_and_the_secretary_are_not_checkable():
    for text in (
        "This section applies to all scaffolds used in workplaces.",
        "The Secretary shall establish programs for the education of employers.",
        "Adjustable suspension scaffold means a suspension scaffold equipped with a hoist.",
    ):
        provs = split_provisions(text, "en")
        assert all(not checkable(p, "en") for p in provs)


def test_long_questions_keep_their_subject_and_their_end():
    p = Provision(
        "生产、储存危险化学品的单位，应当根据"
        + "、".join(["监测", "监控", "通风"] * 20)
        + "等安全设施，保证安全设施、设备的正常使用",
        "",
        "mandatory",
    )
    q = to_question(p, "zh")
    assert (
        len(q) <= 160
        and q.startswith("生产、储存危险化学品的单位，是否")
        and q.endswith("正常使用？")
    )


def test_plural_subjects():
    assert is_plural("Guardrail systems installed to meet the requirements")
    assert is_plural("Scaffolds not specifically addressed by § 1926.452")
    assert not is_plural("Each scaffold and scaffold component")
    assert not is_plural("The employer")


def test_topic_expansion_and_industry_names():
    assert [e.key for e in find_entries("scaffolds")] == ["scaffolds"]
    assert [e.key for e in find_entries("危险化学品储存")] == ["chemicals"]
    assert [e.key for e in find_entries("日常检查", "fire")] == ["fire"]  # the industry's default
    assert normalise_industry("Special equipment") == "special_equipment"
    assert normalise_industry("化工") == "chemical"
    assert "储存" in topic_words("危险化学品储存", "zh")
    assert topic_words("cranes and derricks", "en") == ("crane", "derrick")


# -- drafting on real rules ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus_kb(tmp_path_factory):
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"starter corpus not found at {SHARED_CORPUS}")
    tmp = tmp_path_factory.mktemp("checklist")
    root = tmp / "corpus"
    for rel in FILES:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_CORPUS / rel, dest)
    rows = [
        line
        for line in (SHARED_CORPUS / "manifest.csv").read_text(encoding="utf-8").splitlines()
        if line.startswith("path,") or line.split(",", 1)[0] in FILES
    ]
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    settings = Settings(
        data_dir=tmp / "data", corpus=[root], embedder="hashing", embed_cache=tmp / "cache.sqlite"
    )
    kb = open_kb(settings, embedder=HashingEmbedder())
    report = run_ingest(kb)
    assert report.failed == []
    yield kb
    kb.close()


def _cites(checklist: Checklist, source: str, locator_prefix: str, phrase: str) -> bool:
    return any(
        b.source == source and b.locator.startswith(locator_prefix) and phrase in b.quote
        for it in checklist.items
        for b in it.basis
    )


def test_scaffold_checklist_cites_subpart_l_with_exact_sources(corpus_kb):
    cl = draft_checklist(corpus_kb, "construction", "scaffolds", "US", "en")
    assert 10 <= len(cl.items) <= 40
    assert cl.language == "en" and cl.jurisdiction == "US"
    # every item rests on a clause that obliges, quoted verbatim, with the locator search returns
    search_locators = {h.chunk.locator for h in corpus_kb.search("scaffold", k=400, mode="lexical")}
    for it in cl.items:
        assert it.question.endswith("?")
        for b in it.basis:
            assert normative_of(b.quote, "en") == "mandatory"
            assert b.source == SCAFFOLDS and b.locator in search_locators and b.page
    assert _cites(cl, SCAFFOLDS, "1926.451", "inspected for visible defects by a competent person")
    assert _cites(cl, SCAFFOLDS, "1926.451", "fully planked or decked")
    assert _cites(cl, SCAFFOLDS, "1926.454", "trained by a person qualified")
    # ids are the walking order; categories come in blocks
    assert [it.id for it in cl.items] == [str(n) for n in range(1, len(cl.items) + 1)]
    cats = [it.category for it in cl.items]
    assert all(
        cats.index(c) + cats.count(c) - 1 == len(cats) - 1 - cats[::-1].index(c) for c in set(cats)
    )
    assert cats.index("Access") < cats.index("Training")
    # lessons from the two scaffold accident reports
    lessons = [le for it in cl.items for le in it.lessons]
    assert {le.source for le in lessons} <= {SCAFFOLD_FALL, SCAFFOLD_FALL_2} and lessons


def test_chinese_storage_checklist_merges_the_same_duty_from_two_laws(corpus_kb):
    cl = draft_checklist(corpus_kb, "chemical", "危险化学品储存", "CN")
    assert cl.language == "zh" and cl.title == "危险化学品储存隐患排查清单"
    assert all(it.question.endswith("？") and "是否" in it.question for it in cl.items)
    both = [it for it in cl.items if {b.source for b in it.basis} == {CHEM_REG, CHEM_LAW}]
    assert both, "articles the 2025 law repeats from the 2013 regulation should merge"
    store = next(it for it in cl.items if any(b.locator == "第二十四条" for b in it.basis))
    assert "专用仓库" in store.question
    assert not any(
        b.source == FIRE_LAW for it in cl.items for b in it.basis if it.category == "储存场所与标志"
    )


def test_no_two_items_ask_the_same(corpus_kb):
    for args in (
        ("fire", "消防安全检查", "CN", "zh"),
        ("fire", "fire extinguishers and exit routes", "US", "en"),
    ):
        cl = draft_checklist(corpus_kb, *args, lessons=False)
        quotes = [(b.source, b.locator, b.quote) for it in cl.items for b in it.basis]
        assert len(quotes) == len(set(quotes))
        questions = [re.sub(r"\W", "", it.question) for it in cl.items]
        assert len(questions) == len(set(questions))


def test_json_shape_is_exactly_the_published_one(corpus_kb):
    data = draft_checklist(
        corpus_kb, "fire", "fire extinguishers", "US", "en", max_items=5
    ).to_dict()
    assert list(data) == ["title", "industry", "topic", "jurisdiction", "language", "items"]
    assert len(data["items"]) == 5
    for it in data["items"]:
        assert list(it) == ["id", "question", "category", "mandatory", "basis", "lessons"]
        assert all(list(b) == ["source", "locator", "page", "quote"] for b in it["basis"])
    assert Checklist.from_dict(data).to_dict() == data


def test_unknown_jurisdiction_gives_an_empty_checklist(corpus_kb):
    assert draft_checklist(corpus_kb, "construction", "scaffolds", "CN-BJ", "en").items == []


def test_a_chat_model_may_only_reword_questions(corpus_kb):
    cl = draft_checklist(
        corpus_kb, "fire", "fire extinguishers", "US", "en", max_items=3, lessons=False
    )
    bases = [[(b.source, b.locator) for b in it.basis] for it in cl.items]
    originals = [it.question for it in cl.items]

    def chat(prompt: str) -> str:
        out = []
        for ln in prompt.splitlines():
            m = re.match(r"^(\d+)\. (.+?)  \[rule:", ln)
            if m:
                n, q = m.groups()
                out.append(f"{n}. Checked: {q}" if n != "2" else f"{n}. not a question")
        return "\n".join(out)

    assert rephrase_questions(cl, chat) == 2
    assert cl.items[0].question == "Checked: " + originals[0]
    assert cl.items[1].question == originals[1]  # the reply was not a question: kept
    assert [[(b.source, b.locator) for b in it.basis] for it in cl.items] == bases
    assert rephrase_questions(cl, lambda p: (_ for _ in ()).throw(RuntimeError("down"))) == 0


def test_corpus_files_exist():
    for rel in FILES:
        assert (SHARED_CORPUS / rel).exists() or not SHARED_CORPUS.is_dir(), rel
    assert Path(__file__).name.startswith("test_checklist")
