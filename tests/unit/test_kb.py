"""Knowledge-base contract: registry, vectors and lexical index stay consistent; search fuses them."""

from __future__ import annotations

import shutil
import threading
import uuid

import pytest

from ingest.embedders import HashingEmbedder
from ingest.errors import ConfigError, VectorStoreUnavailable
from ingest.kb import embed_text, open_kb
from ingest.lexical import LexicalIndex, tokenize
from ingest.models import Chunk, DocMeta, make_chunk_id
from tests.chroma_server import free_port

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


class TestStoreContract:
    """The knowledge-base contract, run on the embedded store and on a real Chroma server.

    The server runs (``[server]``) share one ``chroma run`` for the session, each test on a
    collection of its own; they are integration tests, the embedded runs stay in the unit tier.
    """

    @pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.integration)])
    def settings(self, request, settings):
        if request.param == "server":
            settings.chroma_url = request.getfixturevalue("chroma_server")
            settings.collection = f"kb-{uuid.uuid4().hex[:12]}"
        return settings

    def test_every_registered_chunk_gets_exactly_one_vector(self, filled):
        assert filled.registry.pending_count() == 0
        assert filled.vectors.count() == filled.registry.chunk_count() == 7

    @pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
    def test_each_mode_finds_the_matching_clause_first(self, filled, mode):
        hits = filled.search("guardrail top rail height inches", k=3, mode=mode)
        assert hits[0].chunk.locator == "1926.502(b)"
        assert hits[0].chunk.source == CFR.source

    def test_jurisdiction_filter_includes_local_jurisdictions(self, filled):
        hits = filled.search("安全生产教育和培训", k=10, where={"jurisdiction": "CN"})
        sources = {h.chunk.source for h in hits}
        assert sources == {LAW.source, LOCAL.source}
        only_bj = filled.search("安全生产教育和培训", k=10, where={"jurisdiction": "CN-BJ"})
        assert {h.chunk.source for h in only_bj} == {LOCAL.source}

    @pytest.mark.parametrize("mode", ["lexical", "dense"])
    def test_industry_and_language_filters(self, filled, mode):
        hits = filled.search(
            "protection falling guardrail 培训",
            k=10,
            where={"industries": "construction"},
            mode=mode,
        )
        assert hits and all(h.chunk.source == CFR.source for h in hits)
        zh = filled.search("guardrail 培训", k=10, where={"language": "zh"}, mode=mode)
        assert zh and all(h.chunk.language == "zh" for h in zh)

    def test_changed_document_replaces_chunks_and_retires_vectors(self, filled):
        register(
            filled,
            CFR,
            CFR_ITEMS[:1]
            + [
                (
                    "1926.503(a)",
                    "(a) Training program. The employer shall provide a training program.",
                )
            ],
            content_hash="h2",
        )
        assert filled.registry.pending_count() == 1  # the unchanged chunk keeps its vector
        filled.sync_vectors()
        ids = set(filled.vectors.all_ids())
        assert ids == {cid for cid, _ in filled.registry.all_meta()}
        hits = filled.search("top rail 42 inches", k=10, mode="lexical")
        assert all(h.chunk.locator != "1926.502(b)" for h in hits)

    def test_removed_document_leaves_no_orphans(self, filled):
        filled.remove_document(LAW.doc_id)
        filled.sync_vectors()
        assert len(filled.vectors.all_ids()) == filled.registry.chunk_count() == 4
        assert not filled.search("安全风险分级管控", k=5, where={"source": LAW.source})

    def test_interrupted_embedding_is_finished_by_the_next_run(self, kb):
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

    def test_other_embedder_re_embeds_everything(self, filled, settings):
        filled.close()

        class Other(HashingEmbedder):
            name = "hashing-other"

        again = open_kb(settings, embedder=Other(dim=128))
        assert again.vectors.stored_embedder == "hashing-other"
        assert again.registry.pending_count() == 7
        again.sync_vectors()
        assert again.vectors.count() == 7
        again.close()

    def test_doc_type_filter_covers_its_subtypes(self, kb):
        for i, doc_type in enumerate(("accident_records", "accident_report", "regulation")):
            meta = DocMeta(source=f"a{i}.md", title=f"t{i}", doc_type=doc_type, language="en")
            register(kb, meta, [("x", f"worker fell from a ladder {i}")])
        kb.sync_vectors()
        for mode in ("lexical", "dense"):
            hits = kb.search("worker fell ladder", k=5, where={"doc_type": "accident"}, mode=mode)
            assert sorted(h.chunk.doc_type for h in hits) == ["accident_records", "accident_report"]

    def test_changed_embedding_settings_re_embed_only_changed_texts(self, filled, settings):
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


def test_unknown_filter_key_lists_the_valid_ones(filled):
    with pytest.raises(ConfigError, match="Available: jurisdiction"):
        filled.search("x", where={"colour": "red"})


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
    # the slot leads with the structured copy, whichever copy ranked higher
    assert mining[0].chunk.source == mine.source and mining[0].also_in == [copy.source]


def test_a_question_about_us_rules_in_chinese_reaches_english_clauses(filled):
    plain = filled.search("护栏 guardrail 培训", k=3, mode="lexical", cue=False)
    cued = filled.search("美国 护栏 guardrail 培训", k=3, mode="lexical")
    assert cued[0].chunk.jurisdiction == "US"
    assert "cue-lexical" in cued[0].ranks and "cue-lexical" not in plain[0].ranks


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


QUERIES = [
    ("guardrail top rail height inches", "hybrid"),
    ("新工人没有经过培训能上岗吗", "lexical"),
    ("personal fall arrest systems", "lexical"),
    ("安全风险分级管控", "hybrid"),
]


def _results(kb) -> list[list[tuple[str, float]]]:
    return [
        [(h.chunk.chunk_id, round(h.score, 9)) for h in kb.search(q, k=5, mode=m)]
        for q, m in QUERIES
    ]


@pytest.mark.parametrize("damage", ["deleted", "truncated", "emptied-ids"])
def test_a_deleted_or_corrupted_lexical_index_is_rebuilt_with_the_same_results(
    filled, settings, damage
):
    before = _results(filled)
    filled.close()
    folder = settings.data_dir / "lexical"
    if damage == "deleted":
        shutil.rmtree(folder)
    elif damage == "truncated":  # every matrix file cut in half: a torn write
        for npy in folder.glob("*.npy"):
            data = npy.read_bytes()
            npy.write_bytes(data[: len(data) // 2])
    else:
        (folder / "ids.json").write_text("[]", encoding="utf-8")
    again = open_kb(settings, embedder=HashingEmbedder())
    assert LexicalIndex.load(folder, again.registry.generation) is None
    assert _results(again) == before
    # rebuilt and saved: the next process loads it instead of building
    assert LexicalIndex.load(folder, again.registry.generation) is not None
    again.close()


def test_concurrent_saves_and_loads_never_give_a_torn_index(tmp_path):
    """Savers swap the folder while readers load it: every read is whole, or None (rebuild)."""
    folder = tmp_path / "lexical"
    words = ["guardrail", "ladder", "scaffold", "培训", "harness", "hoist", "crane", "trench"]
    indexes = [
        LexicalIndex.build(
            [f"{n}-{i}" for i in range(n)], [[words[(i + n) % 8], words[i % 3]] for i in range(n)]
        )
        for n in (40, 90)
    ]
    indexes[0].save(folder, 7)
    stop = threading.Event()
    errors: list[BaseException] = []

    def save(index: LexicalIndex) -> None:
        try:
            while not stop.is_set():
                index.save(folder, 7)
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    savers = [threading.Thread(target=save, args=(ix,)) for ix in indexes]
    for t in savers:
        t.start()
    loaded = 0
    try:
        for _ in range(60):
            index = LexicalIndex.load(folder, 7)
            if index is None:
                continue
            loaded += 1
            n = len(index.ids)
            assert n in (40, 90) and index.ids[-1] == f"{n}-{n - 1}"
            assert len(index.scores(["guardrail"])) == n
    finally:
        stop.set()
        for t in savers:
            t.join()
    assert not errors and loaded > 0
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["lexical", "lexical.lock"]


def test_an_older_generation_never_replaces_a_newer_index(tmp_path):
    folder = tmp_path / "lexical"
    new = LexicalIndex.build(["a", "b"], [["guardrail"], ["ladder"]])
    old = LexicalIndex.build(["a"], [["guardrail"]])
    new.save(folder, 5)
    old.save(folder, 4)  # a slow process finishing late
    assert LexicalIndex.load(folder, 4) is None
    assert LexicalIndex.load(folder, 5).ids == ["a", "b"]


def test_an_unreachable_chroma_server_is_a_clear_error_and_lexical_search_goes_on(kb, settings):
    register(kb, CFR, CFR_ITEMS)
    settings.chroma_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(VectorStoreUnavailable, match="not answering.*ANQUAN_CHROMA_URL") as err:
        kb.search("guardrail top rail", k=1, mode="hybrid")
    assert settings.chroma_url in str(err.value)
    assert kb.search("guardrail top rail", k=1, mode="lexical")[0].chunk.locator == "1926.502(b)"
