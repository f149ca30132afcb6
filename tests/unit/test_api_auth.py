"""API keys: stored hashed, roles, revocation, the rate limit per key, the keys command, and
``anquan serve`` refusing a network address without keys."""

from __future__ import annotations

import hashlib
import json

import pytest

from api.auth import KeyStore, RateLimiter, check_bind, is_loopback, role_allows
from api.cli import main
from ingest.errors import ConfigError
from tests.unit.test_answer_kb import answer_kb  # noqa: F401
from tests.unit.test_api_ask import QUESTION_ZH, make_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_stored_as_sha256_only(tmp_path):
    store = KeyStore(tmp_path / "api.sqlite")
    made = store.create("site office", "inspector")
    key = made["key"]
    assert key.startswith("aq_") and len(key) > 40
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert key.encode() not in raw
    assert hashlib.sha256(key.encode()).hexdigest().encode() in raw
    store = KeyStore(tmp_path / "api.sqlite")
    user = store.authenticate(key, default_rate=60)
    assert user is not None and (user.role, user.name, user.rate_per_minute) == (
        "inspector",
        "site office",
        60,
    )
    assert store.authenticate(key + "x", 60) is None
    listed = store.list()
    assert listed[0]["starts_with"] == key[:10] and "key" not in listed[0]
    with pytest.raises(ConfigError, match="Available: reader, inspector, admin"):
        store.create("x", "boss")


def test_roles_are_ordered():
    assert role_allows("admin", "inspector") and role_allows("inspector", "reader")
    assert not role_allows("reader", "inspector") and not role_allows("inspector", "admin")


def test_each_role_does_what_it_may(answer_kb, settings):  # noqa: F811
    store = KeyStore(settings.data_dir / "api.sqlite")
    keys = {r: store.create(r, r)["key"] for r in ("reader", "inspector", "admin")}
    store.close()
    checklist = {"title": "T", "items": [{"id": "1", "question": "Is it done?"}]}
    start = {"checklist": checklist, "site": "A", "inspector": "Li Wei"}
    with make_client(answer_kb, settings) as c:
        assert c.post("/v1/ask", json={"question": QUESTION_ZH}).status_code == 401
        assert (
            c.post(
                "/v1/ask", json={"question": QUESTION_ZH}, headers=bearer(keys["reader"])
            ).status_code
            == 200
        )
        assert (
            c.post("/v1/inspections", json=start, headers=bearer(keys["reader"])).status_code == 403
        )
        ins = c.post("/v1/inspections", json=start, headers=bearer(keys["inspector"]))
        assert ins.status_code == 201
        # the audit trail names the key's holder as the one who started it
        iid = ins.json()["inspection"]["id"]
        assert ins.json()["inspection"]["created_by"].startswith("inspector (key_")
        upload = c.post(
            "/v1/documents?filename=a.md",
            content=b"# A\n\nText.",
            headers=bearer(keys["inspector"]),
        )
        assert upload.status_code == 403
        assert upload.json()["error"]["details"] == {"needed": "admin", "role": "inspector"}
        ok = c.post(
            "/v1/documents?filename=a.md",
            content=b"# A\n\nSome text here.",
            headers=bearer(keys["admin"]),
        )
        assert ok.status_code == 202
        assert c.get(f"/v1/inspections/{iid}", headers=bearer(keys["reader"])).status_code == 200


def test_a_revoked_key_stops_working(answer_kb, settings):  # noqa: F811
    store = KeyStore(settings.data_dir / "api.sqlite")
    made = store.create("temp", "reader")
    with make_client(answer_kb, settings) as c:
        assert c.get("/v1/stats", headers=bearer(made["key"])).status_code == 200
        assert store.revoke(made["key_id"]) and not store.revoke(made["key_id"])
        r = c.get("/v1/stats", headers=bearer(made["key"]))
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
        # no active key left: the local user is back (this client is on loopback), and a key
        # that was never issued (chat front ends always send one) is ignored; a revoked one is not
        assert c.get("/v1/stats").status_code == 200
        assert c.get("/v1/stats", headers=bearer("sk-none")).status_code == 200
        assert c.get("/v1/stats", headers=bearer(made["key"])).status_code == 401
    store.close()


def test_rate_limit_is_per_key_with_retry_after(answer_kb, settings):  # noqa: F811
    store = KeyStore(settings.data_dir / "api.sqlite")
    slow = store.create("slow", "reader", rate_per_minute=3)["key"]
    fast = store.create("fast", "reader")["key"]
    store.close()
    with make_client(answer_kb, settings, rate_limit_per_minute=1000) as c:
        codes = [c.get("/v1/stats", headers=bearer(slow)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/v1/stats", headers=bearer(slow))
        err = r.json()["error"]
        assert err["code"] == "rate_limited" and err["details"]["limit_per_minute"] == 3
        assert 1 <= int(r.headers["retry-after"]) <= 20
        assert c.get("/v1/stats", headers=bearer(fast)).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes are not limited


def test_token_bucket_refills_with_time():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.take("k", 60) for _ in range(60)] == [0.0] * 60
    wait = limiter.take("k", 60)
    assert 0.9 < wait <= 1.0
    now[0] += 1.0
    assert limiter.take("k", 60) == 0.0
    assert limiter.take("other", 60) == 0.0
    assert limiter.take("k", 0) == 0.0  # 0: no limit


def test_binding_a_network_address_needs_a_key(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    store = KeyStore(tmp_path / "api.sqlite")
    check_bind("127.0.0.1", store)
    with pytest.raises(ConfigError, match="anquan keys create"):
        check_bind("0.0.0.0", store)
    store.create("lan", "reader")
    check_bind("0.0.0.0", store)
    store.close()


def test_keys_command_and_serve_refusal(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in capsys.readouterr().err
    assert main([*data, "keys", "create", "--name", "tablet", "--role", "inspector", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["role"] == "inspector" and made["key"].startswith("aq_")
    assert main([*data, "keys", "list"]) == 0
    out = capsys.readouterr().out
    assert made["key_id"] in out and made["key"] not in out and "tablet" in out
    assert main([*data, "keys", "revoke", made["key_id"]]) == 0
    assert main([*data, "keys", "revoke", made["key_id"]]) == 1
    capsys.readouterr()
    assert main([*data, "keys", "list", "--all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["keys"][0]["revoked_at"] is not None
    with pytest.raises(SystemExit) as exit_:
        main([*data, "keys", "create", "--name", "x", "--role", "boss"])
    assert exit_.value.code == 2
