"""Checklist quality on the real corpus, against the committed pairs in ``evals/checklists.json``.

Two levels:

- a knowledge base of the rules a few pairs cite (real files, hashing embedder, lexical search):
  every item cites a normative clause, no duplicates, and most expected clauses are covered;
- with ``ANQUAN_CHECKLIST_KB`` pointing at a knowledge base of the whole corpus (e.g. the e5 one
  ``anquan ingest`` builds), all twelve pairs against the figures reported in the README.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from evals.checklist_eval import DATASET, duplicate_pairs, run, score_pair
from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.conftest import SHARED_CORPUS

pytestmark = pytest.mark.integration

PAIRS = ("zh-fire-inspection", "zh-chemical-storage", "en-fire-extinguishers-exits")


def _pairs() -> dict[str, dict]:
    return {p["id"]: p for p in json.loads(DATASET.read_text(encoding="utf-8"))["pairs"]}


@pytest.fixture(scope="module")
def pairs_kb(tmp_path_factory):
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"starter corpus not found at {SHARED_CORPUS}")
    pairs = _pairs()
    sources = sorted(
        {g["source"] for pid in PAIRS for e in pairs[pid]["expected"] for g in e["gold"]}
    )
    tmp = tmp_path_factory.mktemp("checklist-corpus")
    root = tmp / "corpus"
    with (SHARED_CORPUS / "manifest.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f)]
    fields = list(rows[0])
    keep = [r for r in rows if r["path"] in sources or r["path"].startswith("accidents/us/cases/")]
    for r in keep:
        dest = root / r["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_CORPUS / r["path"], dest)
    with (root / "manifest.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(keep)
    settings = Settings(
        data_dir=tmp / "data", corpus=[root], embedder="hashing", embed_cache=tmp / "cache.sqlite"
    )
    kb = open_kb(settings, embedder=HashingEmbedder())
    assert run_ingest(kb, embed=False).failed == []
    yield kb
    kb.close()


@pytest.mark.parametrize("pair_id", PAIRS)
def test_pairs_on_their_rules(pairs_kb, pair_id):
    from assistant.checklist import draft_checklist

    pair = _pairs()[pair_id]
    cl = draft_checklist(
        pairs_kb,
        pair["industry"],
        pair["topic"],
        pair["jurisdiction"],
        pair["lang"],
        mode="lexical",
    )
    row = score_pair(pair, cl, 0.0)
    assert row["items"] >= 20
    assert row["normative"] == 1.0, row["not_normative"]
    assert duplicate_pairs(cl) == []
    assert row["coverage"] >= 0.7, row["missing"]


@pytest.mark.slow
def test_all_pairs_on_a_full_knowledge_base():
    path = os.environ.get("ANQUAN_CHECKLIST_KB")
    if not path or not Path(path).is_dir():
        pytest.skip("set ANQUAN_CHECKLIST_KB to a knowledge base of the whole corpus")
    result = run(
        Settings(data_dir=Path(path)), mode=os.environ.get("ANQUAN_CHECKLIST_MODE", "hybrid")
    )
    s = result["summary"]
    assert s["pairs"] == 12
    assert s["normative"] >= 0.99
    assert s["duplicate_pairs"] == 0
    assert s["coverage"] >= 0.7, [(r["id"], r["missing"]) for r in result["pairs"]]
