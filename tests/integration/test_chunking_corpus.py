"""Chunking the real starter corpus: locators, structure and sizes hold on the actual files."""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

import pytest

from ingest.chunking import MAX_CHARS, chunk_document
from ingest.clauses import int_to_cn
from ingest.language import detect_language
from ingest.loaders import load
from ingest.models import Chunk, DocMeta

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (CORPUS / "manifest.csv").exists(), reason="shared corpus not present"),
]


@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    with (CORPUS / "manifest.csv").open(encoding="utf-8", newline="") as f:
        return {row["path"]: row for row in csv.DictReader(f)}


@functools.cache
def chunks_of(source: str) -> list[Chunk]:
    doc = load(CORPUS / source)
    row = manifest().get(source, {})
    meta = DocMeta(
        source=source,
        title=row.get("title") or doc.title or Path(source).stem,
        doc_type=row.get("doc_type", "other"),
        jurisdiction=row.get("jurisdiction", ""),
        language=row.get("language") or detect_language(doc.text[:4000]),
        industries=[i for i in row.get("industries", "").split(";") if i],
    )
    return chunk_document(doc, meta)


WORK_SAFETY_LAW = "regulations/cn/安全生产法(2021-06-10).md"
SUBPART_M = "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf"
CONFINED_SPACES = "regulations/us/29cfr1910/1910.146.html"
ARTICLE = re.compile(r"^第[零〇一二三四五六七八九十百千]+条$")


def test_article_41_of_the_work_safety_law_starts_with_its_own_text() -> None:
    chunk = next(c for c in chunks_of(WORK_SAFETY_LAW) if c.locator == "第四十一条")
    assert chunk.text.startswith("第四十一条 生产经营单位应当建立安全风险分级管控制度")
    assert "第四十二条" not in chunk.text
    assert chunk.heading_path == "第二章 生产经营单位的安全生产保障"
    assert chunk.normative == "mandatory"
    assert chunk.language == "zh" and chunk.doc_type == "law"


def test_every_article_of_the_work_safety_law_starts_exactly_one_chunk() -> None:
    firsts = [
        c.locator
        for c in chunks_of(WORK_SAFETY_LAW)
        if ARTICLE.match(c.locator) and c.chunk_id.endswith(":0")
    ]
    assert firsts == [f"第{int_to_cn(n)}条" for n in range(1, 120)]
    assert not any("第二十九次会议" in c.text for c in chunks_of(WORK_SAFETY_LAW))


def test_subpart_m_pdf_has_paragraph_locators_with_pages() -> None:
    chunks = chunks_of(SUBPART_M)
    personal_fall_arrest = [c for c in chunks if c.locator.startswith("1926.502(d)")]
    assert personal_fall_arrest
    assert all(isinstance(c.page, int) and c.page >= 1 for c in personal_fall_arrest)
    first = personal_fall_arrest[0]
    assert first.locator == "1926.502(d)"
    assert (
        first.heading_path
        == "Subpart M > § 1926.502 Fall protection systems criteria and practices."
    )
    assert "(d) Personal fall arrest systems" in first.text
    assert any(c.locator == "1926.502(d)(16)" for c in chunks)
    assert {c.locator.split("(")[0] for c in chunks} == {
        "1926.500",
        "1926.501",
        "1926.502",
        "1926.503",
    }
    assert not any(re.search(r"Page \d+ of \d+", c.text) for c in chunks)


def test_1910_146_html_has_paragraph_locators_and_no_breadcrumb() -> None:
    chunks = chunks_of(CONFINED_SPACES)
    assert all(c.locator.startswith("1910.146") for c in chunks)
    labelled = [c for c in chunks if c.locator.startswith("1910.146(")]
    appendices = [c for c in chunks if c.locator.startswith("1910.146 Appendix ")]
    assert len(labelled) >= 40 and len(labelled) + len(appendices) == len(chunks)
    assert chunks[0].locator == "1910.146(a)"
    assert chunks[0].text.startswith("§ 1910.146 Permit-required confined spaces.\n(a) Scope")
    for c in chunks:
        assert "Title 29 — Labor" not in c.text
        assert "Chapter XVII" not in c.text
    assert any(c.locator.startswith("1910.146(c)(5)(ii)") for c in chunks)


def test_1904_markdown_and_osh_act() -> None:
    recordkeeping = {c.locator: c for c in chunks_of("regulations/us/29cfr1904-recordkeeping.md")}
    assert "1904.1(a)" in recordkeeping
    assert recordkeeping["1904.1(a)"].heading_path.startswith("Subpart B > § 1904.1 ")
    act = {c.locator: c for c in chunks_of("regulations/us/osh-act-1970.md")}
    duties = act["SEC. 5(a)"]
    assert "free from recognized hazards" in duties.text
    assert duties.heading_path == "SEC. 5. Duties"


@pytest.mark.parametrize(
    "source",
    sorted(
        p.relative_to(CORPUS).as_posix() for p in (CORPUS / "regulations" / "cn-coal").glob("*.txt")
    ),
)
def test_coal_mine_texts_give_article_locators(source: str) -> None:
    chunks = chunks_of(source)
    articles = [c for c in chunks if ARTICLE.match(c.locator)]
    assert articles[0].locator == "第一条"
    assert len(articles) >= 0.9 * len(chunks) - 2
    assert all(c.text.startswith(c.locator) for c in articles if c.chunk_id.endswith(":0"))
    assert not any("\\n" in c.text for c in chunks)


def test_fom_chapter_is_located_by_headings() -> None:
    chunks = chunks_of("guidance/us/osha-fom/fom-chapter-3-inspection-procedures.txt")
    planning = [c for c in chunks if c.locator == "Inspection Preparation and Planning"]
    assert len(planning) == 1
    assert "adequately prepare for each inspection" in planning[0].text


def test_accident_csv_gives_one_chunk_per_record() -> None:
    source = "accidents/us/osha-construction-accidents.csv"
    with (CORPUS / source).open(encoding="utf-8", newline="") as f:
        ids = [row["case_id"] for row in csv.DictReader(f)]
    chunks = chunks_of(source)
    assert [c.locator for c in chunks] == ids
    first = chunks[0]
    assert first.source == f"{source}#{ids[0]}"
    assert first.text.startswith("Two Workers Are Struck By Motor Vehicle And One Is Killed\n")
    assert "event_keywords: construction" in first.text
    assert len({c.doc_id for c in chunks}) == 1


@pytest.mark.slow
def test_whole_corpus_chunks_are_nonempty_unique_and_sized() -> None:
    sources = sorted(
        p.relative_to(CORPUS).as_posix()
        for p in CORPUS.rglob("*")
        if p.is_file() and p.name not in ("manifest.csv", "README.md")
    )
    for source in sources:
        chunks = chunks_of(source)
        assert chunks, source
        assert len({c.chunk_id for c in chunks}) == len(chunks), source
        for c in chunks:
            assert c.text.strip() and "  " not in c.text, (source, c.locator)
            if not c.source.count("#"):
                assert len(c.text) <= MAX_CHARS[c.language], (source, c.locator)
