"""The benchmark's in-run pipeline/raw ratio: the model's own time inside the embedding stage."""

from __future__ import annotations

import time

from evals.bench import _time_model_calls
from ingest.models import DocMeta
from tests.unit.test_kb import register


class SlowModel:
    """The hashing embedder, 20 ms slower per batch: model time the ratio must find."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim

    def embed_passages(self, texts):
        time.sleep(0.02)
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


def test_model_seconds_are_counted_inside_the_embedding_stage(kb):
    cached = kb.embedder
    cached.inner = SlowModel(cached.inner)
    meta = DocMeta(source="a.md", title="A", doc_type="law", jurisdiction="CN", language="zh")
    register(kb, meta, [(f"第{i}条", f"第{i}条 安全生产 条文 {i}") for i in range(1, 41)])
    spent = _time_model_calls(kb)
    start = time.perf_counter()
    written = kb.sync_vectors()
    elapsed = time.perf_counter() - start
    batches = -(-written // kb.settings.embed_batch_size)
    assert written == 40
    assert spent[0] >= 0.02 * batches  # every model call was timed
    assert spent[0] <= elapsed  # and only the model's part of the stage
