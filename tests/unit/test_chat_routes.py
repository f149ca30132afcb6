"""The /chat endpoints answer forged, stale, replayed, wrong-key, oversized and unconfigured
requests with the right status, in the API's error shape, and never call a reply URL off the
allowlist. The assistant is a fast scripted fake; the platform API a loopback server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.chat.routes import make_chat_router
from api.chat.wecom.verify import WeComCrypto
from ingest.settings import Settings
from tests.chat_fakes import (
    LoopbackPlatform,
    ScriptedAssistant,
    dingtalk_request,
    feishu_message,
    feishu_request,
    slack_event,
    slack_headers,
    teams_activity,
    teams_jwks,
    teams_token,
    webhook_request,
    wecom_request,
    wecom_text,
)

WH_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLACK_SECRET = "slack-signing-secret"
DT_SECRET = "dingtalk-secret"
FS_KEY, FS_TOKEN = "feishu-encrypt-key", "feishu-verify-token"
WECOM = dict(
    token="QDG6eK",
    aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    receive_id="wx5823bf96d3bd56c7",
)
APP_ID = "app-id-1"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def platform(rsa_key):
    api = LoopbackPlatform(
        {
            "/teams/jwks": teams_jwks(rsa_key),
            "/teams/token": {"access_token": "bf-token", "expires_in": 3600},
            "/open-apis/auth/v3/tenant_access_token/internal": {
                "code": 0,
                "tenant_access_token": "t",
                "expire": 7200,
            },
            "/cgi-bin/gettoken": {"errcode": 0, "access_token": "w", "expires_in": 7200},
        }
    )
    evil = LoopbackPlatform()
    yield api, evil
    api.close()
    evil.close()


def make_settings(tmp: Path, api: LoopbackPlatform, **over) -> Settings:
    values = dict(
        data_dir=tmp,
        chat_db=":memory:",
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
        wecom_bot_aes_key=WECOM["aes_key"],
        wecom_api_base=api.url,
        feishu_app_id="cli_x",
        feishu_app_secret="fs-secret",
        feishu_encrypt_key=FS_KEY,
        feishu_verification_token=FS_TOKEN,
        feishu_api_base=api.url,
        slack_signing_secret=SLACK_SECRET,
        slack_bot_token="xoxb-1",
        slack_api_base=api.url + "/api",
        slack_allowed_hosts=[api.url],
        teams_app_id=APP_ID,
        teams_app_password="pw",
        teams_jwks_url=api.url + "/teams/jwks",
        teams_token_url=api.url + "/teams/token",
        teams_allowed_service_urls=[api.url],
    )
    values.update(over)
    return Settings(**values)


@pytest.fixture
def chat(tmp_path, platform):
    api, evil = platform
    fake = ScriptedAssistant()
    router = make_chat_router(fake.ask, fake.checklist, fake.feedback, make_settings(tmp_path, api))
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        yield client, fake, router.chat_service, api, evil


def _error(response, status, code=None):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    return body["error"]


# Standard Webhooks


def test_webhook_accepts_then_dedupes(chat):
    client, fake, service, api, _ = chat
    body, headers = webhook_request(
        WH_SECRET, {"question": "When is fall protection required?"}, "msg_1", int(time.time())
    )
    first = client.post("/chat/webhook", content=body, headers=headers)
    again = client.post("/chat/webhook", content=body, headers=headers)
    assert first.status_code == 202 and first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert service.dispatcher.wait_idle(5)
    assert len(fake.asks) == 1


def test_webhook_refusals(chat):
    client, fake, *_ = chat
    now = int(time.time())
    body, headers = webhook_request(WH_SECRET, {"question": "q"}, "msg_2", now)
    _error(client.post("/chat/webhook", content=body + b" ", headers=headers), 401, "bad_signature")
    stale_body, stale = webhook_request(WH_SECRET, {"question": "q"}, "msg_3", now - 600)
    _error(client.post("/chat/webhook", content=stale_body, headers=stale), 401, "stale_request")
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    wk_body, wrong_key = webhook_request(other, {"question": "q"}, "msg_4", now)
    _error(client.post("/chat/webhook", content=wk_body, headers=wrong_key), 401, "bad_signature")
    bad_body, bad = webhook_request(WH_SECRET, {"nothing": 1}, "msg_5", now)
    _error(client.post("/chat/webhook", content=bad_body, headers=bad), 400, "bad_request")
    assert fake.asks == []


def test_unconfigured_platform_says_which_setting(tmp_path, platform):
    api, _ = platform
    fake = ScriptedAssistant()
    app = FastAPI()
    app.include_router(
        make_chat_router(
            fake.ask,
            fake.checklist,
            fake.feedback,
            make_settings(tmp_path, api, slack_signing_secret=None),
        )
    )
    with TestClient(app) as client:
        err = _error(client.post("/chat/slack", content=b"{}"), 503, "not_configured")
    assert "ANQUAN_SLACK_SIGNING_SECRET" in err["message"]


def test_oversized_body_is_refused(chat):
    client, *_ = chat
    _error(client.post("/chat/slack", content=b"x" * (1024 * 1024 + 1)), 413, "payload_too_large")


# Slack


def test_slack_url_verification_and_refusals(chat):
    client, fake, *_ = chat
    now = int(time.time())
    body = json.dumps({"type": "url_verification", "challenge": "ch-123", "token": "x"}).encode()
    ok = client.post("/chat/slack", content=body, headers=slack_headers(SLACK_SECRET, body, now))
    assert ok.status_code == 200 and ok.json() == {"challenge": "ch-123"}
    _error(client.post("/chat/slack", content=body, headers=slack_headers("wrong", body, now)), 401)
    _error(
        client.post(
            "/chat/slack", content=body, headers=slack_headers(SLACK_SECRET, body, now - 301)
        ),
        401,
        "stale_request",
    )
    _error(client.post("/chat/slack", content=body), 401)
    forged = slack_headers(SLACK_SECRET, body, now)
    _error(
        client.post("/chat/slack", content=body.replace(b"ch-123", b"ch-999"), headers=forged), 401
    )


def test_slack_response_url_off_the_allowlist_is_never_called(chat):
    client, fake, service, api, evil = chat
    form = f"command=%2Fanquan&text=guardrails&trigger_id=tr1&channel_id=C1&user_id=U1&team_id=T1&response_url={evil.url}/commands/x".encode()
    r = client.post(
        "/chat/slack",
        content=form,
        headers=slack_headers(
            SLACK_SECRET, form, int(time.time()), "application/x-www-form-urlencoded"
        ),
    )
    _error(r, 403, "reply_url_not_allowed")
    assert service.dispatcher.wait_idle(5)
    assert evil.calls == [] and fake.asks == []


def test_slack_button_vote_lands_in_feedback(chat):
    client, fake, service, api, _ = chat
    now = int(time.time())
    body = slack_event("EvVote", "When is fall protection required?")
    client.post("/chat/slack", content=body, headers=slack_headers(SLACK_SECRET, body, now))
    assert service.dispatcher.wait_idle(5)
    posted = [c for c in api.calls_to("/api/chat.postMessage") if b"EvVote" not in c.body][
        -1
    ].json()
    answer_id = posted["blocks"][-1]["elements"][0]["value"]
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "actions": [{"action_id": "anquan_vote_down", "value": answer_id, "action_ts": "1.2"}],
    }
    form = ("payload=" + json.dumps(payload)).encode()
    hdrs = slack_headers(SLACK_SECRET, form, now, "application/x-www-form-urlencoded")
    assert client.post("/chat/slack", content=form, headers=hdrs).status_code == 200
    assert client.post("/chat/slack", content=form, headers=hdrs).status_code == 200  # a retry
    assert fake.votes == [(answer_id, -1, "")]


# DingTalk


def test_dingtalk_signature_is_single_use(chat):
    client, fake, service, api, _ = chat
    ts = int(time.time() * 1000)
    body, headers = dingtalk_request(
        DT_SECRET, "msg-a", "q1", api.url + "/robot/send?session=1", ts
    )
    assert client.post("/chat/dingtalk", content=body, headers=headers).status_code == 200
    assert client.post("/chat/dingtalk", content=body, headers=headers).status_code == 200  # retry
    other, _ = dingtalk_request(
        DT_SECRET, "msg-b", "forged question", api.url + "/robot/send?session=1", ts
    )
    _error(client.post("/chat/dingtalk", content=other, headers=headers), 401, "replayed_request")
    assert service.dispatcher.wait_idle(5)
    assert [q for q, _ in fake.asks] == ["q1"]


def test_dingtalk_refusals(chat):
    client, fake, service, api, evil = chat
    ts = int(time.time() * 1000)
    body, headers = dingtalk_request(
        DT_SECRET, "msg-c", "q", api.url + "/robot/send", ts - 3601 * 1000
    )
    _error(client.post("/chat/dingtalk", content=body, headers=headers), 401, "stale_request")
    body, headers = dingtalk_request("wrong", "msg-d", "q", api.url + "/robot/send", ts)
    _error(client.post("/chat/dingtalk", content=body, headers=headers), 401, "bad_signature")
    body, headers = dingtalk_request(DT_SECRET, "msg-e", "q", evil.url + "/robot/send", ts)
    _error(
        client.post("/chat/dingtalk", content=body, headers=headers), 403, "reply_url_not_allowed"
    )
    assert service.dispatcher.wait_idle(5)
    assert evil.calls == [] and fake.asks == []


def test_dingtalk_vote_link(tmp_path, platform):
    api, _ = platform
    fake = ScriptedAssistant()
    settings = make_settings(
        tmp_path, api, chat_public_url="https://anquan.example", chat_link_secret="link-secret"
    )
    router = make_chat_router(fake.ask, fake.checklist, fake.feedback, settings)
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        ts = int(time.time() * 1000)
        body, headers = dingtalk_request(
            DT_SECRET, "msg-v", "guardrails?", api.url + "/robot/vote", ts
        )
        client.post("/chat/dingtalk", content=body, headers=headers)
        assert router.chat_service.dispatcher.wait_idle(5)
        card = api.calls_to("/robot/vote")[-1].json()
        url = card["actionCard"]["btns"][0]["actionURL"]
        path = url.removeprefix("https://anquan.example")
        assert client.get(path).status_code == 200
        assert client.get(path).status_code == 200
        assert (
            client.get(path.replace("v=1", "v=-1")).status_code == 403
        )  # signature covers the vote
    assert len(fake.votes) == 1 and fake.votes[0][1] == 1


# Feishu


def test_feishu_challenge_and_refusals(chat):
    client, fake, *_ = chat
    from api.chat.feishu.verify import encrypt

    challenge = {"challenge": "c-9", "token": FS_TOKEN, "type": "url_verification"}
    body = json.dumps({"encrypt": encrypt(FS_KEY, json.dumps(challenge).encode())}).encode()
    start = time.perf_counter()
    r = client.post("/chat/feishu", content=body)
    assert (
        r.status_code == 200
        and r.json() == {"challenge": "c-9"}
        and time.perf_counter() - start < 1.0
    )
    now = int(time.time())
    body, headers = feishu_request(FS_KEY, feishu_message(FS_TOKEN, "ev-1", "q"), now)
    _error(
        client.post(
            "/chat/feishu", content=body, headers={**headers, "x-lark-signature": "0" * 64}
        ),
        401,
    )
    body, headers = feishu_request(FS_KEY, feishu_message(FS_TOKEN, "ev-1", "q"), now - 301)
    _error(client.post("/chat/feishu", content=body, headers=headers), 401, "stale_request")
    body, headers = feishu_request("other-key", feishu_message(FS_TOKEN, "ev-1", "q"), now)
    _error(client.post("/chat/feishu", content=body, headers=headers), 401)
    plain = json.dumps(feishu_message(FS_TOKEN, "ev-1", "q")).encode()
    _error(client.post("/chat/feishu", content=plain), 401)
    assert fake.asks == []


# WeCom


def test_wecom_url_check_with_the_published_vector(tmp_path, platform):
    api, _ = platform
    fake = ScriptedAssistant()
    settings = make_settings(tmp_path, api)
    app = FastAPI()
    app.include_router(
        make_chat_router(
            fake.ask, fake.checklist, fake.feedback, settings, clock=lambda: 1409659589.0
        )
    )
    query = {
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "timestamp": "1409659589",
        "nonce": "263014780",
        "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
    }
    with TestClient(app) as client:
        r = client.get("/chat/wecom", params=query)
        assert r.status_code == 200 and r.text == "1616140317555161061"
        _error(client.get("/chat/wecom", params={**query, "nonce": "1"}), 401)
        _error(
            client.get("/chat/wecom", params={k: v for k, v in query.items() if k != "echostr"}),
            400,
        )


def test_wecom_refusals(chat):
    client, fake, *_ = chat
    crypto = WeComCrypto(**WECOM)
    now = int(time.time())
    query, body = wecom_request(crypto, wecom_text("m1", "q"), now - 301)
    _error(client.post("/chat/wecom", params=query, content=body), 401, "stale_request")
    other_corp = WeComCrypto(WECOM["token"], WECOM["aes_key"], "ww-other-corp")
    query, body = wecom_request(other_corp, wecom_text("m1", "q"), now)
    _error(client.post("/chat/wecom", params=query, content=body), 401)
    query, body = wecom_request(crypto, wecom_text("m1", "q"), now)
    doctype = b'<!DOCTYPE x [<!ENTITY a "b">]>' + body
    _error(client.post("/chat/wecom", params=query, content=doctype), 400)
    assert fake.asks == []


# Teams


def test_teams_refusals(chat, rsa_key):
    client, fake, service, api, evil = chat
    now = time.time()
    service_url = api.url + "/teams/"
    body = teams_activity("act-1", "q", service_url)
    _error(client.post("/chat/teams", content=body), 401)
    wrong_aud = teams_token(rsa_key, "someone-else", service_url, now)
    _error(client.post("/chat/teams", content=body, headers={"authorization": wrong_aud}), 401)
    other_url = teams_token(rsa_key, APP_ID, api.url + "/other/", now)
    _error(client.post("/chat/teams", content=body, headers={"authorization": other_url}), 401)
    expired = teams_token(rsa_key, APP_ID, service_url, now, exp=int(now) - 400)
    _error(
        client.post("/chat/teams", content=body, headers={"authorization": expired}),
        401,
        "stale_request",
    )
    # a valid token whose serviceUrl is off the allowlist: nothing is ever sent there
    evil_body = teams_activity("act-2", "q", evil.url + "/")
    evil_token = teams_token(rsa_key, APP_ID, evil.url + "/", now)
    _error(
        client.post("/chat/teams", content=evil_body, headers={"authorization": evil_token}), 403
    )
    assert service.dispatcher.wait_idle(5)
    assert evil.calls == [] and fake.asks == []


def test_wecom_ai_bot_url_check_answers_at_once(chat):
    client, *_ = chat
    bot = WeComCrypto("bot-token", WECOM["aes_key"], "")  # an AI bot's receiveid is empty
    now = str(int(time.time()))
    echostr = bot.encrypt(b"4321")
    query = {
        "msg_signature": bot.signature(now, "n", echostr),
        "timestamp": now,
        "nonce": "n",
        "echostr": echostr,
    }
    start = time.perf_counter()
    r = client.get("/chat/wecom-bot", params=query)
    assert r.status_code == 200 and r.text == "4321" and time.perf_counter() - start < 1.0
    # the app's token and CorpID do not open the bot's request
    _error(client.get("/chat/wecom", params=query), 401)
