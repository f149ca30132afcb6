"""End to end per platform, over real HTTP on 127.0.0.1: uvicorn serves the chat router, a
loopback server plays the platform's API, and the assistant is scripted to take 2 s.

Each test asserts that the platform's request is acknowledged well before its deadline (and
before the answer could exist), that the answer is delivered exactly once although the
platform retries the event, and that a reply URL off the allowlist is never called."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from api.chat.routes import make_chat_router
from api.chat.service import ChatService
from api.chat.webhook import verify as webhook_verify
from api.chat.wecom.verify import WeComCrypto
from ingest.settings import Settings
from tests.chat_fakes import (
    LoopbackPlatform,
    ScriptedAssistant,
    dingtalk_request,
    feishu_message,
    feishu_request,
    free_port,
    slack_event,
    slack_headers,
    teams_activity,
    teams_jwks,
    teams_token,
    webhook_request,
    wecom_request,
    wecom_text,
)

pytestmark = pytest.mark.slow

#: how long the scripted assistant takes to answer
DELAY_S = 2.0
#: "acknowledge within about a second"; every platform's own deadline is longer (Slack and
#: Feishu 3 s, WeCom 5 s, Teams 10-15 s; DingTalk documents none)
ACK_S = 1.0

WH_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLACK_SECRET = "e2e-slack-secret"
DT_SECRET = "e2e-dingtalk-secret"
FS_KEY, FS_TOKEN = "e2e-encrypt-key", "e2e-verification-token"
WECOM = dict(
    token="QDG6eK", aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", receive_id="ww-e2e-corp"
)
BOT_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "e2e-teams-app"


@dataclass
class World:
    url: str
    api: LoopbackPlatform
    evil: LoopbackPlatform
    fake: ScriptedAssistant
    service: ChatService
    key: rsa.RSAPrivateKey
    http: httpx.Client

    def post(self, path: str, **kw) -> tuple[httpx.Response, float]:
        start = time.perf_counter()
        r = self.http.post(self.url + path, **kw)
        return r, time.perf_counter() - start

    def asks_of(self, text: str) -> list:
        return [a for a in self.fake.asks if a[0] == text]

    def settle(self) -> None:
        """Every answer in flight is delivered, and a late duplicate would have arrived."""
        assert self.service.dispatcher.wait_idle(15)
        time.sleep(0.3)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    api = LoopbackPlatform(
        {
            "/teams/jwks": teams_jwks(key),
            "/teams/token": {"access_token": "bf-token", "expires_in": 3600},
            "/open-apis/auth/v3/tenant_access_token/internal": {
                "code": 0,
                "tenant_access_token": "t-1",
                "expire": 7200,
            },
            "/cgi-bin/gettoken": {"errcode": 0, "access_token": "w-1", "expires_in": 7200},
        }
    )
    evil = LoopbackPlatform()
    fake = ScriptedAssistant(delay_s=DELAY_S, checklist_delay_s=0.2)
    tmp: Path = tmp_path_factory.mktemp("chat-e2e")
    settings = Settings(
        data_dir=tmp,
        chat_db=str(tmp / "chat.sqlite"),
        chat_webhook_secret=WH_SECRET,
        chat_webhook_callback_url=api.url + "/hook",
        dingtalk_app_secret=DT_SECRET,
        dingtalk_allowed_hosts=[api.url],
        wecom_corp_id=WECOM["receive_id"],
        wecom_token=WECOM["token"],
        wecom_aes_key=WECOM["aes_key"],
        wecom_agent_id=1000002,
        wecom_secret="wecom-secret",
        wecom_bot_token="bot-token",
        wecom_bot_aes_key=BOT_KEY,
        wecom_api_base=api.url,
        feishu_app_id="cli_e2e",
        feishu_app_secret="fs-secret",
        feishu_encrypt_key=FS_KEY,
        feishu_verification_token=FS_TOKEN,
        feishu_api_base=api.url,
        slack_signing_secret=SLACK_SECRET,
        slack_bot_token="xoxb-e2e",
        slack_api_base=api.url + "/api",
        slack_allowed_hosts=[api.url],
        teams_app_id=APP_ID,
        teams_app_password="pw",
        teams_jwks_url=api.url + "/teams/jwks",
        teams_token_url=api.url + "/teams/token",
        teams_allowed_service_urls=[api.url],
    )
    router = make_chat_router(fake.ask, fake.checklist, fake.feedback, settings)
    app = FastAPI()
    app.include_router(router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    with httpx.Client(timeout=10) as http:
        yield World(f"http://127.0.0.1:{port}", api, evil, fake, router.chat_service, key, http)
    server.should_exit = True
    thread.join(10)
    api.close()
    evil.close()


def acked(r: httpx.Response, elapsed: float, status: int = 200) -> None:
    assert r.status_code == status, r.text
    assert elapsed < ACK_S, f"ack took {elapsed:.2f} s"


def test_webhook(world):
    now = int(time.time())
    body, headers = webhook_request(
        WH_SECRET, {"question": "Q-webhook", "thread_id": "ticket-7"}, "msg_e2e_1", now
    )
    r, elapsed = world.post("/chat/webhook", content=body, headers=headers)
    acked(r, elapsed, 202)
    retry, elapsed = world.post("/chat/webhook", content=body, headers=headers)
    acked(retry, elapsed, 200)
    assert retry.json()["duplicate"] is True
    calls = world.api.wait_for("/hook")
    world.settle()
    assert len(world.api.calls_to("/hook")) == 1 and len(world.asks_of("Q-webhook")) == 1
    call = calls[0]
    # our callback is signed the Standard Webhooks way, so any of its libraries can check it
    webhook_verify.verify(
        call.body,
        call.headers["webhook-id"],
        call.headers["webhook-timestamp"],
        call.headers["webhook-signature"],
        WH_SECRET,
        time.time(),
    )
    data = call.json()["data"]
    assert data["thread_id"] == "ticket-7" and data["answer_id"].startswith("ans_")
    assert "1926.501(b)(1)" in data["markdown"] and data["answer"]["citations"][0]["n"] == 1


def test_dingtalk(world):
    ts = int(time.time() * 1000)
    webhook = world.api.url + "/robot/sendBySession?session=s1"
    body, headers = dingtalk_request(DT_SECRET, "dt-msg-1", "Q-dingtalk", webhook, ts)
    r, elapsed = world.post("/chat/dingtalk", content=body, headers=headers)
    acked(r, elapsed)
    retry, elapsed = world.post("/chat/dingtalk", content=body, headers=headers)
    acked(retry, elapsed)
    # a sessionWebhook off the allowlist: refused, never called
    evil_body, evil_headers = dingtalk_request(
        DT_SECRET, "dt-msg-2", "Q-dingtalk-evil", world.evil.url + "/robot", ts + 1
    )
    bad, _ = world.post("/chat/dingtalk", content=evil_body, headers=evil_headers)
    assert bad.status_code == 403
    calls = world.api.wait_for("/robot/sendBySession")
    world.settle()
    assert (
        len(world.api.calls_to("/robot/sendBySession")) == 1
        and len(world.asks_of("Q-dingtalk")) == 1
    )
    msg = calls[0].json()
    assert msg["msgtype"] == "markdown" and "1926.501(b)(1)" in msg["markdown"]["text"]
    assert msg["at"]["atUserIds"] == ["staff-1"]
    assert world.evil.calls == [] and world.asks_of("Q-dingtalk-evil") == []


def test_wecom_app(world):
    crypto = WeComCrypto(**WECOM)
    query, body = wecom_request(crypto, wecom_text("wc-msg-1", "Q-wecom"), int(time.time()))
    r, elapsed = world.post("/chat/wecom", params=query, content=body)
    acked(r, elapsed)
    assert r.text == ""
    query2, body2 = wecom_request(
        crypto, wecom_text("wc-msg-1", "Q-wecom"), int(time.time()), nonce="retry"
    )
    retry, elapsed = world.post("/chat/wecom", params=query2, content=body2)
    acked(retry, elapsed)
    world.api.wait_for("/cgi-bin/message/send", 2)
    world.settle()
    sends = [c.json() for c in world.api.calls_to("/cgi-bin/message/send")]
    markdown = [s for s in sends if s["msgtype"] == "markdown"]
    assert len(markdown) == 1 and len(world.asks_of("Q-wecom")) == 1
    assert (
        markdown[0]["touser"] == "zhangsan"
        and "1926.501(b)(1)" in markdown[0]["markdown"]["content"]
    )
    card = [s for s in sends if s["msgtype"] == "template_card"][0]["template_card"]
    assert card["button_list"][0]["key"].startswith("vote:up:ans_")
    assert len(world.api.calls_to("/cgi-bin/gettoken")) == 1
    # the 👍 button comes back as a template_card_event and lands in feedback
    event = (
        "<xml><ToUserName>c</ToUserName><FromUserName>zhangsan</FromUserName><CreateTime>1</CreateTime>"
        f"<MsgType>event</MsgType><Event>template_card_event</Event><EventKey>{card['button_list'][0]['key']}</EventKey>"
        f"<TaskId>{card['task_id']}</TaskId></xml>"
    ).encode()
    query3, body3 = wecom_request(crypto, event, int(time.time()))
    world.post("/chat/wecom", params=query3, content=body3)
    assert (card["task_id"], 1, "") in world.fake.votes


def test_wecom_ai_bot_streams(world):
    crypto = WeComCrypto("bot-token", BOT_KEY, "")

    def call(msg: dict, nonce: str) -> tuple[dict, float]:
        query, body = wecom_request(
            crypto, json.dumps(msg).encode(), int(time.time()), nonce=nonce, xml=False
        )
        r, elapsed = world.post("/chat/wecom-bot", params=query, content=body)
        assert r.status_code == 200, r.text
        sealed = r.json()
        # the passive reply is itself signed and encrypted for WeCom to check
        plain = crypto.open(
            sealed["msgsignature"],
            sealed["timestamp"],
            sealed["nonce"],
            sealed["encrypt"],
            time.time(),
            300,
        )
        return json.loads(plain), elapsed

    msg = {
        "msgid": "bot-msg-1",
        "aibotid": "b1",
        "chattype": "single",
        "from": {"userid": "lisi"},
        "msgtype": "text",
        "text": {"content": "Q-wecom-bot"},
    }
    first, elapsed = call(msg, "n1")
    assert elapsed < 1.0  # the AI bot's URL check allows 1 s; message replies get the same
    assert first["msgtype"] == "stream" and first["stream"]["finish"] is False
    sid = first["stream"]["id"]
    retry, _ = call(msg, "n2")
    assert retry["stream"]["id"] == sid  # WeCom retried: the same stream, not a second answer
    deadline = time.monotonic() + 10
    while True:
        refresh, _ = call({"msgid": "r", "msgtype": "stream", "stream": {"id": sid}}, "n3")
        if refresh["stream"]["finish"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert refresh["stream"]["finish"] is True and "1926.501(b)(1)" in refresh["stream"]["content"]
    world.settle()
    assert len(world.asks_of("Q-wecom-bot")) == 1


def test_feishu(world):
    event = feishu_message(FS_TOKEN, "fs-ev-1", "Q-feishu", message_id="om_e2e1")
    body, headers = feishu_request(FS_KEY, event, int(time.time()))
    r, elapsed = world.post("/chat/feishu", content=body, headers=headers)
    acked(r, elapsed)
    body2, headers2 = feishu_request(FS_KEY, event, int(time.time()), nonce="retry-nonce")
    retry, elapsed = world.post("/chat/feishu", content=body2, headers=headers2)
    acked(retry, elapsed)
    calls = world.api.wait_for("/open-apis/im/v1/messages/om_e2e1/reply")
    world.settle()
    assert len(world.api.calls_to("/open-apis/im/v1/messages/om_e2e1/reply")) == 1
    assert len(world.asks_of("Q-feishu")) == 1
    sent = calls[0].json()
    assert calls[0].headers["authorization"] == "Bearer t-1"
    assert (
        sent["msg_type"] == "interactive"
        and sent["reply_in_thread"] is True
        and sent["uuid"].startswith("anquan-")
    )
    card = json.loads(sent["content"])
    assert [e["tag"] for e in card["body"]["elements"]][:2] == ["markdown", "collapsible_panel"]


def test_feishu_checklist_request(world):
    event = feishu_message(FS_TOKEN, "fs-ev-2", "checklist: scaffolds", message_id="om_e2e2")
    body, headers = feishu_request(FS_KEY, event, int(time.time()))
    acked(*world.post("/chat/feishu", content=body, headers=headers))
    calls = world.api.wait_for("/open-apis/im/v1/messages/om_e2e2/reply")
    card = json.loads(calls[0].json()["content"])
    assert [e["tag"] for e in card["body"]["elements"]].count("checker") == 2
    assert ("scaffolds", "en") in world.fake.checklists


def test_slack(world):
    now = int(time.time())
    body = slack_event("EvE2E1", "Q-slack", ts="1700000001.000100")
    r, elapsed = world.post(
        "/chat/slack", content=body, headers=slack_headers(SLACK_SECRET, body, now)
    )
    acked(r, elapsed)
    retry_headers = {
        **slack_headers(SLACK_SECRET, body, now + 1),
        "x-slack-retry-num": "1",
        "x-slack-retry-reason": "http_timeout",
    }
    retry, elapsed = world.post("/chat/slack", content=body, headers=retry_headers)
    acked(retry, elapsed)
    # the slash command: an ephemeral ack now, the answer to response_url later
    form = (
        "command=%2Fanquan&text=Q-slack-slash&trigger_id=tr-e2e&channel_id=C1&user_id=U1&team_id=T1"
        f"&response_url={quote(world.api.url + '/commands/T1/1/abc', safe='')}"
    ).encode()
    slash, elapsed = world.post(
        "/chat/slack",
        content=form,
        headers=slack_headers(SLACK_SECRET, form, now, "application/x-www-form-urlencoded"),
    )
    acked(slash, elapsed)
    assert slash.json()["response_type"] == "ephemeral"
    evil_form = form.replace(
        quote(world.api.url, safe="").encode(), quote(world.evil.url, safe="").encode()
    ).replace(b"tr-e2e", b"tr-evil")
    bad, _ = world.post(
        "/chat/slack",
        content=evil_form,
        headers=slack_headers(SLACK_SECRET, evil_form, now, "application/x-www-form-urlencoded"),
    )
    assert bad.status_code == 403
    world.api.wait_for("/api/chat.postMessage")
    world.api.wait_for("/commands/T1/1/abc")
    world.settle()
    posts = [c.json() for c in world.api.calls_to("/api/chat.postMessage")]
    assert (
        len(posts) == 1
        and posts[0]["thread_ts"] == "1700000001.000100"
        and posts[0]["channel"] == "C1"
    )
    assert [b["type"] for b in posts[0]["blocks"]] == ["markdown", "context", "actions"]
    assert len(world.api.calls_to("/commands/T1/1/abc")) == 1
    assert world.api.calls_to("/commands/T1/1/abc")[0].json()["response_type"] == "in_channel"
    assert world.evil.calls == []
    # a follow-up in the same thread is asked with the thread's history
    follow = slack_event(
        "EvE2E2", "and for scaffolds?", ts="1700000002.000100", thread_ts="1700000001.000100"
    )
    acked(
        *world.post(
            "/chat/slack",
            content=follow,
            headers=slack_headers(SLACK_SECRET, follow, int(time.time())),
        )
    )
    world.api.wait_for("/api/chat.postMessage", 2)
    world.settle()
    question, history = world.asks_of("and for scaffolds?")[0]
    assert (
        history[0] == {"role": "user", "content": "Q-slack"} and history[1]["role"] == "assistant"
    )
    assert len(world.asks_of("Q-slack")) == 1 and len(world.asks_of("Q-slack-slash")) == 1


def test_teams(world):
    now = time.time()
    service_url = world.api.url + "/teams/"
    body = teams_activity("act-e2e-1", "Q-teams", service_url)
    auth = {"authorization": teams_token(world.key, APP_ID, service_url, now)}
    r, elapsed = world.post("/chat/teams", content=body, headers=auth)
    acked(r, elapsed)
    retry, elapsed = world.post("/chat/teams", content=body, headers=auth)
    acked(retry, elapsed)
    evil_body = teams_activity("act-e2e-2", "Q-teams-evil", world.evil.url + "/")
    evil_auth = {"authorization": teams_token(world.key, APP_ID, world.evil.url + "/", now)}
    bad, _ = world.post("/chat/teams", content=evil_body, headers=evil_auth)
    assert bad.status_code == 403
    path = "/teams/v3/conversations/" + quote("19:abc@thread.v2", safe="") + "/activities/act-e2e-1"
    calls = world.api.wait_for(path)
    world.settle()
    assert len(world.api.calls_to(path)) == 1 and len(world.asks_of("Q-teams")) == 1
    assert calls[0].headers["authorization"] == "Bearer bf-token"
    sent = calls[0].json()
    assert sent["replyToId"] == "act-e2e-1" and sent["channelData"] == {"feedbackLoopEnabled": True}
    assert [c["position"] for c in sent["entities"][0]["citation"]] == [1, 2]
    assert world.evil.calls == [] and world.asks_of("Q-teams-evil") == []
    # the feedback loop: a 👎 with a comment on the reply we posted (its id came back from the API)
    invoke = {
        "type": "invoke",
        "name": "message/submitAction",
        "id": "inv-1",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "replyToId": "reply-activity-1",
        "value": {
            "actionName": "feedback",
            "actionValue": {
                "reaction": "dislike",
                "feedback": json.dumps({"feedbackText": "wrong clause"}),
            },
        },
    }
    r, _ = world.post("/chat/teams", content=json.dumps(invoke).encode(), headers=auth)
    assert r.status_code == 200
    assert world.fake.votes[-1][1:] == (-1, "wrong clause")
