"""Random bodies and headers: verifiers and normalisers never crash and never accept.

A verifier given anything it did not sign raises a :class:`ChatRejected`; a normaliser given
any JSON shape returns a well-formed result or raises :class:`BadRequest`; and an endpoint
answers 4xx/503, never 2xx and never 500."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.chat.core import BadRequest, ChatRejected, Question, Vote
from api.chat.dingtalk import normalise as dt_norm
from api.chat.dingtalk import verify as dingtalk
from api.chat.feishu import normalise as fs_norm
from api.chat.feishu import verify as feishu
from api.chat.routes import PLATFORMS, make_chat_router
from api.chat.slack import normalise as sl_norm
from api.chat.slack import verify as slack
from api.chat.teams import normalise as tm_norm
from api.chat.teams import verify as teams
from api.chat.webhook import normalise as wh_norm
from api.chat.webhook import verify as webhook
from api.chat.wecom import normalise as wc_norm
from api.chat.wecom.verify import WeComCrypto
from ingest.settings import Settings
from tests.chat_fakes import ScriptedAssistant

FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NOW = 1_700_000_000.0

bodies = st.one_of(st.binary(max_size=600), st.text(max_size=300).map(str.encode))
headers = st.one_of(st.none(), st.text(max_size=80), st.integers(0, 2**63).map(str))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=30,
)
#: objects with the keys the normalisers look for, filled with random values
KEYS = [
    "type",
    "event",
    "event_id",
    "team_id",
    "channel",
    "ts",
    "text",
    "user",
    "header",
    "event_type",
    "message",
    "message_id",
    "chat_id",
    "content",
    "msgId",
    "conversationId",
    "sessionWebhook",
    "msgtype",
    "id",
    "conversation",
    "serviceUrl",
    "value",
    "name",
    "replyToId",
    "question",
    "thread_id",
    "msgid",
    "stream",
    "from",
    "challenge",
    "sender",
    "sender_type",
    "action",
    "actions",
    "payload",
]
shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.dictionaries(st.sampled_from(KEYS), children, max_size=8)
        | st.lists(children, max_size=3)
    ),
    max_leaves=40,
)


def rejected(fn, *args) -> None:
    with pytest.raises(ChatRejected):
        fn(*args)


@FUZZ
@given(bodies, headers, headers, headers)
def test_webhook_verifier(body, msg_id, ts, sig):
    rejected(
        webhook.verify, body, msg_id, ts, sig, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NOW, 300
    )


@FUZZ
@given(bodies, headers, headers)
def test_slack_verifier(body, ts, sig):
    rejected(slack.verify, body, ts, sig, "secret", NOW, 300)


@FUZZ
@given(headers, headers)
def test_dingtalk_verifier(ts, sig):
    rejected(dingtalk.verify, ts, sig, "secret", NOW)


@FUZZ
@given(bodies, headers, headers, headers)
def test_feishu_verifier(body, ts, nonce, sig):
    rejected(feishu.open_request, body, ts, nonce, sig, "key", "token", NOW, 300)


@FUZZ
@given(st.text(max_size=200), headers, headers, headers)
def test_feishu_verifier_on_random_ciphertext(encrypt, ts, nonce, sig):
    body = json.dumps({"encrypt": encrypt}).encode()
    rejected(feishu.open_request, body, ts, nonce, sig, "key", "token", NOW, 300)


CRYPTO = WeComCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")


@FUZZ
@given(headers, headers, headers, st.text(max_size=300))
def test_wecom_verifier(sig, ts, nonce, encrypt):
    rejected(CRYPTO.open, sig, ts, nonce, encrypt, NOW, 300)


@FUZZ
@given(st.binary(min_size=16, max_size=400))
def test_wecom_decrypt_of_random_blocks(raw):
    import base64

    rejected(CRYPTO.decrypt, base64.b64encode(raw[: len(raw) // 16 * 16]).decode())


@FUZZ
@given(headers, shaped)
def test_teams_verifier(auth, activity):
    jwks = teams.Jwks(lambda: {"keys": []}, lambda: NOW)
    rejected(
        teams.verify,
        auth,
        activity if isinstance(activity, dict) else {},
        "app",
        ["iss"],
        jwks,
        NOW,
    )


@FUZZ
@given(st.text(max_size=60), st.text(max_size=40))
def test_teams_verifier_on_jwt_shaped_junk(head, tail):
    import base64

    fake = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": head}).encode()).decode()
    jwks = teams.Jwks(lambda: {"keys": []}, lambda: NOW)
    rejected(teams.verify, f"Bearer {fake}.{tail}.{tail}", {}, "app", ["iss"], jwks, NOW)


def _well_formed(result) -> None:
    if isinstance(result, Question):
        assert isinstance(result.text, str) and len(result.text) <= 2000
        assert isinstance(result.thread_id, str) and result.thread_id
        assert isinstance(result.event_id, str) and result.event_id
        assert result.kind in ("ask", "checklist", "help")
    elif isinstance(result, Vote):
        assert result.vote in (1, -1) and result.answer_id.startswith("ans_")


NORMALISERS = {
    "webhook": lambda v: wh_norm.normalise(json.dumps(v).encode(), "msg_1"),
    "dingtalk": lambda v: dt_norm.normalise(json.dumps(v).encode()),
    "slack-json": lambda v: sl_norm.normalise(json.dumps(v).encode(), "application/json"),
    "slack-form": lambda v: sl_norm.normalise(
        ("payload=" + json.dumps(v)).encode(), "application/x-www-form-urlencoded"
    ),
    "feishu": lambda v: fs_norm.normalise(v if isinstance(v, dict) else {}),
    "teams": lambda v: tm_norm.normalise(v if isinstance(v, dict) else {}),
    "wecom-bot": lambda v: wc_norm.normalise_bot(json.dumps(v).encode()),
}


@pytest.mark.parametrize("name", sorted(NORMALISERS))
def test_normalisers_never_crash(name):
    @FUZZ
    @given(st.one_of(shaped, json_values))
    def run(value):
        with contextlib.suppress(BadRequest):
            _well_formed(NORMALISERS[name](value))

    run()


@FUZZ
@given(st.binary(max_size=400))
def test_wecom_xml_normaliser_never_crashes(raw):
    for fn in (wc_norm.normalise_app, wc_norm.envelope_xml):
        with contextlib.suppress(BadRequest):
            fn(raw)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    fake = ScriptedAssistant()
    s = Settings(
        data_dir=tmp_path_factory.mktemp("chat"),
        chat_db=":memory:",
        chat_webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        chat_webhook_callback_url="http://127.0.0.1:9/hook",
        dingtalk_app_secret="d",
        wecom_corp_id="wx5823bf96d3bd56c7",
        wecom_token="QDG6eK",
        wecom_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        wecom_bot_token="QDG6eK",
        wecom_bot_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        feishu_encrypt_key="k",
        feishu_verification_token="t",
        slack_signing_secret="s",
        slack_bot_token="xoxb",
        teams_app_id="app",
        teams_jwks_url="http://127.0.0.1:9/jwks",
    )
    router = make_chat_router(fake.ask, fake.checklist, fake.feedback, s)
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as c:
        yield c, fake


@FUZZ
@given(
    st.sampled_from(sorted(PLATFORMS)),
    bodies,
    st.dictionaries(
        st.sampled_from(
            [
                "x-slack-signature",
                "x-slack-request-timestamp",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
                "timestamp",
                "sign",
                "x-lark-signature",
                "x-lark-request-timestamp",
                "x-lark-request-nonce",
                "authorization",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
        max_size=5,
    ),
    st.dictionaries(
        st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr"]),
        st.text(max_size=40),
        max_size=4,
    ),
)
def test_endpoints_refuse_random_requests(client, platform, body, hdrs, query):
    c, fake = client
    hdrs = {**hdrs, "timestamp": hdrs.get("timestamp", str(int(time.time())))}
    r = c.post(f"/chat/{platform}", content=body, headers=hdrs, params=query)
    assert r.status_code in (400, 401, 403, 413), (platform, r.status_code, r.text)
    assert "Traceback" not in r.text
    assert fake.asks == [] and fake.votes == []
