"""Shared fixtures: a knowledge base on the hashing embedder, and where the real corpus is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.embedders import HashingEmbedder
from ingest.kb import KnowledgeBase, open_kb
from ingest.settings import Settings
from tests.chroma_server import chroma_server_fixture
from tests.pg_server import PostgresServer, start_or_reason

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


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real ``chroma run`` on a free loopback port for the whole session; yields its URL."""
    yield from chroma_server_fixture(tmp_path_factory)


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server (initdb + pg_ctl, loopback, free port) for the whole session.

    Skipped, with the install command, where the server binaries are absent."""
    server, reason = start_or_reason()
    if server is None:
        pytest.skip(reason)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A new, empty PostgreSQL database for one test; its URL."""
    return pg_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def records_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The records database on each backend: a SQLite file, then a fresh PostgreSQL database
    (the server starts only when a PostgreSQL case runs)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.sqlite'}"
    return request.getfixturevalue("pg_url")
