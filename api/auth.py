"""API keys with roles, stored hashed; a rate limit per key; the rule for binding addresses.

Roles are ordered, each one allowing what the ones below it do::

    reader     ask, search, checklists, list documents, read inspections, feedback
    inspector  + start, record and sign inspections, close hazards, plan inspections
    admin      + upload and delete documents

A key is shown once, when it is made (``anquan keys create``); the database keeps only its
sha256 (the key is 32 random bytes, so a plain hash is as strong as a slow one) and its first
characters, so a person can tell keys apart in ``anquan keys list``.

Without any key the service is for the person at the machine: it binds 127.0.0.1 and treats
every request as that local user (admin). :func:`check_bind` refuses any other address until
a key exists, because a keyless service on a network address is open to everyone on it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError

ROLES: tuple[str, ...] = ("reader", "inspector", "admin")
KEY_PREFIX = "aq_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reader', 'inspector', 'admin')),
    sha256 TEXT NOT NULL UNIQUE,
    shown TEXT NOT NULL,
    rate_per_minute INTEGER,
    created_at REAL NOT NULL,
    revoked_at REAL,
    last_used_at REAL
);
"""


def role_allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a key's holder, or the keyless local user."""

    key_id: str
    name: str
    role: str
    #: requests per minute; 0 means no limit
    rate_per_minute: int
    local: bool = False


def local_principal(rate_per_minute: int = 0) -> Principal:
    return Principal("local", "local user", "admin", rate_per_minute, local=True)


class KeyStore:
    """API keys in SQLite (``<data_dir>/api.sqlite``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def create(self, name: str, role: str, rate_per_minute: int | None = None) -> dict[str, Any]:
        """Make a key. The returned ``key`` is the only time the secret is seen."""
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}. Available: {', '.join(ROLES)}")
        if not name.strip():
            raise ConfigError("a key needs a name saying whose it is (e.g. 'site office PC')")
        if rate_per_minute is not None and rate_per_minute < 0:
            raise ConfigError("rate must be 0 (no limit) or a positive number of requests a minute")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(4)
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO api_keys (key_id, name, role, sha256, shown, rate_per_minute, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key_id, name.strip(), role, hash_key(key), key[:10], rate_per_minute, now),
            )
        return {
            "key_id": key_id,
            "name": name.strip(),
            "role": role,
            "key": key,
            "rate_per_minute": rate_per_minute,
        }

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, name, role, shown, rate_per_minute, created_at, revoked_at, "
                "last_used_at FROM api_keys ORDER BY created_at"
            ).fetchall()
        cols = (
            "key_id",
            "name",
            "role",
            "starts_with",
            "rate_per_minute",
            "created_at",
            "revoked_at",
            "last_used_at",
        )
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke by id (or by the key itself); False when there is no such active key."""
        with self._lock, self._db:
            cur = self._db.execute(
                "UPDATE api_keys SET revoked_at=? WHERE (key_id=? OR sha256=?) "
                "AND revoked_at IS NULL",
                (time.time(), key_id, hash_key(key_id)),
            )
        return cur.rowcount > 0

    def active_count(self) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL"
            ).fetchone()[0]

    def is_revoked(self, key: str) -> bool:
        with self._lock:
            return bool(
                self._db.execute(
                    "SELECT 1 FROM api_keys WHERE sha256=? AND revoked_at IS NOT NULL",
                    (hash_key(key),),
                ).fetchone()
            )

    def authenticate(self, key: str, default_rate: int) -> Principal | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, name, role, rate_per_minute, last_used_at FROM api_keys "
                "WHERE sha256=? AND revoked_at IS NULL",
                (hash_key(key),),
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            if row[4] is None or now - row[4] > 60:  # a write a minute at most, not per request
                with self._db:
                    self._db.execute(
                        "UPDATE api_keys SET last_used_at=? WHERE key_id=?", (now, row[0])
                    )
        rate = default_rate if row[3] is None else int(row[3])
        return Principal(row[0], row[1], row[2], rate)


class RateLimiter:
    """A token bucket per key: ``rate`` requests a minute, bursts up to ``rate``."""

    def __init__(self, clock=time.monotonic) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def take(self, key: str, rate_per_minute: int) -> float:
        """0 when the request may go ahead, else the seconds to wait before trying again."""
        if rate_per_minute <= 0:
            return 0.0
        now = self._clock()
        per_second = rate_per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - last) * per_second)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return max(0.001, (1.0 - tokens) / per_second)

    @staticmethod
    def retry_after(wait_s: float) -> str:
        return str(max(1, math.ceil(wait_s)))


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: KeyStore) -> None:
    """Refuse to serve a network address without keys (see the module docstring)."""
    if is_loopback(host) or keys.active_count():
        return
    raise ConfigError(
        f"refusing to listen on {host} without API keys: anyone who can reach that address "
        "could read and change the records. Create a key first, e.g. "
        "'anquan keys create --name \"site office\" --role admin', then give it to clients as "
        "'Authorization: Bearer <key>'; or serve on 127.0.0.1 for yourself only"
    )
