"""The running chat layer: settings, store, worker threads and the outbound HTTP client.

Platform handlers get one :class:`ChatService` and a plain :class:`Inbound` request, and give
back an :class:`Ack` (the immediate HTTP answer). Answers go out later, from a worker thread,
through :meth:`ChatService.dispatch`, which is where "deliver once" is enforced: an event id
is claimed before any work starts, so a platform retry only gets its acknowledgement.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.chat.core import (
    ChatCore,
    ChatStore,
    Clock,
    Dispatcher,
    NotConfigured,
    Question,
    Reply,
    Vote,
)
from ingest.settings import Settings

log = logging.getLogger(__name__)

Deliver = Callable[[Question, Reply], None]


@dataclass
class Inbound:
    """One HTTP request as the verifiers see it: raw bytes and lower-cased header names."""

    method: str
    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Ack:
    """The immediate HTTP response to the platform."""

    status: int = 200
    body: Any = None
    media_type: str = "application/json"

    @classmethod
    def text(cls, text: str, status: int = 200) -> Ack:
        return cls(status, text, "text/plain")

    def content(self) -> bytes:
        if self.body is None:
            return b"" if self.media_type != "application/json" else b"{}"
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False).encode()


class TokenCache:
    """Access tokens by name until shortly before they expire (Feishu, WeCom, Teams)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, fetch: Callable[[], tuple[str, float]]) -> str:
        with self._lock:
            hit = self._tokens.get(name)
            if hit and hit[1] > self._clock():
                return hit[0]
            token, ttl = fetch()
            self._tokens[name] = (token, self._clock() + max(0.0, ttl - 120))
            return token


class DeliveryError(Exception):
    """The platform did not take a message (logged; never shown to a user)."""


class ChatService:
    def __init__(
        self,
        core: ChatCore,
        settings: Settings,
        clock: Clock = time.time,
        http: httpx.Client | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.core = core
        self.settings = settings
        self.clock = clock
        self.store: ChatStore = core.store
        # no redirects: a reply URL checked against the allowlist must not bounce elsewhere
        self.http = http or httpx.Client(timeout=15.0, follow_redirects=False)
        self.dispatcher = dispatcher or Dispatcher(settings.chat_workers)
        self.tokens = TokenCache(clock)
        #: caches a platform keeps between requests (Teams JWKS)
        self.caches: dict[str, Any] = {}

    def secret(self, name: str) -> str:
        """A required setting, or a 503 that says which variable to set."""
        value = getattr(self.settings, name, None)
        if value in (None, ""):
            raise NotConfigured(
                f"this chat platform is not configured: set ANQUAN_{name.upper()} "
                "(see docs/chat-platforms.md)"
            )
        return str(value)

    @property
    def window_s(self) -> float:
        return float(self.settings.chat_replay_window_s)

    def claim(self, key: str, value: str = "") -> bool:
        return self.store.claim(key, float(self.settings.chat_dedupe_ttl_s), value)

    def dispatch(self, q: Question, deliver: Deliver) -> bool:
        """Answer ``q`` in the background, once per event id. False for a repeat."""
        if not self.claim(f"event:{q.platform}:{q.event_id}"):
            log.info("%s event %s already taken: acknowledged only", q.platform, q.event_id)
            return False
        self.dispatcher.submit(self._run, q, deliver)
        return True

    def _run(self, q: Question, deliver: Deliver) -> None:
        reply = self.core.respond(q)
        try:
            deliver(q, reply)
        except Exception:
            log.exception("delivering a %s answer failed", q.platform)

    def vote(self, v: Vote) -> bool:
        return self.core.vote(v)

    def post_json(
        self,
        url: str,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """POST once. Only a connection that never opened is tried again: a timeout after the
        request was sent might have delivered it, and a second copy is worse than none."""
        body = content if content is not None else json.dumps(payload, ensure_ascii=False).encode()
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        for attempt in (1, 2):
            try:
                return self.http.post(url, content=body, headers=hdrs)
            except httpx.ConnectError:
                if attempt == 2:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def close(self, grace_s: float = 10.0) -> None:
        """Let answers in flight finish (briefly), then stop."""
        self.dispatcher.wait_idle(grace_s)
        self.dispatcher.shutdown()
        self.http.close()
        self.store.close()


def ok_json(response: httpx.Response, what: str, ok: Callable[[dict[str, Any]], bool]) -> dict:
    """The JSON of a platform API response, or :class:`DeliveryError` saying what went wrong."""
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 300 or not isinstance(data, dict) or not ok(data):
        raise DeliveryError(f"{what}: HTTP {response.status_code} {str(data)[:300]}")
    return data
