"""Reply to the user's message (``/open-apis/im/v1/messages/{id}/reply``), base URL from
settings (Lark: ``https://open.larksuite.com``). The ``uuid`` makes Feishu drop a second copy."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from api.chat.service import ChatService, ok_json


def tenant_token(service: ChatService) -> str:
    base = service.settings.feishu_api_base.rstrip("/")
    app_id = service.secret("feishu_app_id")
    secret = service.secret("feishu_app_secret")

    def fetch() -> tuple[str, float]:
        r = service.post_json(
            f"{base}/open-apis/auth/v3/tenant_access_token/internal",
            {"app_id": app_id, "app_secret": secret},
        )
        data = ok_json(r, "Feishu tenant_access_token", lambda d: d.get("code") == 0)
        return str(data["tenant_access_token"]), float(data.get("expire", 7200))

    return service.tokens.get(f"feishu:{app_id}", fetch)


def reply(
    service: ChatService, message_id: str, card: dict[str, Any], in_thread: bool, key: str
) -> None:
    base = service.settings.feishu_api_base.rstrip("/")
    payload = {
        "msg_type": "interactive",
        "content": json.dumps(card, ensure_ascii=False),
        "reply_in_thread": in_thread,
        "uuid": "anquan-" + hashlib.sha256(key.encode()).hexdigest()[:32],
    }
    r = service.post_json(
        f"{base}/open-apis/im/v1/messages/{message_id}/reply",
        payload,
        {"Authorization": f"Bearer {tenant_token(service)}"},
    )
    ok_json(r, "Feishu reply", lambda d: d.get("code") == 0)
