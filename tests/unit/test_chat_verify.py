"""Each platform's verifier against the vendor's published vector (exactly as published), and
against forged, stale, replayed and wrong-key input. DingTalk and Teams publish none: their
vectors are made here with a fixed clock and key."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from api.chat.core import SignatureError, StaleRequest
from api.chat.dingtalk import verify as dingtalk
from api.chat.feishu import verify as feishu
from api.chat.slack import verify as slack
from api.chat.teams import verify as teams
from api.chat.webhook import verify as webhook
from api.chat.wecom.normalise import envelope_xml, normalise_app, parse_xml
from api.chat.wecom.verify import WeComCrypto

# Standard Webhooks: the specification repository's vector


SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = "1614265330"
SW_BODY = b'{"test": 2432232314}'
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_standard_webhooks_published_vector():
    assert webhook.sign(SW_SECRET, SW_ID, SW_TS, SW_BODY) == SW_SIG
    assert webhook.verify(SW_BODY, SW_ID, SW_TS, SW_SIG, SW_SECRET, now=1614265330) == SW_ID
    # key rotation: several signatures, one valid
    assert webhook.verify(SW_BODY, SW_ID, SW_TS, "v1,AAAA " + SW_SIG, SW_SECRET, now=1614265331)


@pytest.mark.parametrize(
    "body,msg_id,ts,sig,secret,now,error",
    [
        (SW_BODY + b" ", SW_ID, SW_TS, SW_SIG, SW_SECRET, 1614265330, SignatureError),  # tampered
        (SW_BODY, "msg_other", SW_TS, SW_SIG, SW_SECRET, 1614265330, SignatureError),
        (
            SW_BODY,
            SW_ID,
            SW_TS,
            SW_SIG,
            "whsec_" + base64.b64encode(b"k" * 24).decode(),
            1614265330,
            SignatureError,
        ),
        (SW_BODY, SW_ID, SW_TS, SW_SIG, SW_SECRET, 1614265330 + 301, StaleRequest),
        (SW_BODY, SW_ID, SW_TS, SW_SIG, SW_SECRET, 1614265330 - 301, StaleRequest),
        (
            SW_BODY,
            SW_ID,
            SW_TS,
            SW_SIG.replace("v1,", "v2,"),
            SW_SECRET,
            1614265330,
            SignatureError,
        ),
        (SW_BODY, None, SW_TS, SW_SIG, SW_SECRET, 1614265330, SignatureError),
        (SW_BODY, SW_ID, "16142653.30", SW_SIG, SW_SECRET, 1614265330, SignatureError),
        (SW_BODY, SW_ID, SW_TS, None, SW_SECRET, 1614265330, SignatureError),
    ],
    ids=["tampered", "other-id", "wrong-key", "stale", "future", "v2", "no-id", "bad-ts", "no-sig"],
)
def test_standard_webhooks_refusals(body, msg_id, ts, sig, secret, now, error):
    with pytest.raises(error):
        webhook.verify(body, msg_id, ts, sig, secret, now=now)


# Slack: "Verifying requests from Slack"


SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slack_published_vector():
    assert slack.sign(SLACK_SECRET, SLACK_TS, SLACK_BODY) == SLACK_SIG
    slack.verify(SLACK_BODY, SLACK_TS, SLACK_SIG, SLACK_SECRET, now=1531420618)
    slack.verify(SLACK_BODY, SLACK_TS, SLACK_SIG, SLACK_SECRET, now=1531420618 + 299)


def test_slack_refusals():
    with pytest.raises(StaleRequest):
        slack.verify(SLACK_BODY, SLACK_TS, SLACK_SIG, SLACK_SECRET, now=1531420618 + 301)
    with pytest.raises(SignatureError):
        slack.verify(SLACK_BODY, SLACK_TS, SLACK_SIG, "0" * 32, now=1531420618)
    with pytest.raises(SignatureError):
        slack.verify(
            SLACK_BODY.replace(b"roadrunner", b"coyote"),
            SLACK_TS,
            SLACK_SIG,
            SLACK_SECRET,
            now=1531420618,
        )
    # a captured signature moved to a fresh timestamp does not verify
    with pytest.raises(SignatureError):
        slack.verify(SLACK_BODY, "1531420700", SLACK_SIG, SLACK_SECRET, now=1531420700)
    with pytest.raises(SignatureError):
        slack.verify(SLACK_BODY, SLACK_TS, SLACK_SIG.upper(), SLACK_SECRET, now=1531420618)


# Feishu / Lark: the event-decryption sample


def test_feishu_published_vector():
    assert (
        feishu.decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"
    )


def test_feishu_wrong_key_and_garbage():
    for key, enc in [
        ("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="),
        ("test key", "AAAA"),
        ("test key", "%%%"),
    ]:
        with pytest.raises(SignatureError):
            feishu.decrypt(key, enc)


FEISHU_KEY = "enc-key-123"
FEISHU_TOKEN = "verif-token"


def _feishu_request(event: dict, ts: str = "1700000000", nonce: str = "n1", key: str = FEISHU_KEY):
    body = json.dumps({"encrypt": feishu.encrypt(key, json.dumps(event).encode())}).encode()
    return body, ts, nonce, feishu.signature(ts, nonce, key, body)


def test_feishu_signed_event_round_trip_and_refusals():
    event = {
        "schema": "2.0",
        "header": {"event_id": "e1", "token": FEISHU_TOKEN, "event_type": "x"},
    }
    body, ts, nonce, sig = _feishu_request(event)
    assert (
        feishu.open_request(body, ts, nonce, sig, FEISHU_KEY, FEISHU_TOKEN, 1700000000, 300)
        == event
    )
    with pytest.raises(StaleRequest):
        feishu.open_request(body, ts, nonce, sig, FEISHU_KEY, FEISHU_TOKEN, 1700000000 + 301, 300)
    with pytest.raises(SignatureError):  # forged signature
        feishu.open_request(body, ts, nonce, "0" * 64, FEISHU_KEY, FEISHU_TOKEN, 1700000000, 300)
    with pytest.raises(SignatureError):  # signed and encrypted with another key
        other = _feishu_request(event, key="another")
        feishu.open_request(*other, FEISHU_KEY, FEISHU_TOKEN, 1700000000, 300)
    with pytest.raises(SignatureError):  # another app's verification token
        feishu.open_request(body, ts, nonce, sig, FEISHU_KEY, "not-ours", 1700000000, 300)
    with pytest.raises(SignatureError):  # an unsigned event
        feishu.open_request(body, None, None, None, FEISHU_KEY, FEISHU_TOKEN, 1700000000, 300)
    with pytest.raises(SignatureError):  # plaintext events are refused outright
        plain = json.dumps(event).encode()
        feishu.open_request(
            plain,
            ts,
            nonce,
            feishu.signature(ts, nonce, FEISHU_KEY, plain),
            FEISHU_KEY,
            FEISHU_TOKEN,
            1700000000,
            300,
        )


def test_feishu_unsigned_challenge_needs_our_key_and_token():
    challenge = {"challenge": "c-1", "token": FEISHU_TOKEN, "type": "url_verification"}
    body, *_ = _feishu_request(challenge)
    assert (
        feishu.open_request(body, None, None, None, FEISHU_KEY, FEISHU_TOKEN, 0, 300)["challenge"]
        == "c-1"
    )
    forged, *_ = _feishu_request(dict(challenge, token="guess"))
    with pytest.raises(SignatureError):
        feishu.open_request(forged, None, None, None, FEISHU_KEY, FEISHU_TOKEN, 0, 300)


# WeCom: Tencent's WXBizMsgCrypt sample


WECOM = dict(
    token="QDG6eK",
    aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    receive_id="wx5823bf96d3bd56c7",
)
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
SAMPLE_XML = (
    b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt>"
    b"<AgentID><![CDATA[218]]></AgentID></xml>"
)


def test_wecom_published_url_check_vector():
    crypto = WeComCrypto(**WECOM)
    plain = crypto.open(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "1409659589",
        "263014780",
        ECHOSTR,
        1409659589,
        300,
    )
    assert plain == b"1616140317555161061"


def test_wecom_published_message_vector():
    crypto = WeComCrypto(**WECOM)
    encrypt = envelope_xml(SAMPLE_XML)
    plain = crypto.open(
        "477715d11cdb4164915debcba66cb864d751f3e6",
        "1409659813",
        "1372623149",
        encrypt,
        1409659813,
        300,
    )
    msg = parse_xml(plain)
    assert (msg["Content"], msg["MsgId"], msg["FromUserName"]) == (
        "hello",
        "4561255354251345929",
        "mycreate",
    )
    q = normalise_app(plain)
    assert (
        q.text == "hello"
        and q.event_id == "4561255354251345929"
        and q.thread_id == "wecom:mycreate"
    )


def test_wecom_refusals():
    crypto = WeComCrypto(**WECOM)
    sig = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    with pytest.raises(StaleRequest):
        crypto.open(sig, "1409659589", "263014780", ECHOSTR, 1409659589 + 301, 300)
    with pytest.raises(SignatureError):  # another nonce: the signature no longer matches
        crypto.open(sig, "1409659589", "263014781", ECHOSTR, 1409659589, 300)
    with pytest.raises(SignatureError):  # another app's token
        WeComCrypto("other", WECOM["aes_key"], WECOM["receive_id"]).open(
            sig, "1409659589", "263014780", ECHOSTR, 1409659589, 300
        )
    with pytest.raises(SignatureError):  # right key, another corp: the receiveid check
        WeComCrypto(WECOM["token"], WECOM["aes_key"], "wwother").decrypt(ECHOSTR)
    with pytest.raises(SignatureError):  # wrong EncodingAESKey: padding breaks
        WeComCrypto(WECOM["token"], "A" * 43, WECOM["receive_id"]).decrypt(ECHOSTR)


def test_wecom_encrypt_round_trip_pads_to_32_bytes():
    crypto = WeComCrypto(**WECOM)
    for n in (0, 1, 12, 31, 32, 100):
        enc = crypto.encrypt(b"x" * n)
        assert len(base64.b64decode(enc)) % 32 == 0
        assert crypto.decrypt(enc) == b"x" * n
    bot = WeComCrypto("t", WECOM["aes_key"], "")  # AI bot: empty receiveid
    assert bot.decrypt(bot.encrypt(b'{"msgid":"1"}')) == b'{"msgid":"1"}'


# DingTalk: no published vector; a fixed clock and key


DT_SECRET = "dt-app-secret"
DT_TS = "1700000000000"


def test_dingtalk_own_vector():
    # printf "1700000000000\ndt-app-secret" | openssl dgst -sha256 -hmac dt-app-secret -binary | base64
    expected = "INrz4sN8SDL9wUtr7EEfaMVif4hHF8xA51V0ARHhITU="
    assert dingtalk.sign(DT_SECRET, DT_TS) == expected
    assert dingtalk.verify(DT_TS, expected, DT_SECRET, now=1700000000.0) == expected
    assert dingtalk.verify(DT_TS, expected, DT_SECRET, now=1700000000.0 + 3599)


def test_dingtalk_refusals():
    good = dingtalk.sign(DT_SECRET, DT_TS)
    with pytest.raises(StaleRequest):
        dingtalk.verify(DT_TS, good, DT_SECRET, now=1700000000.0 + 3601)
    with pytest.raises(SignatureError):
        dingtalk.verify(DT_TS, good, "wrong-secret", now=1700000000.0)
    with pytest.raises(SignatureError):
        dingtalk.verify("1700000000001", good, DT_SECRET, now=1700000000.0)
    with pytest.raises(SignatureError):
        dingtalk.verify(DT_TS, None, DT_SECRET, now=1700000000.0)


# Teams: an RSA key of our own behind a JWKS


APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://api.botframework.com"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"
NOW = 1_700_000_000


@pytest.fixture(scope="module")
def rsa_keys():
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(good.public_key()))
    jwk.update(kid="k1", use="sig", alg="RS256", endorsements=["msteams"])
    return good, other, {"keys": [jwk]}


def _token(key, **over):
    claims = {
        "iss": ISSUER,
        "aud": APP_ID,
        "exp": NOW + 3600,
        "nbf": NOW - 60,
        "serviceurl": SERVICE_URL,
    }
    claims.update(over.pop("claims", {}))
    headers = {"kid": over.pop("kid", "k1")}
    return "Bearer " + jwt.encode(claims, key, algorithm=over.pop("alg", "RS256"), headers=headers)


def _activity(**over):
    return {
        "type": "message",
        "id": "a1",
        "channelId": "msteams",
        "serviceUrl": SERVICE_URL,
        **over,
    }


def _jwks(doc, fetches=None):
    def fetch():
        if fetches is not None:
            fetches.append(1)
        return doc

    return teams.Jwks(fetch, clock=lambda: NOW)


def test_teams_valid_token(rsa_keys):
    good, _, doc = rsa_keys
    claims = teams.verify(_token(good), _activity(), APP_ID, [ISSUER], _jwks(doc), NOW)
    assert claims["aud"] == APP_ID
    # five minutes of skew either side
    teams.verify(
        _token(good, claims={"exp": NOW - 299}), _activity(), APP_ID, [ISSUER], _jwks(doc), NOW
    )


@pytest.mark.parametrize(
    "case,error",
    [
        ("wrong_key", SignatureError),
        ("wrong_aud", SignatureError),
        ("wrong_iss", SignatureError),
        ("expired", StaleRequest),
        ("not_yet", StaleRequest),
        ("unknown_kid", SignatureError),
        ("hs256", SignatureError),
        ("service_url", SignatureError),
        ("channel", SignatureError),
        ("no_bearer", SignatureError),
    ],
)
def test_teams_refusals(rsa_keys, case, error):
    good, other, doc = rsa_keys
    activity = _activity()
    token = {
        "wrong_key": lambda: _token(other),
        "wrong_aud": lambda: _token(good, claims={"aud": "someone-else"}),
        "wrong_iss": lambda: _token(good, claims={"iss": "https://evil.example"}),
        "expired": lambda: _token(good, claims={"exp": NOW - 301}),
        "not_yet": lambda: _token(good, claims={"nbf": NOW + 301}),
        "unknown_kid": lambda: _token(good, kid="k9"),
        # an HMAC token naming our RSA key's kid: algorithm confusion
        "hs256": lambda: (
            "Bearer "
            + jwt.encode(
                {"iss": ISSUER, "aud": APP_ID, "exp": NOW + 60},
                "k" * 32,
                algorithm="HS256",
                headers={"kid": "k1"},
            )
        ),
        "service_url": lambda: _token(good, claims={"serviceurl": "https://evil.example/"}),
        "channel": lambda: _token(good),
        "no_bearer": lambda: _token(good).replace("Bearer ", "Basic "),
    }[case]()
    if case == "channel":
        activity = _activity(channelId="webchat")
    with pytest.raises(error):
        teams.verify(token, activity, APP_ID, [ISSUER], _jwks(doc), NOW)


def test_teams_jwks_refetch_is_rate_limited(rsa_keys):
    good, _, doc = rsa_keys
    fetches: list[int] = []
    jwks = _jwks(doc, fetches)
    for kid in ("k1", "k7", "k8", "k9"):
        jwks.key(kid)
    assert len(fetches) == 1


def test_verifiers_are_fast():
    """Constant-time compares are cheap; a verifier never blocks an ack."""
    start = time.perf_counter()
    for _ in range(200):
        slack.verify(SLACK_BODY, SLACK_TS, SLACK_SIG, SLACK_SECRET, now=1531420618)
    assert time.perf_counter() - start < 0.5
