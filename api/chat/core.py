"""What every chat platform shares: refusals, clocks, dedupe, history, dispatch, allowlists.

    ChatRejected (AnquanError)         a request the chat layer will not act on; ``status`` says how
     ├── SignatureError                401  forged, wrong key, missing or malformed signature
     │    ├── StaleRequest             401  signed too long ago (or in the future): replay window
     │    └── ReplayedRequest          401  a signature already used for another event
     ├── BadRequest                    400  authentic but not a shape we read
     ├── TargetNotAllowed              403  a reply URL inside the request is off the allowlist
     ├── PayloadTooLarge               413
     └── NotConfigured                 503  the platform's secrets are not set

A request moves through one path on every platform: verify the raw bytes (injectable clock,
constant-time compare, replay window) → normalise it into a :class:`Question` → claim its
event id in the :class:`ChatStore` (a platform retry finds it claimed and is only acknowledged)
→ acknowledge at once → :class:`ChatService` answers in a worker thread and hands the
:class:`Reply` to the platform's renderer and sender. The assistant is reached only through the
injected ``ask``/``checklist``/``feedback`` callables, so this layer has no brains of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ingest.errors import AnquanError
from ingest.language import detect_language

log = logging.getLogger(__name__)

Clock = Callable[[], float]
AskFn = Callable[[str, list[dict[str, Any]]], dict[str, Any]]
ChecklistFn = Callable[[str, str], dict[str, Any]]
#: ``feedback(answer_id, vote, comment)``: vote is 1 (👍) or -1 (👎), comment "" when none
FeedbackFn = Callable[[str, int, str], Any]

#: longest question passed on to the assistant (characters)
MAX_QUESTION_CHARS = 2000
#: largest request body any platform sends us
MAX_BODY_BYTES = 1024 * 1024


# Refusals


class ChatRejected(AnquanError):
    status = 400
    code = "rejected"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class SignatureError(ChatRejected):
    status = 401
    code = "bad_signature"


class StaleRequest(SignatureError):
    code = "stale_request"


class ReplayedRequest(SignatureError):
    code = "replayed_request"


class BadRequest(ChatRejected):
    status = 400
    code = "bad_request"


class TargetNotAllowed(ChatRejected):
    status = 403
    code = "reply_url_not_allowed"


class PayloadTooLarge(ChatRejected):
    status = 413
    code = "payload_too_large"


class NotConfigured(ChatRejected):
    status = 503
    code = "not_configured"


def error_body(exc: ChatRejected) -> dict[str, Any]:
    """The API's one error shape; the message never carries a traceback."""
    return {"error": {"code": exc.code, "message": str(exc), "details": {}}}


# Constant-time compares and the replay window


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time equality of two strings or byte strings (no early exit on a mismatch)."""
    x = a.encode() if isinstance(a, str) else a
    y = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(x, y)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


_DIGITS = re.compile(r"[0-9]{1,16}")


def parse_timestamp(value: str | None, *, millis: bool = False) -> float:
    """A signed timestamp header as seconds; anything but plain digits is a bad signature."""
    if value is None or not _DIGITS.fullmatch(value.strip()):
        raise SignatureError("missing or malformed timestamp")
    n = int(value.strip())
    return n / 1000.0 if millis else float(n)


def check_window(signed_at: float, now: float, window_s: float) -> None:
    """Refuse a request signed more than ``window_s`` ago, or as far in the future (clock skew
    is the same either way; a future timestamp is how a captured request is kept fresh)."""
    if abs(now - signed_at) > window_s:
        raise StaleRequest(
            f"request signed {int(now - signed_at)} s from now; the window is ±{int(window_s)} s"
        )


# Reply URLs that arrive inside a request


def host_allowed(url: str, allowed: list[str] | tuple[str, ...]) -> bool:
    """Whether ``url`` may be called. An entry is a host (``hooks.slack.com``), a wildcard
    (``*.botframework.com``: subdomains only) or an origin (``http://127.0.0.1:8123``) for a
    plain-HTTP or non-default-port target. Host entries need https on the default port; no
    URL with credentials, and no bare IP address unless an origin names it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").rstrip(".").lower()
    if not host or parts.username or parts.password or "\\" in url or any(c.isspace() for c in url):
        return False
    scheme = parts.scheme.lower()
    for entry in allowed:
        entry = entry.strip().lower().rstrip("/")
        if not entry:
            continue
        if "://" in entry:
            try:
                e = urlsplit(entry)
                e_port = e.port or (443 if e.scheme == "https" else 80)
            except ValueError:
                continue
            u_port = port or (443 if scheme == "https" else 80)
            if (scheme, host, u_port) == (e.scheme, (e.hostname or "").rstrip("."), e_port):
                return True
            continue
        if scheme != "https" or port not in (None, 443) or _is_ip(host):
            continue
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def require_allowed(url: str, allowed: list[str] | tuple[str, ...], what: str) -> str:
    if not isinstance(url, str) or not host_allowed(url, allowed):
        raise TargetNotAllowed(
            f"{what} is not on the allowlist; allowed: {', '.join(allowed) or '(none)'}"
        )
    return url


# What a platform event becomes


Kind = Literal["ask", "checklist", "help"]


@dataclass(frozen=True)
class Question:
    """A platform event, normalised: what to answer and where the answer goes."""

    platform: str
    #: the platform's event id: retries carry the same one
    event_id: str
    #: conversation key for follow-ups (a Slack thread, a Teams conversation, a DingTalk chat)
    thread_id: str
    text: str
    kind: Kind = "ask"
    #: the checklist topic for ``kind == "checklist"``
    topic: str = ""
    user: str = ""
    #: platform-specific reply target (channel and thread, message id, reply URL, ...)
    reply: Mapping[str, Any] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return detect_language(self.topic or self.text)


@dataclass(frozen=True)
class Vote:
    """👍/👎 on an answer, from a button the renderer put under it."""

    platform: str
    event_id: str
    answer_id: str
    vote: int
    comment: str = ""


@dataclass
class Reply:
    """What the core made of a question, for the platform's renderer."""

    kind: Literal["answer", "checklist", "help", "error"]
    answer_id: str
    language: str
    question: str = ""
    #: the Answer dict (kind "answer") or the checklist dict (kind "checklist")
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.kind == "answer" and bool(self.data.get("refused"))


_CHECKLIST = re.compile(
    r"^\s*(?:/?anquan\s+)?(?:/?checklist|check-list|清单|检查表|检查清单|安全检查表)\s*(?:[:：]\s*|\s+|$)"
    r"(?P<topic>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_HELP = re.compile(r"^\s*(?:/?help|帮助|\?|？)\s*$", re.IGNORECASE)


def parse_request(text: str) -> tuple[Kind, str]:
    """``("checklist", "scaffolds")`` for "checklist: scaffolds" (or 清单：脚手架); ``("help", "")``
    for an empty message or "help"; otherwise ``("ask", question)``."""
    text = clean_text(text)
    if not text or _HELP.match(text):
        return "help", ""
    m = _CHECKLIST.match(text)
    if m:
        topic = m.group("topic").strip(" \t:：")
        return ("checklist", topic) if topic else ("help", "")
    return "ask", text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: Any, limit: int = MAX_QUESTION_CHARS) -> str:
    """User text as the assistant should see it: a string, no control characters, bounded."""
    if not isinstance(text, str):
        return ""
    text = _CONTROL.sub("", text).replace("\u00a0", " ")
    text = re.sub(r"[ \t]+", " ", text).strip()
    return text[:limit]


def new_answer_id() -> str:
    return "ans_" + secrets.token_hex(8)


_ANSWER_ID = re.compile(r"ans_[0-9a-f]{16}")


def valid_answer_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_ANSWER_ID.fullmatch(value))


def parse_vote(value: Any) -> int | None:
    """1, -1 or None from what a button carried ("up"/"down", "like"/"dislike", 1/-1)."""
    if isinstance(value, bool):
        return None
    if value in (1, "1", "+1", "up", "like", "👍"):
        return 1
    if value in (-1, "-1", "down", "dislike", "👎"):
        return -1
    return None


# The store: dedupe with TTL, conversation history, answers issued, small state


_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    thread TEXT NOT NULL, at REAL NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_thread ON history (thread, at);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL);
"""


class ChatStore:
    """SQLite (a file shared by every worker process, or ``":memory:"`` for one process).

    ``claim`` is the dedupe: the first caller for a key wins until the key expires, so a
    platform's retry of an event that is already being answered is only acknowledged."""

    def __init__(self, path: str | Path = ":memory:", clock: Clock = time.time) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._clock = clock
        self._writes = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def claim(self, key: str, ttl_s: float, value: str = "") -> bool:
        """True for the first claim of ``key`` within ``ttl_s``; False for every repeat."""
        now = self._clock()
        with self._lock, self._db:
            self._db.execute("DELETE FROM seen WHERE key=? AND expires<?", (key, now))
            cur = self._db.execute(
                "INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (key, value, now + ttl_s)
            )
            self._tick(now)
            return cur.rowcount == 1

    def claimed(self, key: str) -> str | None:
        """The value stored by the claim of ``key``, while it lasts."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM seen WHERE key=? AND expires>=?", (key, self._clock())
            ).fetchone()
        return row[0] if row else None

    def history(self, thread: str, turns: int, max_age_s: float) -> list[dict[str, Any]]:
        """The last ``turns`` exchanges of a thread, oldest first, as role/content dicts."""
        if turns <= 0:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT role, content FROM history WHERE thread=? AND at>=? "
                "ORDER BY at DESC, rowid DESC LIMIT ?",
                (thread, self._clock() - max_age_s, turns * 2),
            ).fetchall()
        return [{"role": r, "content": c} for r, c in reversed(rows)]

    def append(self, thread: str, role: str, content: str) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO history VALUES (?, ?, ?, ?)", (thread, self._clock(), role, content)
            )

    def put(self, key: str, value: Any, ttl_s: float) -> None:
        now = self._clock()
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO state VALUES (?, ?, ?)",
                (key, json.dumps(value, ensure_ascii=False), now + ttl_s),
            )
            self._tick(now)

    def get(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM state WHERE key=? AND expires>=?", (key, self._clock())
            ).fetchone()
        return json.loads(row[0]) if row else None

    def _tick(self, now: float) -> None:
        self._writes += 1
        if self._writes % 200 == 0:
            self._db.execute("DELETE FROM seen WHERE expires<?", (now,))
            self._db.execute("DELETE FROM state WHERE expires<?", (now,))
            self._db.execute("DELETE FROM history WHERE at<?", (now - 7 * 86400,))


# Background work


class Dispatcher:
    """Worker threads for answers: the request thread acknowledges and returns at once."""

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="chat")
        self._pending = 0
        self._cond = threading.Condition()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        with self._cond:
            self._pending += 1
        future = self._pool.submit(fn, *args)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no answer is in flight (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# The core: one place that calls the assistant


class ChatCore:
    """Turns a :class:`Question` into a :class:`Reply` with the injected assistant callables;
    keeps the thread's history so follow-ups are understood. Never raises: a failure becomes
    a polite ``error`` reply, and the traceback goes to the log only."""

    def __init__(
        self,
        ask: AskFn,
        checklist: ChecklistFn,
        feedback: FeedbackFn,
        store: ChatStore,
        history_turns: int = 6,
        history_max_age_s: float = 86400.0,
    ) -> None:
        self.ask = ask
        self.checklist = checklist
        self.feedback = feedback
        self.store = store
        self.history_turns = history_turns
        self.history_max_age_s = history_max_age_s

    def respond(self, q: Question) -> Reply:
        lang = q.language
        try:
            if q.kind == "help":
                return Reply("help", "", lang, q.text)
            if q.kind == "checklist":
                data = self.checklist(q.topic, lang)
                answer_id = self._issue(q, data.get("answer_id"))
                return Reply("checklist", answer_id, lang, q.topic, data)
            history = self.store.history(q.thread_id, self.history_turns, self.history_max_age_s)
            data = self.ask(q.text, history)
            answer_id = self._issue(q, data.get("answer_id"))
            self.store.append(q.thread_id, "user", q.text)
            self.store.append(q.thread_id, "assistant", str(data.get("answer", ""))[:4000])
            return Reply("answer", answer_id, str(data.get("language") or lang), q.text, data)
        except Exception:
            log.exception("answering a %s question failed", q.platform)
            return Reply("error", "", lang, q.text)

    def _issue(self, q: Question, given: Any) -> str:
        """The answer's id (the ``ask`` callable may have logged it under its own), recorded
        so a vote can only land on an answer this service gave."""
        answer_id = given if isinstance(given, str) and given else new_answer_id()
        self.store.put(
            f"answer:{answer_id}", {"platform": q.platform, "thread": q.thread_id}, 30 * 86400
        )
        return answer_id

    def vote(self, v: Vote) -> bool:
        """Pass a vote on to ``feedback`` once; False for unknown answers and repeats."""
        if self.store.get(f"answer:{v.answer_id}") is None:
            return False
        if not self.store.claim(f"vote:{v.platform}:{v.event_id}", 30 * 86400):
            return False
        try:
            self.feedback(v.answer_id, v.vote, v.comment)
        except Exception:
            log.exception("recording feedback for %s failed", v.answer_id)
            return False
        return True


# Vote links (for platforms whose buttons can only open a URL)


def link_signature(secret: str, answer_id: str, vote: int) -> str:
    return hmac.new(secret.encode(), f"{answer_id}:{vote}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]
