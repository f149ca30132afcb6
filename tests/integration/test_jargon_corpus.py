"""Site words on real corpus files: "hard hats", "steel toe boots", "spoil", "forklift" and
"safety glasses" lead to the clauses that call them head, foot, eye and face protection,
excavated materials and powered industrial trucks (hashing embedder: the words decide)."""

from __future__ import annotations

import pytest

from assistant import jargon
from assistant import retrieve as retrieve_module
from assistant.retrieve import TermWeights, retrieve
from tests.integration.test_answer_corpus import hashing_kb

pytestmark = pytest.mark.integration

FILES = (
    "regulations/us/29cfr1910/1910.133.html",
    "regulations/us/29cfr1910/1910.135.html",
    "regulations/us/29cfr1910/1910.136.html",
    "regulations/us/29cfr1910/1910.178.html",
    "regulations/us/29cfr1926/29cfr1926-subpart-P-excavations.pdf",
)

QUESTIONS = [
    ("Do my welders need hard hats in the shop?", "1910.135(a)"),
    ("Are steel toe boots required for guys handling heavy stock?", "1910.136(a)"),
    ("Where can we pile the spoil from the trench?", "1926.651(j)"),
    ("Do we need safety glasses when grinding?", "1910.133"),
]


@pytest.fixture(scope="module")
def site_kb(tmp_path_factory):
    kb = hashing_kb(tmp_path_factory.mktemp("jargon-corpus"), FILES)
    yield kb
    kb.close()


def _top(kb, query: str) -> str:
    return kb.search(query, k=1, mode="lexical")[0].chunk.locator


@pytest.mark.parametrize(("question", "clause"), QUESTIONS)
def test_the_rule_words_find_the_clause_the_site_words_miss(site_kb, question, clause):
    assert not _top(site_kb, question).startswith(clause)  # the site words alone miss it
    assert _top(site_kb, jargon.in_rule_words(question)).startswith(clause)


def _rank(kb, question: str, clause: str) -> int:
    ranked = [p.chunk.locator for p in retrieve(kb, question).ranked]
    return next((i for i, loc in enumerate(ranked) if loc.startswith(clause)), len(ranked))


@pytest.mark.parametrize(("question", "clause"), QUESTIONS)
def test_the_assistant_ranks_the_clause_higher_with_the_rule_words(
    site_kb, question, clause, monkeypatch
):
    with_words = _rank(site_kb, question, clause)
    monkeypatch.setattr(retrieve_module, "W_SITE_WORDS", 0.0)
    monkeypatch.setattr(jargon, "alternatives", lambda q: {})
    without = _rank(site_kb, question, clause)
    assert with_words < without


def test_a_clause_in_the_rule_words_covers_the_site_words(site_kb):
    weights = TermWeights(site_kb, "Do welders need hard hats?")
    assert {"hard", "hat"} <= set(weights.weights)
    assert weights.coverage({"head", "protection"}) > 0.5
    assert weights.coverage(set()) == 0.0
