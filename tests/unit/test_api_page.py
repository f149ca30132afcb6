"""The web page is served by the app, and its two languages say the same things."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.test_answer_kb import answer_kb  # noqa: F401
from tests.unit.test_api_ask import client  # noqa: F401

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"


def i18n_tables() -> dict[str, set[str]]:
    text = (STATIC / "i18n.js").read_text(encoding="utf-8")
    tables = {}
    for lang in ("zh", "en"):
        block = re.search(rf"\n  {lang}: \{{(.*?)\n  \}}", text, re.S)
        assert block, lang
        tables[lang] = set(re.findall(r'"([a-z_.]+)":', block.group(1)))
    return tables


def test_the_page_and_its_files_are_served(client):  # noqa: F811
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    for view in ("ask", "checklists", "documents", "inspections"):
        assert f'data-view="{view}"' in html
    for name, kind in (("app.js", "javascript"), ("app.css", "css"), ("i18n.js", "javascript")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    missing = client.get("/static/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/docs").status_code == 200
    assert "/v1/ask" in client.get("/openapi.json").json()["paths"]


def test_both_languages_have_every_string_the_page_uses():
    tables = i18n_tables()
    assert tables["zh"] == tables["en"]
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    used = set(re.findall(r'data-i18n(?:-placeholder|-title)?="([a-z_.]+)"', html))
    used |= set(re.findall(r'\bt\("([a-z_.]+[a-z_])"', js))
    assert used and used <= tables["en"], sorted(used - tables["en"])
    # keys made from a value: every value the API can send has its string
    for prefix, values in (
        ("job.", ("queued", "reading", "embedding", "done", "failed")),
        ("haz.", ("general", "major")),
        ("ind.", ("construction", "mining", "chemical", "special_equipment", "fire", "general")),
    ):
        assert f't("{prefix}" +' in js
        assert {prefix + v for v in values} <= tables["en"]
