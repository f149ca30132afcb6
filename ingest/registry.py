"""The registry: which file, with which content hash, produced which chunks (SQLite).

It is the knowledge base's source of truth. A file's chunks are replaced in one
transaction, so a crash leaves either the old chunks or the new ones, never a mix.
The vector store follows it: chunks not yet embedded carry ``embedded = 0`` and vectors
of removed chunks wait in ``vector_deletes``; both are settled by the next run, so a
``kill -9`` at any point leaves a consistent knowledge base that a re-run completes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest.models import Chunk, DocMeta

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT UNIQUE NOT NULL, root TEXT, path TEXT,
    title TEXT, doc_type TEXT, jurisdiction TEXT, issuer TEXT, language TEXT,
    industries TEXT, effective_date TEXT, format TEXT, content_hash TEXT,
    size INTEGER, chunk_count INTEGER, ingested_at REAL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, seq INTEGER NOT NULL,
    text TEXT NOT NULL, meta TEXT NOT NULL, tokens TEXT NOT NULL,
    embed_hash TEXT NOT NULL, embedded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id, seq);
CREATE INDEX IF NOT EXISTS chunks_pending ON chunks (embedded);
CREATE TABLE IF NOT EXISTS vector_deletes (chunk_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS failures (
    source TEXT PRIMARY KEY, path TEXT, code TEXT, message TEXT, at REAL
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass
class DocumentRow:
    doc_id: str
    source: str
    path: str
    title: str
    doc_type: str
    jurisdiction: str
    language: str
    content_hash: str
    chunk_count: int
    ingested_at: float


class Registry:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                # inside the try: a COMMIT that fails (a full disk, a busy database) may leave
                # the transaction open, and this long-lived connection could not begin another
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    # -- key/value ---------------------------------------------------------------------
    def get(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM kv WHERE key=?", (key,))
        return rows[0][0] if rows else default

    def put(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO kv VALUES (?,?)", (key, value))

    @property
    def generation(self) -> int:
        """Bumped by every change to the chunk set; the lexical index is stamped with it."""
        return int(self.get("generation", "0") or 0)

    # -- documents -------------------------------------------------------------------
    def document_hash(self, source: str) -> str | None:
        rows = self._query("SELECT content_hash FROM documents WHERE source=?", (source,))
        return rows[0][0] if rows else None

    def documents(self) -> list[DocumentRow]:
        rows = self._query(
            "SELECT doc_id, source, path, title, doc_type, jurisdiction, language, content_hash, "
            "chunk_count, ingested_at FROM documents ORDER BY source"
        )
        return [DocumentRow(*r) for r in rows]

    def document(self, doc_id: str) -> DocumentRow | None:
        rows = self._query(
            "SELECT doc_id, source, path, title, doc_type, jurisdiction, language, content_hash, "
            "chunk_count, ingested_at FROM documents WHERE doc_id=? OR source=?",
            (doc_id, doc_id),
        )
        return DocumentRow(*rows[0]) if rows else None

    def replace_document(
        self,
        meta: DocMeta,
        *,
        root: str,
        path: str,
        fmt: str,
        content_hash: str,
        size: int,
        chunks: list[Chunk],
        tokens: list[list[str]],
        embed_hashes: list[str],
    ) -> int:
        """Write a document's new chunks and retire its old ones in one transaction.

        A chunk whose id and embedding text are unchanged keeps its vector. Returns the
        number of chunks that need a (new) vector.
        """
        doc_id = meta.doc_id
        with self.transaction() as db:
            rows_old = db.execute(
                "SELECT chunk_id, embed_hash, embedded FROM chunks WHERE doc_id=?", (doc_id,)
            ).fetchall()
            # a vector is kept only where it was written for exactly this text
            old = {cid: eh for cid, eh, done in rows_old if done}
            new_ids = {c.chunk_id for c in chunks}
            db.executemany(
                "INSERT OR IGNORE INTO vector_deletes VALUES (?)",
                [(cid,) for cid, _, _ in rows_old if cid not in new_ids],
            )
            db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            pending = 0
            rows = []
            for seq, (chunk, toks, eh) in enumerate(zip(chunks, tokens, embed_hashes, strict=True)):
                embedded = 1 if old.get(chunk.chunk_id) == eh else 0
                pending += 1 - embedded
                rows.append(
                    (
                        chunk.chunk_id,
                        doc_id,
                        seq,
                        chunk.text,
                        json.dumps(chunk.metadata(), ensure_ascii=False),
                        " ".join(toks),
                        eh,
                        embedded,
                    )
                )
            db.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)", rows)
            db.execute(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc_id,
                    meta.source,
                    root,
                    path,
                    meta.title,
                    meta.doc_type,
                    meta.jurisdiction,
                    meta.issuer,
                    meta.language,
                    ";".join(meta.industries),
                    meta.effective_date,
                    fmt,
                    content_hash,
                    size,
                    len(chunks),
                    time.time(),
                ),
            )
            db.execute("DELETE FROM failures WHERE source=?", (meta.source,))
            self._bump(db)
        return pending

    def remove_document(self, doc_id: str) -> int:
        with self.transaction() as db:
            ids = [
                r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,))
            ]
            db.executemany("INSERT OR IGNORE INTO vector_deletes VALUES (?)", [(i,) for i in ids])
            db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
            self._bump(db)
        return len(ids)

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO kv VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET "
            "value = CAST(value AS INTEGER) + 1"
        )

    # -- failures --------------------------------------------------------------------
    def record_failure(self, source: str, path: str, code: str, message: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?,?,?,?,?)",
                (source, path, code, message, time.time()),
            )

    def failures(self) -> list[tuple[str, str, str]]:
        return self._query("SELECT source, code, message FROM failures ORDER BY source")

    # -- chunks ----------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self._query("SELECT COUNT(*) FROM chunks")[0][0]

    def all_tokens(self) -> tuple[list[str], list[list[str]]]:
        rows = self._query("SELECT chunk_id, tokens FROM chunks ORDER BY doc_id, seq")
        return [r[0] for r in rows], [r[1].split(" ") if r[1] else [] for r in rows]

    def all_meta(self) -> list[tuple[str, dict]]:
        rows = self._query("SELECT chunk_id, meta FROM chunks ORDER BY doc_id, seq")
        return [(r[0], json.loads(r[1])) for r in rows]

    def chunks(self, ids: Iterable[str]) -> dict[str, Chunk]:
        ids = list(ids)
        out: dict[str, Chunk] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for cid, text, meta in self._query(
                f"SELECT chunk_id, text, meta FROM chunks WHERE chunk_id IN ({','.join('?' * len(part))})",
                part,
            ):
                out[cid] = Chunk.from_store(cid, text, json.loads(meta))
        return out

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        rows = self._query(
            "SELECT chunk_id, text, meta FROM chunks WHERE doc_id=? ORDER BY seq", (doc_id,)
        )
        return [Chunk.from_store(cid, text, json.loads(meta)) for cid, text, meta in rows]

    def embedded_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            # by primary key, filtered here: with ``embedded=1`` in the WHERE clause SQLite picks
            # the ``chunks_pending`` index and scans every embedded chunk (15-20 ms a call on the
            # whole corpus, on every search, against under 1 ms)
            found.update(
                cid
                for cid, embedded in self._query(
                    f"SELECT chunk_id, embedded FROM chunks WHERE chunk_id IN "
                    f"({','.join('?' * len(part))})",
                    part,
                )
                if embedded
            )
        return found

    def pending(self, limit: int) -> list[tuple[str, str, str, dict]]:
        """Chunks waiting for a vector: (chunk_id, text, embed_hash, meta)."""
        rows = self._query(
            "SELECT chunk_id, text, embed_hash, meta FROM chunks WHERE embedded=0 "
            # rules before accident records: the answers need them first
            "ORDER BY json_extract(meta, '$.doc_type') LIKE '%record%', doc_id, seq LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def pending_count(self) -> int:
        return self._query("SELECT COUNT(*) FROM chunks WHERE embedded=0")[0][0]

    def mark_embedded(self, items: list[tuple[str, str]]) -> None:
        """Mark (chunk_id, embed_hash) pairs as embedded, unless the chunk changed meanwhile."""
        with self.transaction() as db:
            db.executemany("UPDATE chunks SET embedded=1 WHERE chunk_id=? AND embed_hash=?", items)

    def reset_embedded(self) -> None:
        """Every chunk needs a new vector (the embedder changed)."""
        with self.transaction() as db:
            db.execute("UPDATE chunks SET embedded=0")

    def vector_deletes(self) -> list[str]:
        return [r[0] for r in self._query("SELECT chunk_id FROM vector_deletes")]

    def clear_vector_deletes(self, ids: list[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM vector_deletes WHERE chunk_id=?", [(i,) for i in ids])

    def stats(self) -> dict:
        by = {}
        for col in ("doc_type", "language", "jurisdiction"):
            rows = self._query(
                f"SELECT d.{col}, COUNT(DISTINCT d.doc_id), COUNT(c.chunk_id) FROM documents d "
                f"LEFT JOIN chunks c ON c.doc_id = d.doc_id GROUP BY d.{col} ORDER BY d.{col}"
            )
            by[col] = {(k or "-"): {"documents": n, "chunks": m} for k, n, m in rows}
        return {
            "documents": self._query("SELECT COUNT(*) FROM documents")[0][0],
            "chunks": self.chunk_count(),
            "pending_vectors": self.pending_count(),
            "failures": len(self.failures()),
            "by": by,
        }
