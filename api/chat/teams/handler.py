"""``POST /chat/teams``: check the JWT, ack, answer with a proactive reply; feedback-loop
invokes are answered in the response."""

from __future__ import annotations

from api.chat.core import Question, Reply, Vote, require_allowed
from api.chat.service import Ack, ChatService, Inbound
from api.chat.teams import normalise, render, send, verify


def _jwks(service: ChatService) -> verify.Jwks:
    jwks = service.caches.get("teams_jwks")
    if jwks is None:

        def fetch() -> dict:
            r = service.http.get(service.settings.teams_jwks_url)
            r.raise_for_status()
            data = r.json()
            if isinstance(data, dict) and isinstance(data.get("jwks_uri"), str):
                data = service.http.get(data["jwks_uri"]).json()  # an OpenID configuration
            return data

        jwks = service.caches.setdefault("teams_jwks", verify.Jwks(fetch, service.clock))
    return jwks


def handle(service: ChatService, inbound: Inbound) -> Ack:
    app_id = service.secret("teams_app_id")
    activity = normalise.parse_activity(inbound.body)
    verify.verify(
        inbound.header("authorization"),
        activity,
        app_id,
        service.settings.teams_issuers,
        _jwks(service),
        service.clock(),
    )
    item = normalise.normalise(activity)
    if isinstance(item, normalise.FeedbackInvoke):
        answer_id = service.store.get(f"teams:activity:{item.reply_to_id}")
        if isinstance(answer_id, str):
            service.vote(Vote("teams", item.event_id, answer_id, item.vote, item.comment))
        return Ack(200, {})
    if isinstance(item, Question):
        require_allowed(
            item.reply["service_url"], service.settings.teams_allowed_service_urls, "serviceUrl"
        )
        service.dispatch(item, lambda q, r: deliver(service, q, r))
    return Ack(200, {})


def deliver(service: ChatService, q: Question, reply: Reply) -> None:
    r = q.reply
    sent_id = send.reply(
        service, r["service_url"], r["conversation_id"], r["activity_id"], render.render(reply)
    )
    if sent_id and reply.answer_id:
        service.store.put(f"teams:activity:{sent_id}", reply.answer_id, 30 * 86400)
