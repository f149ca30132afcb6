"""The vector store: a Chroma collection, embedded (persistent) or on a Chroma server.

Cosine space is set explicitly and telemetry is off. Chroma is never given its default
embedding function (it would download a model): vectors always come from our embedder.
The collection records which embedder filled it; opening it with another one is refused
until the caller re-embeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.errors import ConfigError, KnowledgeBaseError


def make_client(data_dir: Path, chroma_url: str | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if not url.hostname:
            raise ConfigError(
                f"ANQUAN_CHROMA_URL={chroma_url!r} is not a URL; use e.g. http://127.0.0.1:8001"
            )
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class VectorStore:
    def __init__(self, client, name: str, embedder_name: str, dim: int) -> None:
        self.client = client
        self.name = name
        self.embedder_name = embedder_name
        self.collection = client.get_or_create_collection(
            name=name,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "embedder": embedder_name, "dim": dim},
        )
        meta = self.collection.metadata or {}
        self.stored_embedder = meta.get("embedder")

    @property
    def embedder_mismatch(self) -> bool:
        return bool(self.stored_embedder) and self.stored_embedder != self.embedder_name

    def recreate(self) -> None:
        """Drop every vector and start a collection for the current embedder."""
        self.client.delete_collection(self.name)
        self.collection = self.client.get_or_create_collection(
            name=self.name,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "embedder": self.embedder_name},
        )
        self.stored_embedder = self.embedder_name

    def upsert(
        self, ids: list[str], vectors: np.ndarray, texts: list[str], metas: list[dict]
    ) -> None:
        if ids:
            self.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metas)

    def delete(self, ids: list[str]) -> None:
        for i in range(0, len(ids), 1000):
            self.collection.delete(ids=ids[i : i + 1000])

    def count(self) -> int:
        return self.collection.count()

    def all_ids(self) -> list[str]:
        out: list[str] = []
        offset = 0
        while True:
            got = self.collection.get(include=[], limit=5000, offset=offset)
            out += got["ids"]
            if len(got["ids"]) < 5000:
                return out
            offset += 5000

    def query(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) best first."""
        total = self.count()
        if total == 0:
            return []
        try:
            res = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(n, total),
                where=where or None,
                include=["distances"],
            )
        except Exception as exc:
            raise KnowledgeBaseError(f"vector search failed: {exc}") from exc
        ids = res["ids"][0]
        dists = res["distances"][0] if res.get("distances") else [1.0] * len(ids)
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, dists, strict=True)]
