"""Loaders on the real starter corpus: every file loads, and the structure the chunker relies
on (headings, labelled paragraphs, pages, record ids) comes out of the real files.

Each file is loaded once per session (about 20 s of CPU in all, nearly all of it pypdf on the
28 CFR 1926 PDFs) and shared by the tests below. Load times are CPU time, not wall time, so a
busy machine does not fail the speed check.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from ingest.loaders import load
from ingest.models import LoadedDocument

pytestmark = pytest.mark.integration

CORPUS = (Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus").resolve()
SUBPART_M = "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf"
CONFINED_SPACES = "regulations/us/29cfr1910/1910.146.html"


def manifest_paths() -> list[str]:
    manifest = CORPUS / "manifest.csv"
    if not manifest.exists():
        return []
    with manifest.open(encoding="utf-8", newline="") as fh:
        return [row["path"] for row in csv.DictReader(fh)]


_loaded: dict[str, LoadedDocument] = {}


def loaded(rel: str) -> LoadedDocument:
    """The loaded file (cached for the session); skips when the corpus is absent."""
    if rel not in _loaded:
        path = CORPUS / rel
        if not path.exists():
            pytest.skip(f"starter corpus file not found: {path}")
        _loaded[rel] = load(path)
    return _loaded[rel]


@pytest.mark.parametrize("rel", manifest_paths() or ["(corpus missing)"])
def test_every_corpus_file_loads(rel: str) -> None:
    doc = loaded(rel)
    if doc.format in ("csv", "xlsx"):
        assert doc.records and all(r.id and r.text for r in doc.records)
        assert len({r.id for r in doc.records}) == len(doc.records)
    else:
        assert doc.blocks and all(b.text.strip() for b in doc.blocks)
        assert (
            doc.format
            == {".pdf": "pdf", ".html": "html", ".md": "markdown", ".txt": "text"}[Path(rel).suffix]
        )
    if doc.format == "pdf":
        assert all(b.page is not None and b.page >= 1 for b in doc.blocks)


def test_subpart_m_paragraphs_pages_and_no_running_footer() -> None:
    doc = loaded(SUBPART_M)
    assert doc.title == "29 CFR Part 1926 Subpart M—Fall Protection"
    assert not any(re.search(r"Page \d+ of \d+", b.text) for b in doc.blocks)
    assert not any(b.text.startswith("29 CFR Part 1926 — Subpart M") for b in doc.blocks)

    headings = [b for b in doc.blocks if b.kind == "heading"]
    assert [h.text for h in headings if h.text.startswith("§")] == [
        "§ 1926.500 Scope, application, and definitions applicable to this subpart.",
        "§ 1926.501 Duty to have fall protection.",
        "§ 1926.502 Fall protection systems criteria and practices.",
        "§ 1926.503 Training requirements.",
    ]
    start = doc.blocks.index(next(h for h in headings if h.text.startswith("§ 1926.502")))
    end = doc.blocks.index(next(h for h in headings if h.text.startswith("§ 1926.503")))
    section = doc.blocks[start + 1 : end]
    assert all(b.kind == "paragraph" for b in section)
    d = [b for b in section if b.text.startswith("(d)")]
    assert len(d) == 1
    assert d[0].text.startswith("(d) Personal fall arrest systems.")
    assert d[0].page == 9
    # every labelled paragraph of the section is its own block, opening with its label
    labels = iter(b.text[:3] for b in section if re.match(r"\([a-z]\) ", b.text))
    assert all(f"({c})" in labels for c in "abcdefghijk")  # (a)..(k) in order
    # 1926.502 is labelled paragraphs, a table and three notes: nothing else got glued on
    unlabelled = [b.text[:5] for b in section if not b.text.startswith("(")]
    assert unlabelled == ["Note:", "Verti", "Note:", "Note:"]
    assert len(section) > 150


def test_subpart_m_paragraph_split_by_a_page_break_is_one_block() -> None:
    doc = loaded(SUBPART_M)
    block = next(b for b in doc.blocks if b.text.startswith("(2) Leading edges."))
    assert block.page == 4
    assert "greater hazard to use these systems, the employer shall develop" in block.text
    assert not any(b.text.startswith("systems, the employer shall develop") for b in doc.blocks)


def test_all_1926_section_headings_are_heading_blocks() -> None:
    pdfs = [rel for rel in manifest_paths() if "/29cfr1926/" in rel]
    if not pdfs:
        pytest.skip("starter corpus not found")
    sections = [
        b.text
        for rel in pdfs
        for b in loaded(rel).blocks
        if b.kind == "heading" and b.text.startswith("§")
    ]
    assert len(sections) == 304  # the corpus README's count
    stray = [
        b.text[:60] for rel in pdfs for b in loaded(rel).blocks
        if b.kind == "paragraph" and re.match(r"§+ 1926\.\d+\S* [A-Z\[]", b.text)
    ]  # fmt: skip
    assert stray == []


def test_1910_146_html_paragraphs_without_breadcrumb() -> None:
    doc = loaded(CONFINED_SPACES)
    assert doc.title == "29 CFR 1910.146 — Permit-required confined spaces."
    assert doc.blocks[0].kind == "heading"
    assert doc.blocks[0].text == "§ 1910.146 Permit-required confined spaces."
    assert doc.blocks[1].text.startswith("(a) Scope and application. This section contains")
    assert any(b.text.startswith("Confined space means a space that:") for b in doc.blocks)
    assert len([b for b in doc.blocks if b.kind == "paragraph"]) > 200
    assert not any("Chapter XVII" in b.text or " · " in b.text for b in doc.blocks)


@pytest.mark.parametrize(
    ("rel", "id_column", "text_column", "rows", "first_id"),
    [
        ("accidents/us/osha-construction-accidents.csv", "case_id", "summary", 4470, "200361855"),
        ("accidents/us/msha-accidents-2000-2015.csv", "record_id", "narrative", 2000, "msha-0001"),
        ("accidents/us/osha-accident-abstracts-2016-2017.csv", "record_id", "abstract", 599, "osha1617-0001"),
    ],
)  # fmt: skip
def test_accident_csvs(
    rel: str, id_column: str, text_column: str, rows: int, first_id: str
) -> None:
    doc = loaded(rel)
    assert len(doc.records) == rows
    assert doc.records[0].id == first_id
    with (CORPUS / rel).open(encoding="utf-8", newline="") as fh:
        first_row = next(csv.DictReader(fh))
    assert doc.records[0].id == first_row[id_column]
    assert doc.records[0].text == first_row[text_column]
    assert id_column not in doc.records[0].fields
    assert text_column not in doc.records[0].fields


def test_accident_titles() -> None:
    osha = loaded("accidents/us/osha-construction-accidents.csv").records[0]
    assert osha.title == "Two Workers Are Struck By Motor Vehicle And One Is Killed"
    abstracts = loaded("accidents/us/osha-accident-abstracts-2016-2017.csv").records[0]
    assert abstracts.title == "EMPLOYEE'S FINGERS AMPUTATED WHILE OPERATING A 400 TON MECHA"
    assert loaded("accidents/us/msha-accidents-2000-2015.csv").records[0].title is None


def test_cn_coal_text_literal_newlines_and_chapters() -> None:
    doc = loaded("regulations/cn-coal/19-中华人民共和国矿山安全法.txt")
    assert "\\n" not in doc.text
    assert doc.blocks[2].kind == "heading" and doc.blocks[2].text == "第一章总则"
    article = next(b for b in doc.blocks if b.text.startswith("第一条"))
    assert article.text == (
        "第一条为了保障矿山生产安全，防止矿山事故，保护矿山职工人身安全，促进采矿业的发展，制定本法。"
    )


def test_fom_headings() -> None:
    doc = loaded("guidance/us/osha-fom/fom-chapter-3-inspection-procedures.txt")
    headings = [b.text for b in doc.blocks if b.kind == "heading"]
    assert headings[:5] == [
        "Field Operations Manual",
        "Chapter 3",
        "INSPECTION PROCEDURES",
        "General Inspection Procedures",
        "Inspection Preparation and Planning",
    ]
    assert any(
        b.text.endswith(
            "However, the State Plan citation cannot be used to support a repeat violation."
        )
        for b in doc.blocks
    )


def test_chinese_markdown_law() -> None:
    doc = loaded("regulations/cn/安全生产法(2021-06-10).md")
    assert doc.title == "中华人民共和国安全生产法"
    assert "INFO END" not in doc.text
    chapters = [b.text for b in doc.blocks if b.kind == "heading" and b.level == 2]
    assert chapters[0] == "第一章 总则"
    assert len(chapters) == 7
