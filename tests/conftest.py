"""Shared fixtures: a knowledge base on the hashing embedder, and where the real corpus is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.embedders import HashingEmbedder
from ingest.kb import KnowledgeBase, open_kb
from ingest.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
#: real-model tests share one embedding cache across runs (vectors keyed by model and text hash)
MODEL_CACHE = Path(os.environ.get("ANQUAN_TEST_CACHE", Path.home() / ".cache" / "anquan"))


def corpus_file(rel: str) -> Path:
    path = SHARED_CORPUS / rel
    if not path.exists():
        pytest.skip(f"starter corpus not found at {SHARED_CORPUS}")
    return path


@pytest.fixture
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"starter corpus not found at {SHARED_CORPUS}")
    return SHARED_CORPUS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        corpus=[tmp_path / "corpus"],
        embedder="hashing",
        embed_cache=tmp_path / "cache.sqlite",
    )


@pytest.fixture
def kb(settings: Settings):
    (settings.data_dir).mkdir(parents=True, exist_ok=True)
    base: KnowledgeBase = open_kb(settings, embedder=HashingEmbedder())
    yield base
    base.close()
