"""Proactive replies to the activity's ``serviceUrl`` (allowlisted), with a Bot Framework token
from the configured token URL (client credentials)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from api.chat.core import require_allowed
from api.chat.service import ChatService, ok_json

SCOPE = "https://api.botframework.com/.default"


def bot_token(service: ChatService) -> str:
    app_id = service.secret("teams_app_id")
    password = service.secret("teams_app_password")

    def fetch() -> tuple[str, float]:
        r = service.http.post(
            service.settings.teams_token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": app_id,
                "client_secret": password,
                "scope": SCOPE,
            },
        )
        data = ok_json(r, "Bot Framework token", lambda d: "access_token" in d)
        return str(data["access_token"]), float(data.get("expires_in", 3600))

    return service.tokens.get(f"teams:{app_id}", fetch)


def reply(
    service: ChatService,
    service_url: str,
    conversation_id: str,
    activity_id: str,
    activity: dict[str, Any],
) -> str:
    """Post ``activity`` as a reply; the new message's id (feedback reactions point at it)."""
    require_allowed(service_url, service.settings.teams_allowed_service_urls, "serviceUrl")
    url = (
        service_url.rstrip("/")
        + f"/v3/conversations/{quote(conversation_id, safe='')}/activities/{quote(activity_id, safe='')}"
    )
    payload = {**activity, "replyToId": activity_id}
    r = service.post_json(url, payload, {"Authorization": f"Bearer {bot_token(service)}"})
    data = ok_json(r, "Bot Framework reply", lambda d: True)
    return str(data.get("id") or "")
