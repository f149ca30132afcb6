"""The records database: inspections, hazards, corrective actions, plans and the audit trail.

SQLite under the data dir (``records.sqlite``), in WAL mode so the web service can read while
the command line writes. The schema comes from numbered migrations (:data:`MIGRATIONS`), applied
in order and recorded in ``schema_migrations``; each step is plain SQL with portable types
(TEXT, INTEGER) so that a PostgreSQL port is the same numbered steps in its dialect
(``GENERATED … AS IDENTITY`` for ``AUTOINCREMENT``, PL/pgSQL for the triggers).

Immutability is enforced twice: by :mod:`assistant.inspections` with a clear error, and by
triggers here, so that no write path (a script, a later bug) can change a signed record or
rewrite the audit trail.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SIGNED_MESSAGE = "inspection is signed and immutable; amend it to create a new version"

_V1 = f"""
CREATE TABLE checklists (
    checklist_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    industry TEXT NOT NULL DEFAULT '',
    topic TEXT NOT NULL DEFAULT '',
    jurisdiction TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE inspections (
    inspection_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    checklist_id TEXT NOT NULL REFERENCES checklists (checklist_id),
    site TEXT NOT NULL,
    area TEXT NOT NULL DEFAULT '',
    inspector TEXT NOT NULL,
    date TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'signed')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    based_on INTEGER,
    amend_reason TEXT,
    signed_by TEXT,
    signed_at TEXT,
    record_hash TEXT,
    PRIMARY KEY (inspection_id, version)
);
CREATE INDEX inspections_site ON inspections (site, checklist_id, status);

CREATE TABLE results (
    inspection_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('pass', 'fail', 'na')),
    note TEXT NOT NULL DEFAULT '',
    grade TEXT CHECK (grade IN ('general', 'major')),
    hazard TEXT,
    action TEXT,
    owner TEXT,
    due TEXT,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    PRIMARY KEY (inspection_id, version, item_id),
    FOREIGN KEY (inspection_id, version) REFERENCES inspections (inspection_id, version)
);

CREATE TABLE photos (
    inspection_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (inspection_id, version, item_id, sha256),
    FOREIGN KEY (inspection_id, version) REFERENCES inspections (inspection_id, version)
);

CREATE TABLE hazards (
    hazard_id TEXT PRIMARY KEY,
    inspection_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    raised_version INTEGER NOT NULL,
    grade TEXT NOT NULL CHECK (grade IN ('general', 'major')),
    description TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'withdrawn')),
    raised_at TEXT NOT NULL,
    closed_at TEXT,
    closed_by TEXT,
    UNIQUE (inspection_id, item_id)
);

CREATE TABLE corrective_actions (
    action_id TEXT PRIMARY KEY,
    hazard_id TEXT NOT NULL REFERENCES hazards (hazard_id),
    action TEXT NOT NULL,
    owner TEXT,
    due TEXT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'verified', 'cancelled')),
    created_at TEXT NOT NULL,
    verified_at TEXT,
    verified_by TEXT
);
CREATE INDEX corrective_actions_due ON corrective_actions (status, due);

CREATE TABLE reinspections (
    reinspection_id INTEGER PRIMARY KEY AUTOINCREMENT,
    hazard_id TEXT NOT NULL REFERENCES hazards (hazard_id),
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('pass', 'fail')),
    note TEXT NOT NULL DEFAULT ''
);

CREATE TABLE plans (
    plan_id INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    area TEXT NOT NULL DEFAULT '',
    checklist_id TEXT NOT NULL REFERENCES checklists (checklist_id),
    frequency TEXT NOT NULL,
    start TEXT NOT NULL,
    owner TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

CREATE TABLE audit (
    audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    inspection_id TEXT,
    version INTEGER,
    item_id TEXT,
    detail TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX audit_inspection ON audit (inspection_id, audit_id);

CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

CREATE TRIGGER results_signed_insert BEFORE INSERT ON results
WHEN (SELECT status FROM inspections WHERE inspection_id = NEW.inspection_id AND version = NEW.version) = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER results_signed_update BEFORE UPDATE ON results
WHEN (SELECT status FROM inspections WHERE inspection_id = OLD.inspection_id AND version = OLD.version) = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER results_signed_delete BEFORE DELETE ON results
WHEN (SELECT status FROM inspections WHERE inspection_id = OLD.inspection_id AND version = OLD.version) = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER photos_signed_insert BEFORE INSERT ON photos
WHEN (SELECT status FROM inspections WHERE inspection_id = NEW.inspection_id AND version = NEW.version) = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER photos_signed_change BEFORE UPDATE ON photos
WHEN (SELECT status FROM inspections WHERE inspection_id = OLD.inspection_id AND version = OLD.version) = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER photos_signed_delete BEFORE DELETE ON photos
WHEN (SELECT status FROM inspections WHERE inspection_id = OLD.inspection_id AND version = OLD.version) = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER inspections_signed_update BEFORE UPDATE ON inspections
WHEN OLD.status = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER inspections_signed_delete BEFORE DELETE ON inspections
WHEN OLD.status = 'signed'
BEGIN SELECT RAISE(ABORT, '{SIGNED_MESSAGE}'); END;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""

#: (version, name, SQL): append new steps, never edit an applied one
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "inspections, results, photos, hazards, corrective actions, plans, audit", _V1),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


class RecordsDB:
    """One SQLite connection, serialised by a lock (the web service shares it across threads)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(
            str(path), check_same_thread=False, timeout=30, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self.migrate()

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, each in its own transaction. Returns them."""
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in self._db.execute("SELECT version FROM schema_migrations")}
            applied = []
            for version, name, sql in MIGRATIONS:
                if version in done:
                    continue
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(sql):
                        self._db.execute(statement)
                    self._db.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        (version, name, utc_now().isoformat(timespec="seconds")),
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                applied.append(version)
            return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None


def _statements(sql: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (``BEGIN … END;``) whole."""
    out: list[str] = []
    buf: list[str] = []
    in_trigger = False
    for line in sql.splitlines():
        if not line.strip() and not buf:
            continue
        buf.append(line)
        upper = line.strip().upper()
        if upper.startswith("CREATE TRIGGER"):
            in_trigger = True
        if (in_trigger and upper.endswith("END;")) or (not in_trigger and upper.endswith(";")):
            out.append("\n".join(buf))
            buf, in_trigger = [], False
    if "".join(buf).strip():
        out.append("\n".join(buf))
    return out


def next_id(db: sqlite3.Connection, name: str, prefix: str) -> str:
    """``INS-0001``, ``HZ-0001``: short ids a person can read out; call inside a transaction."""
    row = db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
    value = (row[0] if row else 0) + 1
    db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
    return f"{prefix}-{value:04d}"
