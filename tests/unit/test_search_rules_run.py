"""Accident narratives must not push the rule a question asks about out of the candidates.

Thousands of accident records share a question's everyday words ("ladder", "slipped"); ranked
together with the rules, the one rule that answers can fall below the candidate cut. Search ranks
the rules a second time on their own (``ingest.kb.RULES_RUN``).
"""

from __future__ import annotations

import pytest

import ingest.kb as kbmod
from ingest.models import DocMeta
from tests.unit.test_kb import register

RULE = DocMeta(
    source="regulations/us/29cfr1926/ladders.md",
    title="Stairways and Ladders",
    doc_type="regulation",
    jurisdiction="US",
    language="en",
)
RECORDS = DocMeta(
    source="accidents/us/ladder-accidents.csv",
    title="Ladder accidents",
    doc_type="accident_records",
    jurisdiction="US",
    language="en",
)
QUESTION = "how far out should the base of an extension ladder be so it does not slip"


def _fill(kb) -> None:
    register(
        kb,
        RULE,
        [
            (
                "1926.1053(b)(5)",
                "Non-self-supporting ladders shall be used at an angle such that the horizontal "
                "distance from the top support to the foot of the ladder is one-quarter of the "
                "working length of the ladder.",
            )
        ],
    )
    register(
        kb,
        RECORDS,
        [
            (
                str(200000 + i),
                f"Employee {i} fell when the base of an extension ladder did slip out on a "
                "wet floor; the ladder base was too far out from the wall.",
            )
            for i in range(12)
        ],
    )
    kb.sync_vectors()


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_rule_survives_a_crowd_of_records(kb, mode, monkeypatch):
    _fill(kb)
    monkeypatch.setattr(kbmod, "RULES_RUN", False)
    crowded = kb.search(QUESTION, k=5, candidates=5, mode=mode)
    assert all("record" in h.chunk.doc_type for h in crowded)  # the failure this guards against

    monkeypatch.setattr(kbmod, "RULES_RUN", True)
    hits = kb.search(QUESTION, k=5, candidates=5, mode=mode)
    assert any(h.chunk.locator == "1926.1053(b)(5)" for h in hits)
    assert "rule-lexical" in next(h for h in hits if h.chunk.source == RULE.source).ranks


def test_asking_for_accidents_does_not_add_the_rules_run(kb):
    _fill(kb)
    hits = kb.search(QUESTION, k=5, candidates=5, where={"doc_type": "accident"})
    assert hits and all("record" in h.chunk.doc_type for h in hits)
    assert not any(name.startswith("rule-") for h in hits for name in h.ranks)


def test_not_accident_filter_keeps_only_rules(kb):
    _fill(kb)
    for mode in ("lexical", "dense", "hybrid"):
        hits = kb.search(QUESTION, k=5, where={"doc_type": "!accident"}, mode=mode)
        assert [h.chunk.source for h in hits] == [RULE.source], mode
