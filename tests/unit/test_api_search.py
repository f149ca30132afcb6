"""The HTTP service so far: health and search, over the hashing-embedder knowledge base."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from tests.unit.test_kb import CFR, CFR_ITEMS, LAW, LAW_ITEMS, register


def test_healthz_and_search(kb):
    register(kb, LAW, LAW_ITEMS)
    register(kb, CFR, CFR_ITEMS)
    kb.sync_vectors()
    with TestClient(create_app(kb=kb, settings=kb.settings)) as client:
        health = client.get("/healthz").json()
        assert health == {"status": "ok", "chunks": 6, "pending_vectors": 0}
        body = client.get("/v1/search", params={"q": "guardrail top rail height", "k": 2}).json()
        assert body["query"] == "guardrail top rail height"
        first = body["results"][0]
        assert (first["source"], first["locator"]) == (CFR.source, "1926.502(b)")
        assert set(first) >= {
            "source",
            "title",
            "locator",
            "page",
            "doc_type",
            "jurisdiction",
            "language",
            "score",
            "text",
        }
        zh = client.get("/v1/search", params=[("q", "培训"), ("where", "language=zh")]).json()
        assert zh["results"] and all(r["language"] == "zh" for r in zh["results"])


def test_search_errors_use_one_json_shape(kb):
    with TestClient(create_app(kb=kb, settings=kb.settings)) as client:
        bad = client.get("/v1/search", params={"q": "x", "where": "colour=red"})
        assert bad.status_code == 400
        assert (
            bad.json()["error"]["code"] == "bad_request"
            and "Available" in bad.json()["error"]["message"]
        )
