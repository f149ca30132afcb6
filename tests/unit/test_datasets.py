"""Schema and provenance checks for the evaluation sets in ``evals/datasets``.

The dev and smoke sets are the yardstick for retrieval and answers, so a typo in a source path
or an evidence phrase that is not really in the clause would quietly turn a good answer into a
miss. These tests keep the files honest: the shape of every line, the minimum counts promised in
issue #3, and, when the starter corpus sits next to the repository, that every gold source exists
and every evidence phrase is found verbatim (after whitespace normalisation) in a gold source.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO / "evals" / "datasets"
CORPUS = REPO / ".." / "shared" / "corpus"

REQUIRED = {
    "id": str,
    "question": str,
    "lang": str,
    "answerable": bool,
    "gold": list,
    "facts": list,
    "evidence": list,
    "category": str,
}
CATEGORIES = {"lookup", "numeric", "two_clause", "cross_lingual", "accident", "unanswerable"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load(name: str) -> list[dict]:
    path = DATASETS / name
    items = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                item = json.loads(line)
                item["_line"] = f"{name}:{n}"
                items.append(item)
    return items


DEV = _load("dev.jsonl")
SMOKE = _load("smoke.jsonl")
ALL = DEV + SMOKE


def _ids(items: list[dict]) -> list[str]:
    return [item["_line"] for item in items]


def _is_chinese_source(source: str) -> bool:
    return source.startswith("regulations/cn")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------------------------- schema
@pytest.mark.parametrize("item", ALL, ids=_ids(ALL))
def test_line_has_the_required_fields_and_types(item: dict) -> None:
    for key, kind in REQUIRED.items():
        assert key in item, f"missing {key!r}"
        assert isinstance(item[key], kind), f"{key!r} should be {kind.__name__}"
    assert item["lang"] in {"zh", "en"}
    assert item["category"] in CATEGORIES
    assert item["question"].strip()
    for gold in item["gold"]:
        assert set(gold) in ({"source", "locator"}, {"source", "locator", "evidence"})
        assert isinstance(gold["source"], str) and gold["source"]
        assert isinstance(gold["locator"], str) and gold["locator"]
        assert not gold["source"].startswith("/"), "sources are relative to the corpus root"
        assert "§" not in gold["locator"] and " (" not in gold["locator"]
    assert all(isinstance(f, str) and f for f in item["facts"])
    assert all(isinstance(e, str) and 8 <= len(e) <= 60 for e in item["evidence"])


@pytest.mark.parametrize("item", ALL, ids=_ids(ALL))
def test_answerable_iff_gold_and_category_rules(item: dict) -> None:
    assert item["answerable"] == bool(item["gold"])
    assert (item["category"] == "unanswerable") == (not item["answerable"])
    if item["answerable"]:
        assert item["facts"], "an answerable question names what a correct answer must contain"
        assert item["evidence"], "an answerable question needs 1-3 evidence phrases"
        assert len(item["evidence"]) <= 3
    else:
        assert item["facts"] == [] and item["evidence"] == []
    if item["category"] == "two_clause":
        # each clause carries its own phrases (metrics prefer them to the item-level list), so a
        # chunk of one clause is never credited to the other clause of the same law
        assert len(item["gold"]) == 2
        assert len({(g["source"], g["locator"]) for g in item["gold"]}) == 2
        assert all(g.get("evidence") for g in item["gold"])
    per_gold = [e for g in item["gold"] for e in g.get("evidence", [])]
    assert set(per_gold) <= set(item["evidence"])
    if per_gold:
        assert sorted(per_gold) == sorted(item["evidence"])
    if item["category"] == "accident":
        assert all(g["source"].startswith("accidents/") for g in item["gold"])
        assert all(g["source"].endswith("#" + g["locator"]) for g in item["gold"])
    if item["category"] == "cross_lingual":
        question_is_zh = item["lang"] == "zh"
        assert all(_is_chinese_source(g["source"]) != question_is_zh for g in item["gold"])


@pytest.mark.parametrize("item", ALL, ids=_ids(ALL))
def test_lang_matches_the_script_of_the_question(item: dict) -> None:
    assert bool(CJK.search(item["question"])) == (item["lang"] == "zh")


def test_ids_are_unique_across_both_sets() -> None:
    counts = Counter(item["id"] for item in ALL)
    assert [i for i, n in counts.items() if n > 1] == []
    assert all(item["id"].startswith("dev-") for item in DEV)
    assert all(item["id"].startswith("smoke-") for item in SMOKE)


def test_smoke_questions_are_not_copies_of_dev_questions() -> None:
    dev_questions = {_norm(item["question"]).casefold() for item in DEV}
    assert [i["id"] for i in SMOKE if _norm(i["question"]).casefold() in dev_questions] == []


def test_dev_set_meets_the_minimum_counts() -> None:
    langs = Counter(item["lang"] for item in DEV)
    cats = Counter(item["category"] for item in DEV)
    by_cat_lang = Counter((item["category"], item["lang"]) for item in DEV)
    assert langs["zh"] >= 60 and langs["en"] >= 60
    assert by_cat_lang["cross_lingual", "zh"] >= 5 and by_cat_lang["cross_lingual", "en"] >= 5
    assert by_cat_lang["unanswerable", "zh"] >= 10 and by_cat_lang["unanswerable", "en"] >= 10
    assert cats["numeric"] >= 15
    assert cats["two_clause"] >= 10
    assert cats["accident"] >= 10


def test_smoke_set_is_small_and_mixed() -> None:
    cats = Counter(item["category"] for item in SMOKE)
    langs = Counter(item["lang"] for item in SMOKE)
    assert 15 <= len(SMOKE) <= 30
    assert cats["unanswerable"] >= 3 and cats["cross_lingual"] >= 2
    assert langs["zh"] >= 5 and langs["en"] >= 5


# ---------------------------------------------------------------------------------- corpus
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="starter corpus not present")


def _split(source: str) -> tuple[Path, str]:
    path, _, record_id = source.partition("#")
    return CORPUS / path, record_id


@cache
def _csv_row(path: Path, record_id: str) -> str | None:
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            if row and row[0] == record_id:
                return " ".join(row)
    return None


@cache
def _pdf_text(path: Path) -> str:
    import pypdf

    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)


@cache
def _source_text(source: str) -> str:
    """The text an evidence phrase is checked against, whitespace collapsed."""
    path, record_id = _split(source)
    if record_id:
        text = _csv_row(path, record_id) or ""
    elif path.suffix == ".pdf":
        text = _pdf_text(path)
    else:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return _norm(text)


GOLD_SOURCES = sorted({g["source"] for item in ALL for g in item["gold"]})
PDF_SOURCES = [s for s in GOLD_SOURCES if s.endswith(".pdf")]
ANSWERABLE = [item for item in ALL if item["answerable"]]
TEXT_ITEMS = [i for i in ANSWERABLE if not any(g["source"].endswith(".pdf") for g in i["gold"])]


@needs_corpus
@pytest.mark.parametrize("source", GOLD_SOURCES)
def test_gold_source_exists_in_the_corpus(source: str) -> None:
    path, record_id = _split(source)
    assert path.is_file(), f"{path} not found"
    if record_id:
        assert path.suffix == ".csv"
        assert _csv_row(path, record_id) is not None, f"no row {record_id!r} in {path.name}"


def _assert_evidence_found(item: dict) -> None:
    texts = [_source_text(g["source"]) for g in item["gold"]]
    missing = [e for e in item["evidence"] if not any(_norm(e) in t for t in texts)]
    assert missing == [], f"{item['id']}: evidence not found in any gold source"
    for gold in item["gold"]:
        text = _source_text(gold["source"])
        misplaced = [e for e in gold.get("evidence", []) if _norm(e) not in text]
        assert misplaced == [], f"{item['id']}: per-gold evidence not in {gold['source']}"


@needs_corpus
@pytest.mark.parametrize("item", TEXT_ITEMS, ids=_ids(TEXT_ITEMS))
def test_evidence_is_verbatim_in_a_gold_source(item: dict) -> None:
    _assert_evidence_found(item)


@needs_corpus
@pytest.mark.slow
@pytest.mark.parametrize("pdf", PDF_SOURCES)
def test_evidence_is_verbatim_in_gold_pdfs(pdf: str) -> None:
    """One case per PDF (text extraction of the big 1926 subparts takes seconds each)."""
    items = [i for i in ANSWERABLE if any(g["source"] == pdf for g in i["gold"])]
    assert items
    for item in items:
        _assert_evidence_found(item)
