"""WeCom app replies through ``cgi-bin/message/send`` (base URL from settings). WeCom's own
duplicate check is switched on as a second guard against a double delivery."""

from __future__ import annotations

from typing import Any

from api.chat.service import ChatService, DeliveryError, ok_json


def access_token(service: ChatService) -> str:
    base = service.settings.wecom_api_base.rstrip("/")
    corp = service.secret("wecom_corp_id")
    secret = service.secret("wecom_secret")

    def fetch() -> tuple[str, float]:
        r = service.http.get(
            f"{base}/cgi-bin/gettoken", params={"corpid": corp, "corpsecret": secret}
        )
        data = ok_json(
            r, "WeCom gettoken", lambda d: d.get("errcode", 0) == 0 and "access_token" in d
        )
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    return service.tokens.get(f"wecom:{corp}", fetch)


def send(service: ChatService, touser: str, msgtype: str, content: dict[str, Any]) -> None:
    agent = service.settings.wecom_agent_id
    if agent is None:
        raise DeliveryError("set ANQUAN_WECOM_AGENT_ID to send WeCom app messages")
    base = service.settings.wecom_api_base.rstrip("/")
    url = f"{base}/cgi-bin/message/send?access_token={access_token(service)}"
    payload = {
        "touser": touser,
        "msgtype": msgtype,
        "agentid": agent,
        msgtype: content,
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }
    ok_json(
        service.post_json(url, payload), "WeCom message/send", lambda d: d.get("errcode", 0) == 0
    )
