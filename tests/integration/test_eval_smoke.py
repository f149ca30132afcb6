"""The smoke gate: the smoke set must not fall more than the tolerance below the baseline."""

from __future__ import annotations

import json

import pytest

from evals.gate import check_against_baseline
from evals.smoke import BASELINE, run_smoke
from tests.conftest import MODEL_CACHE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOLERANCE = 0.05


def test_smoke_set_holds_the_baseline(tmp_path, shared_corpus):
    metrics = run_smoke(
        shared_corpus, tmp_path / "data", MODEL_CACHE / "embed_cache.sqlite", tmp_path / "out"
    )
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))["smoke"]
    failures = check_against_baseline(metrics, baseline, tolerance=TOLERANCE)
    assert not failures, "\n".join(failures)
    # the report names what failed, so a person can see why
    assert (tmp_path / "out" / "report.md").read_text(encoding="utf-8").count("smoke-") >= 1
    hybrid = metrics["systems"]["hybrid"]["overall"]
    assert hybrid["recall@10"] >= metrics["systems"]["lexical"]["overall"]["recall@10"] - TOLERANCE
