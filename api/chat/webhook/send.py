"""Post the answer event to ``ANQUAN_CHAT_WEBHOOK_CALLBACK_URL``, signed like the request."""

from __future__ import annotations

import json
import secrets
from typing import Any

from api.chat.service import ChatService, DeliveryError
from api.chat.webhook.verify import sign


def send(service: ChatService, payload: dict[str, Any]) -> None:
    url = service.secret("chat_webhook_callback_url")
    secret = service.secret("chat_webhook_secret")
    body = json.dumps(payload, ensure_ascii=False).encode()
    msg_id = "msg_" + secrets.token_hex(12)
    ts = str(int(service.clock()))
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": sign(secret, msg_id, ts, body),
    }
    response = service.post_json(url, None, headers, content=body)
    if response.status_code >= 300:
        raise DeliveryError(f"webhook callback: HTTP {response.status_code}")
