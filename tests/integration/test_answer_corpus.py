"""Answers on real corpus files (extractive backend, hashing embedder): the right clause is
cited, its figure is in the answer, related accidents come from the real record set, and
questions about documents the corpus lacks are refused.

A few files are copied into a temporary corpus root with their manifest rows and ingested
once for the module (about 10 s, nearly all of it pypdf on Subpart M).
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from assistant.answer import Assistant
from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.conftest import SHARED_CORPUS

pytestmark = pytest.mark.integration

LAW = "regulations/cn/安全生产法(2021-06-10).md"
SUBPART_M = "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf"
CONFINED = "regulations/us/29cfr1910/1910.146.html"
ABSTRACTS = "accidents/us/osha-accident-abstracts-2016-2017.csv"
FILES = (LAW, SUBPART_M, CONFINED, ABSTRACTS)


def copy_corpus(root: Path, files: tuple[str, ...]) -> None:
    """The files and their manifest rows, copied under ``root``."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"starter corpus not found at {SHARED_CORPUS}")
    for rel in files:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_CORPUS / rel, dest)
    with (SHARED_CORPUS / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["path"] in files]
        fields = reader.fieldnames or []
    with (root / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def hashing_kb(tmp: Path, files: tuple[str, ...]):
    """A knowledge base of ``files`` (copied under ``tmp``) on the hashing embedder: the words
    decide what is found."""
    copy_corpus(tmp / "corpus", files)
    settings = Settings(
        data_dir=tmp / "data",
        corpus=[tmp / "corpus"],
        embedder="hashing",
        embed_cache=tmp / "cache.sqlite",
    )
    kb = open_kb(settings, embedder=HashingEmbedder())
    assert run_ingest(kb).failed == []
    return kb


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    kb = hashing_kb(tmp_path_factory.mktemp("answer-corpus"), FILES)
    yield Assistant(kb, kb.settings)
    kb.close()


def test_chinese_question_cites_the_article_and_quotes_the_rule(assistant):
    answer = assistant.ask("厂里新招的工人，还没做安全生产教育和培训，能不能先让他上岗作业？")
    assert not answer.refused and answer.language == "zh"
    top = answer.citations[0]
    assert (top["source"], top["locator"]) == (LAW, "第二十八条")
    assert "不得上岗作业" in answer.answer


def test_english_question_gets_the_figure_of_the_cfr_paragraph(assistant):
    answer = assistant.ask(
        "How high above a lower level must an unprotected side or edge be before a worker "
        "needs fall protection?"
    )
    assert not answer.refused
    cited = {(c["source"], c["locator"]) for c in answer.citations}
    assert any(src == SUBPART_M and loc.startswith("1926.501(b)") for src, loc in cited)
    assert re.search(r"6 feet \(1\.8 m\)", answer.answer)
    assert answer.citations[0]["page"] is not None


def test_related_accidents_come_from_the_record_set_with_lessons(assistant):
    answer = assistant.ask(
        "What must be done before workers enter a permit-required confined space?"
    )
    assert not answer.refused
    assert answer.citations[0]["source"] == CONFINED
    assert 1 <= len(answer.related_accidents) <= 3
    for rec in answer.related_accidents:
        assert rec["source"].startswith(ABSTRACTS + "#") and rec["record_id"] in rec["source"]
        assert rec["lesson"]
        assert f"Record {rec['record_id']}" in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "按照GB 30871，特级动火作业票的有效期是多少小时？",
        "Under 29 CFR 1910.1200, what has to go in each of the 16 sections of a safety data sheet?",
        "台湾的《职业安全卫生法》规定，雇主多少人以上要设置职业安全卫生管理单位？",
    ],
)
def test_questions_outside_the_corpus_are_refused(assistant, question):
    answer = assistant.ask(question)
    assert answer.refused and answer.citations == []
    assert answer.reason and answer.nearest
