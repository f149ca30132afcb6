"""``GET|POST /chat/wecom`` (app callback) and ``GET|POST /chat/wecom-bot`` (AI bot).

The app callback is acknowledged with an empty body and answered through ``message/send``. The
AI bot is answered in the callback itself: the first reply opens a ``stream`` ("looking it
up…"), and WeCom then polls with stream-refresh callbacks until a reply says ``finish``.
"""

from __future__ import annotations

import functools
import json
import secrets

from api.chat.core import BadRequest, Question, Reply, Vote
from api.chat.service import Ack, ChatService, Inbound
from api.chat.text import sorry, thinking
from api.chat.wecom import normalise, render, send
from api.chat.wecom.verify import WeComCrypto

#: how long a stream's state is kept (WeCom stops polling after 6 minutes)
STREAM_TTL_S = 900.0


def _crypto(service: ChatService, bot: bool) -> WeComCrypto:
    if bot:
        return WeComCrypto(
            service.secret("wecom_bot_token"), service.secret("wecom_bot_aes_key"), ""
        )
    return WeComCrypto(
        service.secret("wecom_token"),
        service.secret("wecom_aes_key"),
        service.secret("wecom_corp_id"),
    )


def _open(service: ChatService, crypto: WeComCrypto, inbound: Inbound, encrypt: str) -> bytes:
    q = inbound.query
    return crypto.open(
        q.get("msg_signature"),
        q.get("timestamp"),
        q.get("nonce"),
        encrypt,
        service.clock(),
        service.window_s,
    )


def _url_check(service: ChatService, crypto: WeComCrypto, inbound: Inbound) -> Ack:
    echostr = inbound.query.get("echostr")
    if not echostr:
        raise BadRequest("URL check without echostr")
    return Ack.text(_open(service, crypto, inbound, echostr).decode("utf-8", errors="replace"))


def handle_app(service: ChatService, inbound: Inbound) -> Ack:
    crypto = _crypto(service, bot=False)
    if inbound.method == "GET":
        return _url_check(service, crypto, inbound)
    plain = _open(service, crypto, inbound, normalise.envelope_xml(inbound.body))
    item = normalise.normalise_app(plain)
    if isinstance(item, Vote):
        service.vote(item)
    elif isinstance(item, Question):
        service.dispatch(item, lambda q, r: deliver_app(service, q, r))
    return Ack.text("")


def deliver_app(service: ChatService, q: Question, reply: Reply) -> None:
    touser = q.reply["touser"]
    send.send(service, touser, "markdown", {"content": render.markdown(reply)})
    card = render.feedback_card(reply)
    if card:
        send.send(service, touser, "template_card", card)


def handle_bot(service: ChatService, inbound: Inbound) -> Ack:
    crypto = _crypto(service, bot=True)
    if inbound.method == "GET":
        return _url_check(service, crypto, inbound)
    plain = _open(service, crypto, inbound, normalise.envelope_json(inbound.body))
    item = normalise.normalise_bot(plain)
    if item is None:
        return Ack.text("")
    if isinstance(item, normalise.StreamRefresh):
        sid = item.stream_id
        state = service.store.get(f"wecom-bot:stream:{sid}")
        if state is None:
            state = {"content": sorry("zh"), "finish": True}
    else:
        key = f"wecom-bot:stream-of:{item.event_id}"
        sid = "s" + secrets.token_hex(8)
        if service.claim(key, sid):
            state = {"content": thinking(item.language), "finish": False}
            service.store.put(f"wecom-bot:stream:{sid}", state, STREAM_TTL_S)
            service.dispatch(item, functools.partial(_deliver_bot, service, sid))
        else:  # a retry of a message being answered: the same stream again
            sid = service.store.claimed(key) or sid
            state = service.store.get(f"wecom-bot:stream:{sid}") or {"content": "", "finish": True}
    payload = render.stream(sid, state["content"], bool(state["finish"]))
    sealed = crypto.seal(
        json.dumps(payload, ensure_ascii=False).encode(),
        str(int(service.clock())),
        secrets.token_hex(5),
    )
    return Ack(200, sealed)


def _deliver_bot(service: ChatService, stream_id: str, _: Question, reply: Reply) -> None:
    state = {"content": render.stream_text(reply), "finish": True}
    service.store.put(f"wecom-bot:stream:{stream_id}", state, STREAM_TTL_S)
