"""Knowledge-base contract: registry, vectors and lexical index stay consistent; search fuses them."""

from __future__ import annotations

import shutil

import pytest

from ingest.embedders import HashingEmbedder
from ingest.errors import ConfigError
from ingest.kb import embed_text, open_kb
from ingest.lexical import tokenize
from ingest.models import Chunk, DocMeta, make_chunk_id

LAW = DocMeta(
    source="regulations/cn/安全生产法(2021-06-10).md",
    title="中华人民共和国安全生产法",
    doc_type="law",
    jurisdiction="CN",
    language="zh",
    industries=["general"],
)
LOCAL = DocMeta(
    source="regulations/cn-local/北京市安全生产条例(2022-05-25).md",
    title="北京市安全生产条例",
    doc_type="local_regulation",
    jurisdiction="CN-BJ",
    language="zh",
    industries=["general"],
)
CFR = DocMeta(
    source="regulations/us/29cfr1926/subpart-M.pdf",
    title="29 CFR 1926 Subpart M",
    doc_type="regulation",
    jurisdiction="US",
    language="en",
    industries=["construction"],
)


def chunks_for(meta: DocMeta, items: list[tuple[str, str]]) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=make_chunk_id(meta.doc_id, loc, 0),
            doc_id=meta.doc_id,
            source=meta.source,
            title=meta.title,
            text=text,
            locator=loc,
            language=meta.language,
            doc_type=meta.doc_type,
            jurisdiction=meta.jurisdiction,
            industries=meta.industries,
        )
        for loc, text in items
    ]


def register(kb, meta: DocMeta, items: list[tuple[str, str]], content_hash: str = "h1") -> None:
    chunks = chunks_for(meta, items)
    kb.registry.replace_document(
        meta,
        root="/corpus",
        path="/corpus/" + meta.source,
        fmt="markdown",
        content_hash=content_hash,
        size=1,
        chunks=chunks,
        tokens=[tokenize(f"{c.title} {c.locator}\n{c.text}") for c in chunks],
        embed_hashes=[kb.embed_hash(c) for c in chunks],
    )


LAW_ITEMS = [
    (
        "第二十一条",
        "第二十一条 生产经营单位的主要负责人对本单位安全生产工作负有下列职责：建立健全全员安全生产责任制。",
    ),
    (
        "第二十八条",
        "第二十八条 生产经营单位应当对从业人员进行安全生产教育和培训，未经安全生产教育和培训合格的从业人员，不得上岗作业。",
    ),
    (
        "第四十一条",
        "第四十一条 生产经营单位应当建立安全风险分级管控制度，按照安全风险分级采取相应的管控措施。",
    ),
]
CFR_ITEMS = [
    (
        "1926.501(b)(1)",
        "(1) Unprotected sides and edges. Each employee on a walking/working surface with an unprotected side or edge which is 6 feet or more above a lower level shall be protected from falling by the use of guardrail systems.",
    ),
    (
        "1926.502(d)",
        "(d) Personal fall arrest systems. Personal fall arrest systems and their use shall comply with the provisions set forth below.",
    ),
    (
        "1926.502(b)",
        "(b) Guardrail systems. Top edge height of top rails shall be 42 inches plus or minus 3 inches above the walking/working level.",
    ),
]


@pytest.fixture
def filled(kb):
    register(kb, LAW, LAW_ITEMS)
    register(kb, LOCAL, [("第十条", "第十条 生产经营单位应当组织从业人员进行安全生产教育和培训。")])
    register(kb, CFR, CFR_ITEMS)
    kb.sync_vectors()
    return kb


def test_every_registered_chunk_gets_exactly_one_vector(filled):
    assert filled.registry.pending_count() == 0
    assert filled.vectors.count() == filled.registry.chunk_count() == 7


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_each_mode_finds_the_matching_clause_first(filled, mode):
    hits = filled.search("guardrail top rail height inches", k=3, mode=mode)
    assert hits[0].chunk.locator == "1926.502(b)"
    assert hits[0].chunk.source == CFR.source


def test_chinese_query_is_segmented_and_found(filled):
    hits = filled.search("新工人没有经过培训能上岗吗", k=2, mode="lexical")
    assert hits[0].chunk.locator in ("第二十八条", "第十条")


def test_clause_reference_with_document_hint_comes_first(filled):
    hits = filled.search("安全生产法第四十一条讲的是什么", k=3)
    assert (hits[0].chunk.locator, hits[0].chunk.source) == ("第四十一条", LAW.source)
    assert "clause" in hits[0].ranks


def test_cfr_reference_boosts_its_paragraphs(filled):
    hits = filled.search("what does 1926.502(d) require", k=3)
    assert hits[0].chunk.locator == "1926.502(d)"


def test_jurisdiction_filter_includes_local_jurisdictions(filled):
    hits = filled.search("安全生产教育和培训", k=10, where={"jurisdiction": "CN"})
    sources = {h.chunk.source for h in hits}
    assert sources == {LAW.source, LOCAL.source}
    only_bj = filled.search("安全生产教育和培训", k=10, where={"jurisdiction": "CN-BJ"})
    assert {h.chunk.source for h in only_bj} == {LOCAL.source}


@pytest.mark.parametrize("mode", ["lexical", "dense"])
def test_industry_and_language_filters(filled, mode):
    hits = filled.search(
        "protection falling guardrail 培训", k=10, where={"industries": "construction"}, mode=mode
    )
    assert hits and all(h.chunk.source == CFR.source for h in hits)
    zh = filled.search("guardrail 培训", k=10, where={"language": "zh"}, mode=mode)
    assert zh and all(h.chunk.language == "zh" for h in zh)


def test_unknown_filter_key_lists_the_valid_ones(filled):
    with pytest.raises(ConfigError, match="Available: jurisdiction"):
        filled.search("x", where={"colour": "red"})


def test_changed_document_replaces_chunks_and_retires_vectors(filled):
    register(
        filled,
        CFR,
        CFR_ITEMS[:1]
        + [("1926.503(a)", "(a) Training program. The employer shall provide a training program.")],
        content_hash="h2",
    )
    assert filled.registry.pending_count() == 1  # the unchanged chunk keeps its vector
    filled.sync_vectors()
    ids = set(filled.vectors.all_ids())
    assert ids == {cid for cid, _ in filled.registry.all_meta()}
    hits = filled.search("top rail 42 inches", k=10, mode="lexical")
    assert all(h.chunk.locator != "1926.502(b)" for h in hits)


def test_removed_document_leaves_no_orphans(filled):
    filled.remove_document(LAW.doc_id)
    filled.sync_vectors()
    assert len(filled.vectors.all_ids()) == filled.registry.chunk_count() == 4
    assert not filled.search("安全风险分级管控", k=5, where={"source": LAW.source})


def test_interrupted_embedding_is_finished_by_the_next_run(kb):
    register(kb, LAW, LAW_ITEMS)
    register(kb, CFR, CFR_ITEMS)
    kb.settings.embed_batch_size = 2
    assert kb.sync_vectors(limit=2) == 2
    assert kb.registry.pending_count() == 4
    # lexical search already sees everything; dense sees what is embedded
    assert len(kb.search("guardrail", k=10, mode="lexical")) >= 1
    kb.sync_vectors()
    assert kb.registry.pending_count() == 0
    assert kb.vectors.count() == 6


def test_lexical_index_is_persisted_and_rebuilt_when_damaged(filled, settings):
    filled.lexical()
    folder = settings.data_dir / "lexical"
    assert (folder / "stamp.json").exists()
    filled.close()
    shutil.rmtree(folder)
    (folder).mkdir()
    (folder / "stamp.json").write_text("{not json")
    again = open_kb(settings, embedder=HashingEmbedder())
    hits = again.search("guardrail top rail", k=1, mode="lexical")
    assert hits[0].chunk.locator == "1926.502(b)"
    assert '"generation"' in (folder / "stamp.json").read_text()
    again.close()


def test_other_embedder_re_embeds_everything(filled, settings):
    filled.close()

    class Other(HashingEmbedder):
        name = "hashing-other"

    again = open_kb(settings, embedder=Other(dim=128))
    assert again.vectors.stored_embedder == "hashing-other"
    assert again.registry.pending_count() == 7
    again.sync_vectors()
    assert again.vectors.count() == 7
    again.close()


def test_embedding_cache_avoids_second_embedding(filled):
    emb = filled.embedder
    before = emb.misses
    emb.embed_passages(["第四十一条 生产经营单位应当建立安全风险分级管控制度"] * 2)
    emb.embed_passages(["第四十一条 生产经营单位应当建立安全风险分级管控制度"])
    assert emb.misses - before == 1


def test_stats_group_documents_and_chunks(filled):
    stats = filled.stats()
    assert stats["documents"] == 3 and stats["chunks"] == 7
    assert stats["by"]["jurisdiction"]["CN-BJ"] == {"documents": 1, "chunks": 1}
    assert stats["by"]["language"]["zh"]["chunks"] == 4


def test_copies_of_a_clause_take_one_slot_and_name_each_other(kb):
    copy = DocMeta(
        source="regulations/cn-coal/19-中华人民共和国矿山安全法.txt",
        title="中华人民共和国矿山安全法",
        doc_type="law",
        jurisdiction="CN",
        language="zh",
    )
    mine = DocMeta(
        source="regulations/cn/矿山安全法(2009-08-27).md",
        title="中华人民共和国矿山安全法",
        doc_type="law",
        jurisdiction="CN",
        language="zh",
    )
    register(
        kb,
        mine,
        [
            (
                "第二十六条",
                "第二十六条 矿山企业必须对职工进行安全教育、培训；未经安全教育、培训的，不得上岗作业。",
            )
        ],
    )
    register(
        kb,
        copy,
        [
            (
                "第二十六条",
                "第二十六条矿山企业必须对职工进行安全教育、培训；未经安全教育、培训的，不得上岗作业。\\n",
            )
        ],
    )
    register(kb, LAW, LAW_ITEMS)
    kb.sync_vectors()
    hits = kb.search("矿山企业 安全教育 培训 上岗作业", k=5)
    mining = [h for h in hits if "矿山" in h.chunk.title]
    assert len(mining) == 1
    assert {mining[0].chunk.source, *mining[0].also_in} == {mine.source, copy.source}
    assert mining[0].to_dict()["also_in"] == mining[0].also_in


def test_a_question_about_us_rules_in_chinese_reaches_english_clauses(filled):
    plain = filled.search("护栏 guardrail 培训", k=3, mode="lexical", cue=False)
    cued = filled.search("美国 护栏 guardrail 培训", k=3, mode="lexical")
    assert cued[0].chunk.jurisdiction == "US"
    assert "cue-lexical" in cued[0].ranks and "cue-lexical" not in plain[0].ranks


def test_doc_type_filter_covers_its_subtypes(kb):
    for i, doc_type in enumerate(("accident_records", "accident_report", "regulation")):
        meta = DocMeta(source=f"a{i}.md", title=f"t{i}", doc_type=doc_type, language="en")
        register(kb, meta, [("x", f"worker fell from a ladder {i}")])
    kb.sync_vectors()
    for mode in ("lexical", "dense"):
        hits = kb.search("worker fell ladder", k=5, where={"doc_type": "accident"}, mode=mode)
        assert sorted(h.chunk.doc_type for h in hits) == ["accident_records", "accident_report"]


def test_accident_records_yield_to_rules_unless_the_question_asks_for_one(kb):
    rule = DocMeta(source="rule.md", title="Ladders", doc_type="regulation", language="en")
    record = DocMeta(
        source="acc.csv", title="Accidents", doc_type="accident_records", language="en"
    )
    register(
        kb, rule, [("1926.1053(b)(13)", "The top of a stepladder shall not be used as a step.")]
    )
    register(
        kb, record, [("17", "Employee stood on the top of a stepladder used as a step and fell.")]
    )
    kb.sync_vectors()
    asks_rule = kb.search("can a worker use the top of a stepladder as a step", k=2)
    assert asks_rule[0].chunk.source == "rule.md"
    asks_case = kb.search("is there an accident record of a worker on the top of a stepladder", k=2)
    assert asks_case[0].chunk.source == "acc.csv"


def test_changed_embedding_settings_re_embed_only_changed_texts(filled, settings):
    chunks = list(filled.registry.chunks([c for c, _ in filled.registry.all_meta()]).values())
    filled.close()
    changed = sum(embed_text(c, 1400) != embed_text(c, 40) for c in chunks)
    assert 0 < changed < len(chunks)
    settings.embed_max_chars = 40
    again = open_kb(settings, embedder=HashingEmbedder())
    assert again.vectors is not None
    assert again.registry.pending_count() == 7
    misses = again.embedder.misses
    again.sync_vectors()
    assert again.embedder.misses - misses == changed  # unchanged texts come from the cache
    again.close()
    third = open_kb(settings, embedder=HashingEmbedder())
    assert third.vectors is not None and third.registry.pending_count() == 0
    third.close()
