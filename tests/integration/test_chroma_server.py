"""The knowledge base on a real Chroma server (``chroma run``): several processes, and faults.

- two processes with their own knowledge base on one data dir and one server see each other's
  documents, lexically and densely, on their next search (the registry generation is the
  signal; ``ingest/lexical.py`` saves and loads the shared index safely);
- the server stopped while the service answers: ``/v1/search`` says 503
  ``vector_store_unavailable`` with ``Retry-After`` and the one JSON error shape, ``/readyz``
  names the vector store; restarted on the same port and path, the same request gives the
  same hits;
- the background embedding thread waits out an outage and fills the vectors afterwards;
- a server that lost its data: the collection is made again and re-filled.

Hashing embedder and small real corpus files, so the tests measure behaviour, not models.
"""

from __future__ import annotations

import multiprocessing
import shutil
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import api.app as app_module
from api.app import create_app
from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.models import doc_id_for
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.chroma_server import ChromaServer, kb_worker
from tests.unit.test_kb import CFR, CFR_ITEMS, LAW, LAW_ITEMS, register

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERMIT = "regulations/cn/安全生产许可证条例(2014-07-29).md"
WOMEN = "regulations/cn/女职工劳动保护特别规定(2012-04-28).md"
EVENTS = "regulations/cn/大型群众性活动安全管理条例(2007-09-14).md"
SEARCH = {"q": "guardrail top rail height inches", "k": 3}


def _settings(tmp_path: Path, url: str, collection: str = "anquan-test") -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        corpus=[tmp_path / "corpus"],
        embedder="hashing",
        embed_cache=tmp_path / "cache.sqlite",
        chroma_url=url,
        collection=collection,
    )


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _copy(shared_corpus: Path, corpus: Path, *rels: str) -> list[Path]:
    corpus.mkdir(parents=True, exist_ok=True)
    shutil.copy(shared_corpus / "manifest.csv", corpus / "manifest.csv")
    out = []
    for rel in rels:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        out.append(Path(shutil.copy(shared_corpus / rel, corpus / rel)))
    return out


class Worker:
    """The other process: its own knowledge base, driven through a pipe."""

    def __init__(self, settings: Settings) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=kb_worker, args=(child, settings.model_dump()))
        self.proc.start()
        child.close()

    def __call__(self, op: str, arg: object = None, timeout: float = 120) -> object:
        self.conn.send((op, arg))
        assert self.conn.poll(timeout), f"the worker did not answer {op!r} in {timeout}s"
        status, result = self.conn.recv()
        assert status == "ok", result
        return result

    def close(self) -> None:
        if self.proc.is_alive():
            self.conn.send(("stop", None))
            self.proc.join(timeout=30)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def test_two_processes_on_one_data_dir_see_each_others_documents(tmp_path, shared_corpus):
    corpus = tmp_path / "corpus"
    permit, women, events = _copy(shared_corpus, corpus, PERMIT, WOMEN, EVENTS)
    with ChromaServer(tmp_path / "chroma") as server:
        settings = _settings(tmp_path, server.url)
        here = open_kb(settings, embedder=HashingEmbedder())
        run_ingest(here, [permit])
        other = Worker(settings)
        try:
            maternity = "女职工生育享受产假多少天"
            # the other process has read the index (and cached it) before anything new arrives
            assert WOMEN not in {s for s, _ in other("search", (maternity, "hybrid"))}
            assert other("search", ("安全生产许可证 有效期", "lexical"))[0][0] == PERMIT

            # the other process ingests: this one's next search finds it, both ways
            done = other("ingest", [str(women)])
            assert done == {"added": [WOMEN], "failed": [], "pending": 0}
            for mode in ("lexical", "dense", "hybrid"):
                top = here.search(maternity, k=3, mode=mode)[0].chunk
                assert (top.source, top.locator) == (WOMEN, "第七条"), mode

            # and the other way round, then a removal
            run_ingest(here, [events])
            crowd = "大型群众性活动的承办者对其承办活动的安全负责"
            assert other("search", (crowd, "lexical"))[0][0] == EVENTS
            assert other("search", (crowd, "dense"))[0][0] == EVENTS
            here.remove_document(doc_id_for(EVENTS))
            here.sync_vectors()
            for mode in ("lexical", "dense"):
                assert EVENTS not in {s for s, _ in other("search", (crowd, mode))}, mode
            assert len(here.vectors.all_ids()) == here.registry.chunk_count()
        finally:
            other.close()
            here.close()
    # both saved the shared lexical index; no temporary folder is left behind
    assert sorted(p.name for p in (settings.data_dir).glob("lexical*")) == [
        "lexical",
        "lexical.lock",
    ]


@pytest.fixture
def served(tmp_path):
    """A Chroma server on a persistent path and a small knowledge base built through it."""
    server = ChromaServer(tmp_path / "chroma").start()
    settings = _settings(tmp_path, server.url)
    kb = open_kb(settings, embedder=HashingEmbedder())
    register(kb, LAW, LAW_ITEMS)
    register(kb, CFR, CFR_ITEMS)
    try:
        yield server, kb
    finally:
        kb.close()
        server.stop()


def _ready(client: TestClient) -> dict:
    r = client.get("/readyz")
    for _ in range(100):
        if r.status_code == 200:
            break
        time.sleep(0.1)
        r = client.get("/readyz")
    assert r.status_code == 200, r.text
    return r.json()["checks"]


def test_a_stopped_server_gives_503_and_the_same_hits_when_it_returns(served):
    server, kb = served
    kb.sync_vectors()
    with TestClient(create_app(kb=kb, settings=kb.settings)) as client:
        assert _ready(client)["vector_store"] == "ok"
        before = client.get("/v1/search", params=SEARCH)
        assert before.status_code == 200 and before.json()["results"]

        server.stop()
        down = client.get("/v1/search", params=SEARCH)
        assert down.status_code == 503
        assert down.headers["retry-after"] == "5"
        body = down.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == "vector_store_unavailable"
        message = body["error"]["message"]
        assert server.url in message and "ANQUAN_CHROMA_URL" in message
        # lexical search does not need the server
        lexical = client.get("/v1/search", params={**SEARCH, "mode": "lexical"})
        assert lexical.status_code == 200 and lexical.json()["results"]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["details"]["checks"]["vector_store"].startswith("unreachable")

        server.start()  # same port, same path
        after = client.get("/v1/search", params=SEARCH)
        assert after.status_code == 200
        assert after.json()["results"] == before.json()["results"]
        assert _ready(client)["vector_store"] == "ok"


def test_background_embedding_waits_out_an_outage(served, monkeypatch):
    server, kb = served
    monkeypatch.setattr(app_module, "EMBED_BACKOFF_MAX_S", 1.0)
    pending = kb.registry.pending_count()
    assert pending == 6
    server.stop()
    with TestClient(create_app(kb=kb, settings=kb.settings, background_embed=True)) as client:
        time.sleep(2.0)  # a few failed rounds
        embedders = [t for t in threading.enumerate() if t.name == "anquan-embed"]
        assert embedders and embedders[0].is_alive()
        assert kb.registry.pending_count() == pending
        server.start()
        _wait(lambda: kb.registry.pending_count() == 0, 60, "the vectors to fill in")
        assert kb.vectors.count() == pending
        dense = client.get("/v1/search", params={**SEARCH, "mode": "dense"}).json()["results"]
        assert (dense[0]["source"], dense[0]["locator"]) == (CFR.source, "1926.502(b)")


def test_a_server_that_lost_its_data_is_refilled(served, tmp_path):
    server, kb = served
    kb.sync_vectors()
    want = [(h.chunk.chunk_id, h.ranks.get("dense")) for h in kb.search(SEARCH["q"], k=3)]
    server.stop()
    fresh = ChromaServer(tmp_path / "chroma-empty", port=server.port).start()
    try:
        # the collection is gone: made again, empty, and every chunk waits for its vector;
        # meanwhile search answers from the lexical side
        hits = kb.search(SEARCH["q"], k=3)
        assert hits[0].chunk.locator == "1926.502(b)" and "dense" not in hits[0].ranks
        assert kb.registry.pending_count() == kb.registry.chunk_count() == 6
        assert kb.sync_vectors() == 6
        again = [(h.chunk.chunk_id, h.ranks.get("dense")) for h in kb.search(SEARCH["q"], k=3)]
        assert again == want
    finally:
        fresh.stop()
