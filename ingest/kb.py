"""The knowledge base: registry (SQLite) + lexical index (BM25) + vectors (Chroma).

``open_kb(settings)`` is the one way in. Search fuses dense and lexical rankings with
reciprocal rank fusion, filters by metadata, and puts chunks at an exact clause reference
("1926.502(d)", "安全生产法第四十一条") first. Lexical search works as soon as chunks are
registered; dense results join as vectors fill in (``sync_vectors``).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from filelock import FileLock, Timeout

from ingest.clauses import find_clause_refs, locator_matches, normalise_locator
from ingest.cues import query_cues
from ingest.embedders import ArrayEmbeddings, CachedEmbeddings, make_embedder, text_hash
from ingest.errors import ConfigError
from ingest.lexical import LexicalIndex, tokenize
from ingest.models import Chunk
from ingest.registry import Registry
from ingest.settings import Settings
from ingest.vectors import VectorStore, make_client

log = logging.getLogger(__name__)

SearchMode = Literal["hybrid", "lexical", "dense"]
FILTER_KEYS = ("jurisdiction", "doc_type", "language", "industries", "source", "normative")
RRF_K = 60
#: weight of accident records in a question that does not ask for one
RECORD_WEIGHT = 0.5
#: weight of the lexical ranking against the dense one in the fusion (tuned on the dev set)
LEXICAL_WEIGHT = 1.0
#: rank the rules (everything but accident records) a second time on their own
RULES_RUN = True
#: weight of the unrestricted ranking
MAIN_WEIGHT = 1.0
#: a ``doc_type`` filter value: everything except accident records and reports
NOT_ACCIDENT = "!accident"


@dataclass
class Hit:
    chunk: Chunk
    score: float
    #: which rankers found it and at which rank (1-based), for explanations and evals
    ranks: dict[str, int] = field(default_factory=dict)
    #: other documents holding the same text (a law and its copy in another collection)
    also_in: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "source": c.source,
            "title": c.title,
            "locator": c.locator,
            "page": c.page,
            "doc_type": c.doc_type,
            "jurisdiction": c.jurisdiction,
            "language": c.language,
            "score": round(self.score, 6),
            "text": c.text,
            "heading_path": c.heading_path,
            "chunk_id": c.chunk_id,
            "also_in": self.also_in,
        }


def _dedupe_key(text: str) -> str:
    """Text with width, spacing and punctuation differences removed: copies compare equal."""
    folded = unicodedata.normalize("NFKC", text).replace("\\n", "")
    return re.sub(r"[\W_]+", "", folded).casefold()[:400]


#: formats that keep a document's structure (headings, articles, tables); a copy in one of them
#: leads a search slot over the same text from a plain-text dump
STRUCTURED_FORMATS = (".md", ".html", ".htm", ".pdf", ".docx", ".xlsx", ".csv")


def is_structured(source: str) -> bool:
    """Whether a document (or record, ``path#row``) comes in a format that keeps structure."""
    return source.split("#", 1)[0].lower().endswith(STRUCTURED_FORMATS)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest scores, best first (a partial sort: runs on every query)."""
    if len(scores) <= n:
        return np.argsort(-scores)
    part = np.argpartition(-scores, n)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def embed_text(chunk: Chunk, max_chars: int, record_chars: int = 320) -> str:
    """What the embedder sees: the document title, then the chunk, cut to ``max_chars``.

    Accident records get ``record_chars``: their title and first sentences carry the hazard,
    and there are thousands of them (embedding cost grows with length; README, "Embedders").
    """
    if "record" in chunk.doc_type or "#" in chunk.source:
        return chunk.text[:record_chars]
    head = chunk.title if chunk.title and chunk.title not in chunk.text[:200] else ""
    text = f"{head}\n{chunk.text}" if head else chunk.text
    return text[:max_chars]


def chroma_metadata(chunk_meta: dict[str, Any]) -> dict[str, Any]:
    """Registry metadata plus one boolean key per industry, so Chroma can filter on them."""
    meta = dict(chunk_meta)
    for ind in str(meta.get("industries") or "").split(";"):
        if ind:
            meta[f"ind_{ind}"] = True
    return meta


def parse_where(items: list[str] | dict[str, str] | None) -> dict[str, str]:
    """``["jurisdiction=CN", "doc_type=law"]`` → dict, with a clear error for bad keys."""
    if not items:
        return {}
    pairs = items.items() if isinstance(items, dict) else [_split_kv(i) for i in items]
    out = {}
    for key, value in pairs:
        if key not in FILTER_KEYS:
            raise ConfigError(f"unknown filter {key!r}. Available: {', '.join(FILTER_KEYS)}")
        if value:
            out[key] = value
    return out


def _split_kv(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(f"filter {item!r} is not key=value, e.g. jurisdiction=CN")
    key, value = item.split("=", 1)
    return key.strip(), value.strip()


def _meta_passes(meta: dict[str, Any], where: dict[str, str]) -> bool:
    for key, want in where.items():
        have = str(meta.get(key) or "")
        if key == "jurisdiction":
            if not (have == want or have.startswith(want + "-")):
                return False
        elif key == "industries":
            if want not in have.split(";"):
                return False
        elif key == "source":
            if not have.startswith(want):
                return False
        elif key == "doc_type":  # "accident" covers accident_records and accident_report
            negate = want.startswith("!")
            want = want.lstrip("!")
            if (have == want or have.startswith(want + "_")) == negate:
                return False
        elif have != want:
            return False
    return True


@dataclass
class _SearchState:
    """One generation's lexical index with what search derives from it, swapped as a whole so a
    search that started on one generation never mixes in the next one's lists."""

    generation: int
    index: LexicalIndex
    #: chunk metadata in index order
    metas: list[dict[str, Any]]
    #: normalised locators in index order (clause references run on every query)
    locators: list[str]
    doc_types: list[str]
    jurisdictions: list[str]
    masks: dict[tuple, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, generation: int, index: LexicalIndex, metas: list[dict[str, Any]]) -> _SearchState:
        return cls(
            generation,
            index,
            metas,
            [normalise_locator(str(m.get("locator") or "")).casefold() for m in metas],
            sorted({str(m.get("doc_type")) for m in metas}),
            sorted({str(m.get("jurisdiction")) for m in metas}),
        )

    def mask(self, where: dict[str, str]) -> np.ndarray:
        """Which chunks pass a filter, memoised for this generation."""
        key = tuple(sorted(where.items()))
        mask = self.masks.get(key)
        if mask is None:
            mask = np.fromiter(
                (_meta_passes(m, where) for m in self.metas), dtype=bool, count=len(self.metas)
            )
            if len(self.masks) > 256:
                self.masks.clear()
            self.masks[key] = mask
        return mask


@dataclass
class _DensePool:
    """A search's query vector and its unfiltered vector queries, shared by the search's runs:
    the store is counted once and each size of list fetched once (see ``KnowledgeBase._dense``)."""

    qvec: np.ndarray
    total: int
    #: size asked for → live chunk ids, best first
    lists: dict[int, list[str]] = field(default_factory=dict)


def _passes(index: LexicalIndex, mask, chunk_id: str) -> bool:
    pos = index.position(chunk_id)
    return pos is not None and bool(mask[pos])


class KnowledgeBase:
    def __init__(
        self, settings: Settings, embedder: ArrayEmbeddings | None = None, client: Any = None
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(settings.data_dir / "registry.sqlite")
        self._embedder = embedder
        self._client = client
        self._vectors: VectorStore | None = None
        self._state: _SearchState | None = None
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()

    # -- parts, built on first use ---------------------------------------------------
    @property
    def embedder(self) -> ArrayEmbeddings:
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings.embedder)
            if not isinstance(self._embedder, CachedEmbeddings):
                self._embedder = CachedEmbeddings(self._embedder, self.settings.embed_cache_path)
            return self._embedder

    @property
    def embedder_name(self) -> str:
        return self._embedder.name if self._embedder is not None else self.settings.embedder

    @property
    def vectors(self) -> VectorStore:
        with self._lock:
            if self._vectors is None:
                client = self._client or make_client(
                    self.settings.data_dir, self.settings.chroma_url
                )
                store = VectorStore(
                    client,
                    self.settings.collection,
                    self.embedder.name,
                    self.embedder.dim,
                    url=None if self._client else self.settings.chroma_url,
                    on_reopen=self._vectors_reopened,
                )
                if store.embedder_mismatch:
                    log.warning(
                        "collection was filled by %s; re-embedding with %s",
                        store.stored_embedder,
                        self.embedder.name,
                    )
                    store.recreate()
                    self.registry.reset_embedded()
                elif store.count() == 0 and self.registry.chunk_count():
                    # a new or emptied store: every chunk needs its vector again
                    self.registry.reset_embedded()
                elif self.registry.get("embed_recipe") not in (None, self.embed_recipe):
                    log.warning("embedding settings changed; re-embedding changed texts")
                    self.registry.reset_embedded()
                self.registry.put("embed_recipe", self.embed_recipe)
                self._vectors = store
            return self._vectors

    def _vectors_reopened(self, store: VectorStore) -> None:
        """The collection was gone (a Chroma server that lost its data) and came back empty:
        every chunk needs its vector again."""
        if store.count() == 0 and self.registry.chunk_count():
            log.warning("collection %r came back empty; re-embedding every chunk", store.name)
            self.registry.reset_embedded()

    def close(self) -> None:
        self.registry.close()
        if isinstance(self._embedder, CachedEmbeddings):
            self._embedder.close()

    # -- lexical index ---------------------------------------------------------------
    def lexical(self) -> LexicalIndex:
        """The BM25 index for the current registry generation: loaded, or rebuilt and saved."""
        return self._search_state().index

    def _search_state(self) -> _SearchState:
        gen = self.registry.generation
        state = self._state
        if state is not None and state.generation == gen:
            return state
        with self._lock:
            state = self._state
            if state is not None and state.generation == gen:
                return state
            folder = self.settings.data_dir / "lexical"
            index = LexicalIndex.load(folder, gen)
            # a saved index stamped with this generation was built from exactly these chunks;
            # only without one are all the tokens read back (the costly part of a reload)
            if index is None:
                ids, tokens = self.registry.all_tokens()
                index = LexicalIndex.build(ids, tokens)
                # another process may have ingested meanwhile: only a build from exactly
                # ``gen`` may be stamped with it (the next call reloads for the new one)
                if self.registry.generation == gen:
                    try:
                        index.save(folder, gen)
                    except OSError as exc:  # read-only data dir: search still works
                        log.warning("could not save the lexical index: %s", exc)
            metas = dict(self.registry.all_meta())
            if set(metas) != set(index.ids):  # changed since the stamp was read: build afresh
                ids, tokens = self.registry.all_tokens()
                index = LexicalIndex.build(ids, tokens)
                metas = dict(self.registry.all_meta())
            state = _SearchState.of(gen, index, [metas.get(i, {}) for i in index.ids])
            self._state = state
            return state

    # -- vectors ---------------------------------------------------------------------
    def sync_vectors(
        self,
        progress: Callable[[int, int], None] | None = None,
        limit: int | None = None,
        wait: bool = True,
    ) -> int:
        """Settle the vector store with the registry: drop retired vectors, embed pending chunks.

        Safe to interrupt at any point; the next call carries on. Returns vectors written.
        One process at a time does this (a file lock, ``<data_dir>/embed.lock``): API workers
        share the data dir, and two of them embedding the same pending chunks would only
        double the work. With ``wait=False`` a caller that finds the lock taken returns 0 at
        once (the holder is doing the work); otherwise it waits its turn.
        """
        if not self._sync_lock.acquire(blocking=wait):
            return 0
        lock = FileLock(self.settings.data_dir / "embed.lock")
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            self._sync_lock.release()
            return 0
        try:
            return self._sync_vectors(progress, limit)
        finally:
            lock.release()
            self._sync_lock.release()

    def _sync_vectors(self, progress: Callable[[int, int], None] | None, limit: int | None) -> int:
        store = self.vectors
        deletes = self.registry.vector_deletes()
        if deletes:
            live = self.registry.embedded_ids(deletes)
            store.delete([d for d in deletes if d not in live])
            self.registry.clear_vector_deletes(deletes)
        total = self.registry.pending_count()
        done = 0
        batch = max(1, self.settings.embed_batch_size)
        while limit is None or done < limit:
            rows = self.registry.pending(batch)
            if not rows:
                break
            chunks = [Chunk.from_store(cid, text, meta) for cid, text, _, meta in rows]
            texts = [self._embed_text(c) for c in chunks]
            vecs = self.embedder.embed_passages(texts)
            store.upsert(
                [r[0] for r in rows],
                vecs,
                [r[1] for r in rows],
                [chroma_metadata(r[3]) for r in rows],
            )
            self.registry.mark_embedded([(r[0], r[2]) for r in rows])
            done += len(rows)
            if progress:
                progress(done, total)
        return done

    def _embed_text(self, chunk: Chunk) -> str:
        return embed_text(chunk, self.settings.embed_max_chars, self.settings.embed_record_chars)

    @property
    def embed_recipe(self) -> str:
        """What a vector depends on besides the text; a change re-embeds (the cache keeps
        whatever text is unchanged)."""
        s = self.settings
        return f"{self.embedder_name}|{s.embed_max_chars}|{s.embed_record_chars}"

    def embed_hash(self, chunk: Chunk) -> str:
        return text_hash(self.embedder_name + "\x00" + self._embed_text(chunk))

    # -- search ----------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int = 10,
        where: dict[str, str] | None = None,
        mode: SearchMode = "hybrid",
        clause_boost: bool = True,
        candidates: int = 60,
        cue: bool = True,
    ) -> list[Hit]:
        where = parse_where(where)
        if not query.strip():
            return []
        state = self._search_state()
        index, metas = state.index, state.metas
        mask = state.mask(where) if where else None
        n = max(candidates, k)
        ranked: dict[str, dict[str, int]] = {}
        weights: dict[str, float] = {}
        cues = {key: v for key, v in query_cues(query).items() if key not in where} if cue else {}
        runs = [("", where, mask, 0.5 if cues else MAIN_WEIGHT)]
        if cues:
            sub = {**where, **cues}
            runs.append(("cue-", sub, state.mask(sub), 1.0))
        if RULES_RUN and "doc_type" not in where and "doc_type" not in cues:
            # thousands of accident narratives share a question's words; ranked alone, the rules
            # can fall out of the candidates altogether, so rank the rules once more on their own
            sub = {**where, **cues, "doc_type": NOT_ACCIDENT}
            runs.append(("rule-", sub, state.mask(sub), 1.0))
        all_scores = (
            index.scores(tokenize(query, for_query=True)) if mode in ("hybrid", "lexical") else None
        )
        dense = self._dense_pool(query) if mode in ("hybrid", "dense") else None
        for prefix, run_where, run_mask, weight in runs:
            if all_scores is not None:
                scores = all_scores
                if run_mask is not None:
                    scores = np.where(run_mask, scores, 0.0)
                top = _top(scores, n)
                for rank, i in enumerate((i for i in top if scores[i] > 0), start=1):
                    ranked.setdefault(index.ids[i], {})[prefix + "lexical"] = rank
                weights[prefix + "lexical"] = weight * LEXICAL_WEIGHT
            if dense is not None:
                for rank, cid in enumerate(
                    self._dense(dense, n, run_where, state, run_mask), start=1
                ):
                    ranked.setdefault(cid, {})[prefix + "dense"] = rank
                weights[prefix + "dense"] = weight
        fused = {
            cid: sum(weights[name] / (RRF_K + r) for name, r in ranks.items())
            for cid, ranks in ranked.items()
        }
        if "doc_type" not in where and "doc_type" not in cues:
            # rules answer questions; accident narratives share their words and would crowd them
            # out, so records count half unless the question asks for one (see ingest.cues)
            for cid in fused:
                pos = index.position(cid)
                if pos is not None and str(metas[pos].get("doc_type", "")).startswith("accident"):
                    fused[cid] *= RECORD_WEIGHT
        if clause_boost:
            for cid in self._clause_matches(query, state, mask):
                fused[cid] = fused.get(cid, 0.0) + 1.0
                ranked.setdefault(cid, {})["clause"] = 1
        order = sorted(fused, key=lambda c: -fused[c])[: k * 2]
        chunks = self.registry.chunks(order)
        hits: list[Hit] = []
        seen: dict[str, Hit] = {}
        for cid in order:
            if cid not in chunks:
                continue
            key = _dedupe_key(chunks[cid].text)
            if key in seen:  # the same clause in another copy of the law: one slot, both named
                slot = seen[key]
                if is_structured(chunks[cid].source) and not is_structured(slot.chunk.source):
                    # lead with the structured copy (a plain-text dump cites worse); keep the rank
                    slot.also_in.append(slot.chunk.source)
                    slot.chunk, slot.ranks = chunks[cid], {**ranked[cid], **slot.ranks}
                else:
                    slot.also_in.append(chunks[cid].source)
                continue
            hit = Hit(chunks[cid], fused[cid], ranked[cid])
            seen[key] = hit
            hits.append(hit)
            if len(hits) == k:
                break
        return hits

    def _dense_pool(self, query: str) -> _DensePool | None:
        """The query vector and the store's size for one search (None: no vectors yet)."""
        total = self.vectors.count()
        if total == 0:
            return None
        return _DensePool(self.embedder.embed_queries([query])[0], total)

    def _dense(
        self, pool: _DensePool, n: int, where: dict[str, str], state: _SearchState, mask
    ) -> list[str]:
        """A run's dense ranking. A filtered Chroma query costs 10-20x an unfiltered one
        (measured: 19-27 ms against 1.6 ms on the whole corpus), so a filtered run takes a
        wider unfiltered list and filters it with its mask; Chroma filters only when too few
        pass."""
        index = state.index
        size = n * 4 if where else n
        if size not in pool.lists:
            hits = self.vectors.query(pool.qvec, size)
            pool.lists[size] = self._live_passing(hits, index, None)
        ids = pool.lists[size]
        if mask is not None:
            ids = [c for c in ids if _passes(index, mask, c)]
        if len(ids) < n and where and size < pool.total:
            hits = self.vectors.query(pool.qvec, n * 3, self._chroma_where(where, state))
            ids = self._live_passing(hits, index, mask)
        return ids[:n]

    def _live_passing(self, hits: list[tuple[str, float]], index: LexicalIndex, mask) -> list[str]:
        """Hits whose chunk is registered with this vector (not retired) and passes ``mask``."""
        ids = [cid for cid, _ in hits]
        live = self.registry.embedded_ids(ids)
        return [c for c in ids if c in live and (mask is None or _passes(index, mask, c))]

    def _chroma_where(self, where: dict[str, str], state: _SearchState) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        for key, value in where.items():
            if key == "jurisdiction":
                known = state.jurisdictions
                allowed = [j for j in known if j == value or j.startswith(value + "-")] or [value]
                clauses.append({"jurisdiction": {"$in": allowed}})
            elif key == "industries":
                clauses.append({f"ind_{value}": True})
            elif key == "doc_type":
                known = state.doc_types
                want = value.lstrip("!")
                chosen = [d for d in known if d == want or d.startswith(want + "_")] or [want]
                op = "$nin" if value.startswith("!") else "$in"
                clauses.append({"doc_type": {op: chosen}})
            elif key in ("language", "normative"):
                clauses.append({key: value})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def _clause_matches(self, query: str, state: _SearchState, mask) -> list[str]:
        """Chunks at a clause the query names; with a document hint, only in that document."""
        refs = find_clause_refs(query)
        if not refs:
            return []
        index, metas = state.index, state.metas
        out: list[str] = []
        for ref in refs:
            prefix = normalise_locator(ref.locator).casefold()
            for pos, loc in enumerate(state.locators):
                if not loc.startswith(prefix) or (mask is not None and not mask[pos]):
                    continue
                meta = metas[pos]
                if not locator_matches(str(meta.get("locator") or ""), ref.locator):
                    continue
                if ref.doc_hint and ref.doc_hint not in str(meta.get("title", "")) + str(
                    meta.get("source", "")
                ):
                    continue
                out.append(index.ids[pos])
        # a bare article number matches every law: without a hint, only a handful is useful
        return out if len(out) <= 20 else []

    # -- documents -------------------------------------------------------------------
    def remove_document(self, doc_id: str) -> int:
        return self.registry.remove_document(doc_id)

    def stats(self) -> dict[str, Any]:
        stats = self.registry.stats()
        stats["embedder"] = self.embedder_name
        return stats


def open_kb(
    settings: Settings | None = None, embedder: ArrayEmbeddings | None = None, client: Any = None
) -> KnowledgeBase:
    return KnowledgeBase(settings or Settings(), embedder=embedder, client=client)
