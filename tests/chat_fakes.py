"""Small real fakes for the chat tests: a scripted assistant, a loopback platform API server,
and request signers for each platform (the signers use the adapters' own published schemes)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = (
    "Guardrails are required where employees work 6 feet (1.8 m) or more above a lower level "
    "[1]. The top rail must be 42 inches plus or minus 3 inches above the walking surface [2]."
)


def answer_dict(question: str, refused: bool = False) -> dict[str, Any]:
    citations = [
        {
            "n": 1,
            "source": "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf",
            "title": "29 CFR 1926 Subpart M",
            "locator": "1926.501(b)(1)",
            "page": 3,
            "quote": "Each employee on a walking/working surface with an unprotected side or edge "
            "which is 6 feet (1.8 m) or more above a lower level shall be protected.",
        },
        {
            "n": 2,
            "source": "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf",
            "title": "29 CFR 1926 Subpart M",
            "locator": "1926.502(b)(1)",
            "page": 7,
            "quote": "Top edge height of top rails ... shall be 42 inches (1.1 m) plus or minus 3 inches.",
        },
    ]
    return {
        "answer": "" if refused else ANSWER,
        "refused": refused,
        "reason": "evidence too weak (coverage 0.12)" if refused else None,
        "citations": [] if refused else citations,
        "related_accidents": [],
        "language": "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in question) else "en",
        "timings": {"total_ms": 1.0},
    }


CHECKLIST = {
    "title": "Checklist: scaffolds",
    "industry": "construction",
    "topic": "scaffolds",
    "jurisdiction": "US",
    "language": "en",
    "items": [
        {
            "id": "1",
            "question": "Is each scaffold inspected by a competent person before each shift?",
            "category": "Inspection",
            "mandatory": True,
            "basis": [{"source": "x.pdf", "locator": "1926.451(f)(3)", "page": 4, "quote": "..."}],
            "lessons": [],
        },
        {
            "id": "2",
            "question": "Are guardrails installed on all open sides above 10 feet?",
            "category": "Fall protection",
            "mandatory": True,
            "basis": [{"source": "x.pdf", "locator": "1926.451(g)(1)", "page": 5, "quote": "..."}],
            "lessons": [],
        },
    ],
}


@dataclass
class ScriptedAssistant:
    """``ask``/``checklist``/``feedback`` callables that record what they were given."""

    delay_s: float = 0.0
    #: checklists take ``delay_s`` too unless this says otherwise
    checklist_delay_s: float | None = None
    fail: bool = False
    refuse: bool = False
    asks: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    checklists: list[tuple[str, str]] = field(default_factory=list)
    votes: list[tuple[str, int, str]] = field(default_factory=list)

    def ask(self, question: str, history: list[dict[str, Any]]) -> dict[str, Any]:
        self.asks.append((question, list(history)))
        time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("Traceback: secret internals at /srv/anquan/assistant.py line 42")
        return answer_dict(question, self.refuse)

    def checklist(self, topic: str, lang: str) -> dict[str, Any]:
        self.checklists.append((topic, lang))
        time.sleep(self.delay_s if self.checklist_delay_s is None else self.checklist_delay_s)
        return dict(CHECKLIST, topic=topic)

    def feedback(self, answer_id: str, vote: int, comment: str) -> None:
        self.votes.append((answer_id, vote, comment))


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class LoopbackPlatform:
    """A real HTTP server on 127.0.0.1 that plays a platform's API: records every call and
    answers from a route table (longest matching path prefix), else ``DEFAULT``."""

    DEFAULT = {"ok": True, "code": 0, "errcode": 0, "id": "reply-activity-1"}

    def __init__(self, routes: dict[str, Any] | None = None) -> None:
        self.routes: dict[str, Any] = dict(routes or {})
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer._lock:
                    outer.calls.append(
                        Call(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                reply = outer.DEFAULT
                best = -1
                for prefix, value in outer.routes.items():
                    if self.path.startswith(prefix) and len(prefix) > best:
                        reply, best = value, len(prefix)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def calls_to(self, prefix: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path.startswith(prefix)]

    def wait_for(self, prefix: str, n: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(prefix)
            if len(found) >= n:
                return found
            time.sleep(0.02)
        return self.calls_to(prefix)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Signed requests, one builder per platform (the schemes are checked against the published
# vectors in test_chat_verify.py, so building with them is building what the vendor sends)


def webhook_request(
    secret: str, payload: dict[str, Any], msg_id: str, ts: int
) -> tuple[bytes, dict[str, str]]:
    from api.chat.webhook.verify import sign

    body = json.dumps(payload).encode()
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
        "content-type": "application/json",
    }


def slack_headers(
    secret: str, body: bytes, ts: int, content_type: str = "application/json"
) -> dict[str, str]:
    from api.chat.slack.verify import sign

    return {
        "x-slack-request-timestamp": str(ts),
        "x-slack-signature": sign(secret, ts, body),
        "content-type": content_type,
    }


def slack_event(
    event_id: str, text: str, ts: str = "1700000000.000100", thread_ts: str | None = None
) -> bytes:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@UBOT> {text}",
        "ts": ts,
        "channel": "C1",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return json.dumps(
        {"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event}
    ).encode()


def dingtalk_request(
    secret: str, msg_id: str, text: str, webhook: str, ts_ms: int, sign: str | None = None
) -> tuple[bytes, dict[str, str]]:
    from api.chat.dingtalk.verify import sign as dsign

    body = {
        "msgtype": "text",
        "text": {"content": text},
        "msgId": msg_id,
        "conversationType": "2",
        "conversationId": "cid-1",
        "senderId": "u-1",
        "senderStaffId": "staff-1",
        "sessionWebhook": webhook,
        "sessionWebhookExpiredTime": ts_ms + 90 * 60 * 1000,
    }
    headers = {
        "timestamp": str(ts_ms),
        "sign": sign or dsign(secret, ts_ms),
        "content-type": "application/json",
    }
    return json.dumps(body).encode(), headers


def feishu_request(
    key: str, event: dict[str, Any], ts: int, nonce: str = "nonce-1"
) -> tuple[bytes, dict[str, str]]:
    from api.chat.feishu.verify import encrypt, signature

    body = json.dumps({"encrypt": encrypt(key, json.dumps(event).encode())}).encode()
    return body, {
        "x-lark-request-timestamp": str(ts),
        "x-lark-request-nonce": nonce,
        "x-lark-signature": signature(str(ts), nonce, key, body),
        "content-type": "application/json",
    }


def feishu_message(
    token: str, event_id: str, text: str, message_id: str = "om_abc123"
) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "im.message.receive_v1",
            "token": token,
            "app_id": "cli_x",
        },
        "event": {
            "sender": {"sender_type": "user", "sender_id": {"open_id": "ou_1"}},
            "message": {
                "message_id": message_id,
                "chat_id": "oc_1",
                "chat_type": "group",
                "message_type": "text",
                "content": json.dumps({"text": f"@_user_1 {text}"}),
            },
        },
    }


def wecom_request(
    crypto: Any, plain: bytes, ts: int, nonce: str = "nonce1", xml: bool = True
) -> tuple[dict[str, str], bytes]:
    encrypt = crypto.encrypt(plain)
    query = {
        "msg_signature": crypto.signature(str(ts), nonce, encrypt),
        "timestamp": str(ts),
        "nonce": nonce,
    }
    if xml:
        body = f"<xml><ToUserName><![CDATA[corp]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return query, body.encode()
    return query, json.dumps({"encrypt": encrypt}).encode()


def wecom_text(msg_id: str, text: str, user: str = "zhangsan") -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[corp]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId><AgentID>1000002</AgentID></xml>"
    ).encode()


def teams_token(key: Any, app_id: str, service_url: str, now: float, **claims: Any) -> str:
    import jwt

    payload = {
        "iss": "https://api.botframework.com",
        "aud": app_id,
        "exp": int(now) + 3600,
        "nbf": int(now) - 60,
        "serviceurl": service_url,
        **claims,
    }
    return "Bearer " + jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1"})


def teams_jwks(key: Any) -> dict[str, Any]:
    import jwt

    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256", endorsements=["msteams"])
    return {"keys": [jwk]}


def teams_activity(
    activity_id: str, text: str, service_url: str, conversation: str = "19:abc@thread.v2"
) -> bytes:
    return json.dumps(
        {
            "type": "message",
            "id": activity_id,
            "channelId": "msteams",
            "serviceUrl": service_url,
            "from": {"id": "29:user"},
            "conversation": {"id": conversation},
            "recipient": {"id": "28:bot"},
            "text": f"<at>Anquan</at> {text}",
        }
    ).encode()
