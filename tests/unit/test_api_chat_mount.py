"""The chat platforms are served by the same app as the API: a signed webhook gets an answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from fastapi.testclient import TestClient

from api.app import create_app
from tests.unit.test_kb import CFR, CFR_ITEMS, register


def test_generic_webhook_reaches_the_assistant(kb):
    register(kb, CFR, CFR_ITEMS)
    kb.sync_vectors()
    secret = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    kb.settings.chat_webhook_secret = "whsec_" + secret
    kb.settings.chat_webhook_callback_url = "http://127.0.0.1:9/anquan-answers"
    with TestClient(create_app(kb=kb, settings=kb.settings)) as client:
        unsigned = client.post("/chat/webhook", content=b"{}")
        assert unsigned.status_code == 401
        assert unsigned.json()["error"]["code"]
        body = json.dumps({"text": "guardrail top rail height", "conversation_id": "c1"}).encode()
        msg_id, ts = "msg_1", str(int(time.time()))
        sig = base64.b64encode(
            hmac.new(
                base64.b64decode(secret), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256
            ).digest()
        ).decode()
        ok = client.post(
            "/chat/webhook",
            content=body,
            headers={
                "webhook-id": msg_id,
                "webhook-timestamp": ts,
                "webhook-signature": f"v1,{sig}",
            },
        )
        assert ok.status_code in (200, 202), ok.text
