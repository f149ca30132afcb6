"""``POST /chat/webhook``: verify, accept (202), answer to the callback URL."""

from __future__ import annotations

from api.chat.core import Question, Reply
from api.chat.service import Ack, ChatService, Inbound
from api.chat.webhook import normalise, render, send, verify


def handle(service: ChatService, inbound: Inbound) -> Ack:
    secret = service.secret("chat_webhook_secret")
    service.secret("chat_webhook_callback_url")
    msg_id = verify.verify(
        inbound.body,
        inbound.header("webhook-id"),
        inbound.header("webhook-timestamp"),
        inbound.header("webhook-signature"),
        secret,
        service.clock(),
        service.window_s,
    )
    q = normalise.normalise(inbound.body, msg_id)
    fresh = service.dispatch(q, lambda q, r: deliver(service, q, r))
    return Ack(
        202 if fresh else 200, {"accepted": True, "request_id": msg_id, "duplicate": not fresh}
    )


def deliver(service: ChatService, q: Question, reply: Reply) -> None:
    send.send(service, render.render(q, reply, service.clock()))
