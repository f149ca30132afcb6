"""One JSON error shape over every route: ``{"error": {"code", "message", "details"}}``.

The route walk finds every route the app has (new ones are covered without editing this test)
and sends each a request without a key, with a key whose role is too low, and with an empty
body, checking the status and the shape every time."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyStore
from api.config import ApiSettings
from tests.unit.test_answer_kb import answer_kb, answer_settings  # noqa: F401

#: routes anyone may call: probes, the page, the API's own description
OPEN = {"/healthz", "/readyz", "/", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
#: the role each guarded route needs beyond reader, by (method, path)
NEEDS = {
    ("POST", "/v1/documents"): "admin",
    ("DELETE", "/v1/documents/{doc_id}"): "admin",
    ("GET", "/v1/feedback"): "admin",
    ("POST", "/v1/inspections"): "inspector",
    ("POST", "/v1/inspections/{inspection_id}/items/{item_id}"): "inspector",
    ("POST", "/v1/inspections/{inspection_id}/sign"): "inspector",
    ("POST", "/v1/hazards/{hazard_id}/close"): "inspector",
    ("POST", "/v1/inspection-plans"): "inspector",
}
ALLOWED = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503}
#: static files, and the chat platforms: each platform signs its own requests and dictates its
#: own reply format (WeCom's echo is plain text); tests/unit/test_chat_routes.py checks them
UNKEYED = ("/static", "/chat/")


def all_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route, through included routers too."""
    out = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for r in contexts() if contexts else [route]:
            path = getattr(r, "path", None)
            for method in sorted(getattr(r, "methods", None) or ()):
                if method != "HEAD" and path:
                    out.append((method, path))
    return out


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "missing-id", path)


def assert_error_shape(r, status: int | None = None) -> dict:
    assert r.status_code in ALLOWED if status is None else r.status_code == status, (
        r.status_code,
        r.text[:300],
    )
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and len(err["message"]) > 10
    assert isinstance(err["details"], dict)
    return err


@pytest.fixture
def keyed(answer_kb, settings) -> Iterator[tuple[TestClient, dict[str, str]]]:  # noqa: F811
    s = answer_settings(settings)
    store = KeyStore(s.data_dir / "api.sqlite")
    keys = {
        role: store.create(f"{role} key", role)["key"] for role in ("reader", "inspector", "admin")
    }
    store.close()
    app = create_app(kb=answer_kb, settings=s, api_settings=ApiSettings(_env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as c:
        yield c, keys


def test_the_walk_finds_every_area(keyed):
    client, _ = keyed
    paths = {p for _, p in all_routes(client.app)}
    for expected in (
        "/v1/ask",
        "/v1/search",
        "/v1/checklists",
        "/v1/documents",
        "/v1/feedback",
        "/v1/inspections",
        "/v1/chat/completions",
        "/readyz",
        "/healthz",
    ):
        assert expected in paths


def test_every_guarded_route_refuses_a_request_without_a_key(keyed):
    client, _ = keyed
    checked = 0
    for method, path in all_routes(client.app):
        if path in OPEN or path.startswith(UNKEYED):
            continue
        r = client.request(method, concrete(path), json={})
        err = assert_error_shape(r, 401)
        assert err["code"] == "unauthorized" and "API key" in err["message"]
        assert r.headers["www-authenticate"] == "Bearer"
        checked += 1
    assert checked >= 25


def test_a_wrong_key_is_401_and_a_low_role_is_403_on_every_route(keyed):
    client, keys = keyed
    for method, path in all_routes(client.app):
        if path in OPEN or path.startswith(UNKEYED):
            continue
        r = client.request(method, concrete(path), json={}, headers={"X-API-Key": "aq_wrong"})
        assert_error_shape(r, 401)
        needed = NEEDS.get((method, path))
        r = client.request(
            method, concrete(path), json={}, headers={"Authorization": f"Bearer {keys['reader']}"}
        )
        if needed:
            err = assert_error_shape(r, 403)
            assert err["details"] == {"needed": needed, "role": "reader"}
        elif r.status_code >= 400:
            assert_error_shape(r)


def test_every_route_answers_a_bad_request_in_the_shape(keyed):
    """As admin, every route gets an empty JSON body and made-up ids: whatever fails (404 for
    the ids, 422 for missing fields, 415 for an upload without a name) keeps the shape."""
    client, keys = keyed
    seen: dict[int, int] = {}
    for method, path in all_routes(client.app):
        if path.startswith(UNKEYED):
            continue
        r = client.request(
            method, concrete(path), json={}, headers={"Authorization": f"Bearer {keys['admin']}"}
        )
        if r.status_code >= 400:
            assert_error_shape(r)
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
    assert seen.get(422, 0) >= 8 and seen.get(404, 0) >= 5


def test_unknown_routes_and_methods(keyed):
    client, _ = keyed
    err = assert_error_shape(client.get("/v2/nothing"), 404)
    assert err["code"] == "not_found" and "/docs" in err["message"]
    err = assert_error_shape(client.delete("/healthz"), 405)
    assert err["code"] == "method_not_allowed"


def test_invalid_json_is_422_with_where_it_failed(keyed):
    client, keys = keyed
    r = client.post(
        "/v1/ask",
        content=b"{not json",
        headers={"Authorization": f"Bearer {keys['reader']}", "Content-Type": "application/json"},
    )
    err = assert_error_shape(r, 422)
    assert err["details"]["errors"][0]["type"] == "json_invalid"
    r = client.post(
        "/v1/checklists",
        json={"industry": "construction", "topic": "x", "max_items": 0},
        headers={"Authorization": f"Bearer {keys['reader']}"},
    )
    err = assert_error_shape(r, 422)
    assert err["details"]["errors"][0]["loc"] == ["body", "max_items"]
    assert "max_items" in err["message"]


def test_layer_errors_map_to_their_status(keyed):
    client, keys = keyed
    reader = {"Authorization": f"Bearer {keys['reader']}"}
    err = assert_error_shape(
        client.get("/v1/search", params={"q": "x", "mode": "fuzzy"}, headers=reader), 400
    )
    assert err["code"] == "bad_request" and "hybrid" in err["message"]
    err = assert_error_shape(client.get("/v1/inspections/INS-9999", headers=reader), 404)
    assert "anquan inspect list" in err["message"]
    err = assert_error_shape(
        client.post(
            "/v1/checklists?format=pdf", json={"industry": "x", "topic": "y"}, headers=reader
        ),
        400,
    )
    assert "md, json, csv, html" in err["message"]
