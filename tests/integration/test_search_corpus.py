"""Search on real corpus files with the default embedder (multilingual e5): paraphrased
questions in both languages, and across languages, find the right clause in the top 5."""

from __future__ import annotations

import shutil

import pytest

from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.conftest import MODEL_CACHE

pytestmark = pytest.mark.integration

FILES = [
    "regulations/cn/安全生产法(2021-06-10).md",
    "regulations/cn/消防法(2021-04-29).md",
    "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf",
    "regulations/us/29cfr1910/1910.146.html",
    "manifest.csv",
]


@pytest.fixture(scope="module")
def real_kb(tmp_path_factory, request):
    from tests.conftest import SHARED_CORPUS

    if not SHARED_CORPUS.is_dir():
        pytest.skip("starter corpus not found")
    tmp = tmp_path_factory.mktemp("search")
    corpus = tmp / "corpus"
    for rel in FILES:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_CORPUS / rel, corpus / rel)
    settings = Settings(
        data_dir=tmp / "data", corpus=[corpus], embed_cache=MODEL_CACHE / "embed_cache.sqlite"
    )
    assert settings.embedder == "e5-small-q4"  # the default is what is tested
    kb = open_kb(settings)
    report = run_ingest(kb)
    assert report.exit_code == 0 and report.vectors_pending == 0
    yield kb
    kb.close()


def _top(kb, query, k=5, **kw):
    return [(h.chunk.source.split("/")[-1], h.chunk.locator) for h in kb.search(query, k=k, **kw)]


@pytest.mark.parametrize(
    ("question", "source", "locator"),
    [
        ("新来的工人没培训能不能直接干活", "安全生产法(2021-06-10).md", "第二十八条"),
        ("发现事故隐患，企业要怎么排查和治理", "安全生产法(2021-06-10).md", "第四十一条"),
        ("单位的消防通道能不能堆东西占用", "消防法(2021-04-29).md", "第二十八条"),
        (
            "when does a worker on a roof edge need guardrails or a harness",
            "29cfr1926-subpart-M-fall-protection.pdf",
            "1926.501(b)",
        ),
        (
            "how strong must the anchorage for a personal fall arrest system be",
            "29cfr1926-subpart-M-fall-protection.pdf",
            "1926.502(d)",
        ),
        ("who has to stay outside a tank while a worker is inside it", "1910.146.html", "1910.146"),
    ],
)
def test_paraphrased_question_finds_its_clause_in_top_5(real_kb, question, source, locator):
    top = _top(real_kb, question, mode="dense")
    assert any(s == source and loc.startswith(locator) for s, loc in top), top
    fused = _top(real_kb, question)
    assert any(s == source and loc.startswith(locator) for s, loc in fused), fused


def test_cross_lingual_question_finds_the_other_language(real_kb):
    top = _top(
        real_kb, "防坠落系统的锚固点需要承受多大的力", k=5, mode="dense", where={"language": "en"}
    )
    assert any(loc.startswith("1926.502(d)") for _, loc in top), top
    top = _top(
        real_kb,
        "must a company give workers safety training before they start work in China",
        k=5,
        where={"language": "zh"},
    )
    assert any(loc == "第二十八条" for _, loc in top), top


def test_exact_clause_reference_comes_first(real_kb):
    assert _top(real_kb, "安全生产法第四十一条", k=1) == [
        ("安全生产法(2021-06-10).md", "第四十一条")
    ]
    top = real_kb.search("1926.502(d)(15)", k=1)[0].chunk
    assert top.locator.startswith("1926.502(d)") and top.page is not None
