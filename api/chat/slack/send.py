"""Slack replies: ``chat.postMessage`` in the event's thread (base URL from settings), or the
slash command's ``response_url`` (checked against the allowlist again before the call)."""

from __future__ import annotations

from typing import Any

from api.chat.core import require_allowed
from api.chat.service import ChatService, DeliveryError, ok_json


def post_message(
    service: ChatService, channel: str, thread_ts: str, message: dict[str, Any]
) -> None:
    token = service.secret("slack_bot_token")
    url = service.settings.slack_api_base.rstrip("/") + "/chat.postMessage"
    payload = {"channel": channel, "thread_ts": thread_ts, "unfurl_links": False, **message}
    r = service.post_json(url, payload, {"Authorization": f"Bearer {token}"})
    ok_json(r, "Slack chat.postMessage", lambda d: d.get("ok") is True)


def respond(service: ChatService, response_url: str, message: dict[str, Any]) -> None:
    require_allowed(response_url, service.settings.slack_allowed_hosts, "response_url")
    payload = {"response_type": "in_channel", "replace_original": False, **message}
    r = service.post_json(response_url, payload)
    if r.status_code >= 300:
        raise DeliveryError(f"Slack response_url: HTTP {r.status_code}")
