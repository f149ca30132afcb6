"""``POST /chat/slack``: one Request URL for events, the slash command and button clicks."""

from __future__ import annotations

from api.chat.core import Question, Reply, Vote, require_allowed
from api.chat.service import Ack, ChatService, Inbound
from api.chat.slack import normalise, render, send, verify
from api.chat.text import thinking


def handle(service: ChatService, inbound: Inbound) -> Ack:
    verify.verify(
        inbound.body,
        inbound.header("x-slack-request-timestamp"),
        inbound.header("x-slack-signature"),
        service.secret("slack_signing_secret"),
        service.clock(),
        service.window_s,
    )
    item = normalise.normalise(inbound.body, inbound.header("content-type"))
    if isinstance(item, normalise.Challenge):
        return Ack(200, {"challenge": item.challenge})
    if isinstance(item, Vote):
        service.vote(item)
        return Ack(200, None, "text/plain")
    if isinstance(item, Question):
        if "response_url" in item.reply:
            require_allowed(
                item.reply["response_url"], service.settings.slack_allowed_hosts, "response_url"
            )
            service.dispatch(item, lambda q, r: deliver(service, q, r))
            return Ack(200, {"response_type": "ephemeral", "text": thinking(item.language)})
        service.secret("slack_bot_token")
        service.dispatch(item, lambda q, r: deliver(service, q, r))
    return Ack(200, None, "text/plain")


def deliver(service: ChatService, q: Question, reply: Reply) -> None:
    message = render.render(reply)
    if "response_url" in q.reply:
        send.respond(service, q.reply["response_url"], message)
    else:
        send.post_message(service, q.reply["channel"], q.reply["thread_ts"], message)
