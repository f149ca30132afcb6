"""``POST /chat/dingtalk``: verify the headers, make the signature single-use, ack at once."""

from __future__ import annotations

from api.chat.core import Question, ReplayedRequest, Reply, require_allowed
from api.chat.dingtalk import normalise, render, send, verify
from api.chat.service import Ack, ChatService, Inbound


def handle(service: ChatService, inbound: Inbound) -> Ack:
    secret = service.secret("dingtalk_app_secret")
    window = max(service.window_s, verify.WINDOW_S)
    sign = verify.verify(
        inbound.header("timestamp"), inbound.header("sign"), secret, service.clock(), window
    )
    q = normalise.normalise(inbound.body)
    require_allowed(
        q.reply["session_webhook"], service.settings.dingtalk_allowed_hosts, "sessionWebhook"
    )
    # the body is unsigned: one signature, one message (a retry of the same message is fine)
    if (
        not service.claim(f"dingtalk:sign:{sign}", q.event_id)
        and service.store.claimed(f"dingtalk:sign:{sign}") != q.event_id
    ):
        raise ReplayedRequest("this signature was already used for another message")
    service.dispatch(q, lambda q, r: deliver(service, q, r))
    return Ack(200, {})


def deliver(service: ChatService, q: Question, reply: Reply) -> None:
    s = service.settings
    message = render.render(reply, q.reply.get("at_user"), s.chat_public_url, s.chat_link_secret)
    send.send(service, q.reply["session_webhook"], message, q.reply.get("expires_ms"))
