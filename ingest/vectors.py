"""The vector store: a Chroma collection, embedded (persistent) or on a Chroma server.

Cosine space is set explicitly and telemetry is off. Chroma is never given its default
embedding function (it would download a model): vectors always come from our embedder.
The collection records which embedder filled it (and the vectors' dimension); opening it
with another one is refused until the caller re-embeds.

On a server (``ANQUAN_CHROMA_URL``) the store lives in another process that can stop,
restart or lose its data while we run, so every call goes through :meth:`VectorStore._call`:

- a connection error is tried once more (a pooled connection to a restarted server fails
  once, a fresh one works), then raised as :class:`VectorStoreUnavailable` (HTTP 503);
- a collection that no longer exists (the server lost its data, or another worker recreated
  it) is opened again by name, and ``on_reopen`` tells the knowledge base, which re-embeds
  when the collection came back empty;
- writes and deletes are cut to the server's maximum batch size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np

from ingest.errors import ConfigError, KnowledgeBaseError, VectorStoreUnavailable

T = TypeVar("T")
#: seconds to wait for a Chroma server to accept a connection / to answer a request
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 60.0


def _transport_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.TransportError, ConnectionError)


def _connect_errors() -> tuple[type[BaseException], ...]:
    return (ValueError, *_transport_errors())


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
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except _connect_errors() as exc:  # chromadb raises ValueError("Could not connect …")
            raise VectorStoreUnavailable(chroma_url, str(exc)) from exc
        _bound_waits(client)
        return client
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _bound_waits(client) -> None:
    """chromadb's HTTP session waits forever; a hung server must not hang an API worker."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)


class VectorStore:
    def __init__(
        self,
        client,
        name: str,
        embedder_name: str,
        dim: int,
        url: str | None = None,
        on_reopen: Callable[[VectorStore], None] | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.embedder_name = embedder_name
        self.dim = dim
        #: the Chroma server's address, or None for the embedded store
        self.url = url
        self.on_reopen = on_reopen
        self._max_batch: int | None = None
        self.collection = self._call("open the collection", self._open)
        self.stored_embedder = (self.collection.metadata or {}).get("embedder")

    def _open(self):
        # a denser graph and a wider search than Chroma's defaults (100/100): with them, the
        # smoke knowledge base gave three different hybrid rankings in 11 builds (the graph is
        # built on several threads); with 200/200, the same ranking in 6 of 6, at the same speed
        return self.client.get_or_create_collection(
            name=self.name,
            embedding_function=None,
            metadata={
                "hnsw:space": "cosine",
                "hnsw:construction_ef": 200,
                "hnsw:search_ef": 200,
                "embedder": self.embedder_name,
                "dim": self.dim,
            },
        )

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` with the server's faults turned into one retry or a clear error."""
        import httpx
        from chromadb.errors import NotFoundError

        for attempt in (1, 2):
            try:
                return fn()
            except NotFoundError as exc:
                if attempt == 2:
                    raise KnowledgeBaseError(
                        f"could not {what}: collection {self.name!r} vanished twice ({exc}); "
                        "is another process deleting it?"
                    ) from exc
                self._reopen()
            except _transport_errors() as exc:
                if attempt == 2 or isinstance(exc, httpx.TimeoutException):
                    raise VectorStoreUnavailable(
                        self.url, f"could not {what}: {type(exc).__name__}: {exc}"
                    ) from exc
        raise AssertionError("unreachable")

    def _reopen(self) -> None:
        self.collection = self._call("open the collection", self._open)
        self.stored_embedder = (self.collection.metadata or {}).get("embedder")
        if self.embedder_mismatch:  # another worker re-created it for its own embedder
            raise KnowledgeBaseError(
                f"collection {self.name!r} is now filled by {self.stored_embedder}, this process "
                f"embeds with {self.embedder_name}; give every worker the same ANQUAN_EMBEDDER"
            )
        if self.on_reopen:
            self.on_reopen(self)

    @property
    def embedder_mismatch(self) -> bool:
        return bool(self.stored_embedder) and self.stored_embedder != self.embedder_name

    @property
    def max_batch(self) -> int:
        """The most records one request may carry (a Chroma server refuses more)."""
        if self._max_batch is None:
            size = self._call("ask the batch limit", self.client.get_max_batch_size)
            self._max_batch = max(1, min(int(size), 5000))
        return self._max_batch

    def recreate(self) -> None:
        """Drop every vector and start a collection for the current embedder."""
        from chromadb.errors import NotFoundError

        def drop() -> None:
            with contextlib.suppress(NotFoundError):  # another worker dropped it first
                self.client.delete_collection(self.name)

        self._call("drop the collection", drop)
        self.collection = self._call("create the collection", self._open)
        self.stored_embedder = (self.collection.metadata or {}).get("embedder")

    def upsert(
        self, ids: list[str], vectors: np.ndarray, texts: list[str], metas: list[dict]
    ) -> None:
        step = self.max_batch
        for i in range(0, len(ids), step):
            j = i + step
            part = partial(self._upsert, ids[i:j], vectors[i:j], texts[i:j], metas[i:j])
            self._call("write vectors", part)

    def _upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str], metas: list) -> None:
        self.collection.upsert(ids=ids, embeddings=vectors, documents=texts, metadatas=metas)

    def delete(self, ids: list[str]) -> None:
        step = self.max_batch
        for i in range(0, len(ids), step):
            self._call("delete vectors", partial(self._delete, ids[i : i + step]))

    def _delete(self, ids: list[str]) -> None:
        self.collection.delete(ids=ids)

    def count(self) -> int:
        return self._call("count vectors", lambda: self.collection.count())

    def ping(self) -> str:
        """Say "ok", or why the store cannot be used (for ``/readyz``)."""
        try:
            self.count()
        except KnowledgeBaseError as exc:
            return f"unreachable: {exc}"
        return "ok"

    def all_ids(self) -> list[str]:
        out: list[str] = []
        offset = 0
        page = self.max_batch
        while True:
            got = self._call("list vectors", partial(self._get_ids, page, offset))
            out += got["ids"]
            if len(got["ids"]) < page:
                return out
            offset += page

    def _get_ids(self, limit: int, offset: int) -> dict[str, Any]:
        return dict(self.collection.get(include=[], limit=limit, offset=offset))

    def query(
        self, vector: np.ndarray, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk_id, cosine similarity) best first; fewer when the store holds fewer."""

        def run():
            return self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=max(1, n),
                where=where or None,
                include=["distances"],
            )

        try:
            res = self._call("search vectors", run)
        except KnowledgeBaseError:
            raise
        except Exception as exc:
            raise KnowledgeBaseError(f"vector search failed: {exc}") from exc
        ids = res["ids"][0] if res["ids"] else []
        dists = res["distances"][0] if res.get("distances") else [1.0] * len(ids)
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, dists, strict=True)]
