"""Reply through the message's ``sessionWebhook``, checked against the allowlist again here."""

from __future__ import annotations

from typing import Any

from api.chat.core import require_allowed
from api.chat.service import ChatService, DeliveryError, ok_json


def send(
    service: ChatService, session_webhook: str, message: dict[str, Any], expires_ms: int | None
) -> None:
    require_allowed(session_webhook, service.settings.dingtalk_allowed_hosts, "sessionWebhook")
    if expires_ms is not None and expires_ms / 1000.0 < service.clock():
        raise DeliveryError("the sessionWebhook expired before the answer was ready")
    response = service.post_json(session_webhook, message)
    ok_json(response, "DingTalk sessionWebhook", lambda d: d.get("errcode", 0) == 0)
