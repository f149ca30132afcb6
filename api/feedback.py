"""Answers given by the service, and what people thought of them (👍/👎 with a comment).

Each answer gets an id (``ans_…``) and is kept (question, answer, citations, backend) so that
feedback points at what was actually said; the log is bounded (oldest dropped first). Both
live in ``<data_dir>/api.sqlite`` next to the API keys, and feed the evals: a 👎 with its
comment is a candidate question for the dev set.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    key_id TEXT NOT NULL,
    question TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    feedback_id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL,
    at REAL NOT NULL,
    key_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback (answer_id);
"""


def new_answer_id() -> str:
    return "ans_" + secrets.token_hex(8)


class FeedbackStore:
    def __init__(self, path: Path, keep: int = 10_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.keep = keep
        self._writes = 0

    def close(self) -> None:
        self._db.close()

    def log_answer(
        self, answer_id: str, question: str, answer: dict[str, Any], key_id: str
    ) -> None:
        body = json.dumps(
            {k: answer.get(k) for k in ("answer", "refused", "citations", "backend", "language")},
            ensure_ascii=False,
        )
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?)",
                (answer_id, time.time(), key_id, question, body),
            )
            self._writes += 1
            if self._writes % 100 == 0:
                self._db.execute(
                    "DELETE FROM answers WHERE answer_id NOT IN "
                    "(SELECT answer_id FROM answers ORDER BY at DESC LIMIT ?)",
                    (self.keep,),
                )

    def answer(self, answer_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT question, body, at FROM answers WHERE answer_id=?", (answer_id,)
            ).fetchone()
        if row is None:
            return None
        return {"answer_id": answer_id, "question": row[0], **json.loads(row[1]), "at": row[2]}

    def add(self, answer_id: str, rating: int, comment: str, key_id: str) -> int:
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO feedback (answer_id, at, key_id, rating, comment) VALUES (?, ?, ?, ?, ?)",
                (answer_id, time.time(), key_id, rating, comment),
            )
        return int(cur.lastrowid or 0)

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT f.feedback_id, f.answer_id, f.at, f.rating, f.comment, a.question "
                "FROM feedback f LEFT JOIN answers a USING (answer_id) "
                "ORDER BY f.feedback_id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        cols = ("feedback_id", "answer_id", "at", "rating", "comment", "question")
        return [dict(zip(cols, r, strict=True)) for r in rows]
