"""``POST /chat/feishu``: events and card callbacks. The URL challenge and card callbacks are
answered in the response (Feishu waits 1 s and 3 s); messages are acked and answered by reply."""

from __future__ import annotations

from api.chat.core import Question, Reply, Vote
from api.chat.feishu import normalise, render, send, verify
from api.chat.service import Ack, ChatService, Inbound


def handle(service: ChatService, inbound: Inbound) -> Ack:
    event = verify.open_request(
        inbound.body,
        inbound.header("x-lark-request-timestamp"),
        inbound.header("x-lark-request-nonce"),
        inbound.header("x-lark-signature"),
        service.secret("feishu_encrypt_key"),
        service.secret("feishu_verification_token"),
        service.clock(),
        service.window_s,
    )
    item = normalise.normalise(event)
    if isinstance(item, normalise.Challenge):
        return Ack(200, {"challenge": item.challenge})
    if isinstance(item, Vote):
        recorded = service.vote(item)
        return Ack(
            200,
            {"toast": {"type": "success" if recorded else "info", "content": "感谢反馈 · Thanks"}},
        )
    if isinstance(item, Question):
        service.dispatch(item, lambda q, r: deliver(service, q, r))
    return Ack(200, {})


def deliver(service: ChatService, q: Question, reply: Reply) -> None:
    card = render.render(reply)
    send.reply(service, q.reply["message_id"], card, bool(q.reply.get("in_thread")), q.event_id)
