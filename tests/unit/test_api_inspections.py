"""Checklists and inspections over HTTP: format negotiation, and an inspection recorded,
failed into a hazard, signed, refused a change, amended, exported and closed.

The inspection tests run on both records backends (``records_url``: SQLite, and PostgreSQL
through ``ANQUAN_RECORDS_URL``'s setting)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from tests.unit.test_answer_kb import answer_kb  # noqa: F401
from tests.unit.test_api_ask import client, make_client  # noqa: F401

CHECKLIST = {
    "title": "脚手架隐患排查清单",
    "industry": "construction",
    "topic": "脚手架",
    "jurisdiction": "CN",
    "language": "zh",
    "items": [
        {
            "id": "1",
            "question": "是否设置防护栏杆？",
            "category": "防护",
            "basis": [
                {
                    "source": "regulations/cn/安全生产法(2021-06-10).md",
                    "locator": "第二十八条",
                    "page": None,
                    "quote": "不得上岗作业",
                }
            ],
        },
        {"id": "2", "question": "作业人员是否经过培训？", "category": "人员"},
        {"id": "3", "question": "是否设置安全网？", "category": "防护"},
    ],
}
BODY = {"industry": "general", "topic": "安全生产教育和培训", "jurisdiction": "CN", "lang": "zh"}


@pytest.fixture
def records_client(answer_kb, settings, records_url) -> Iterator[TestClient]:  # noqa: F811
    """The service with its records database on each backend."""
    with make_client(answer_kb, settings.model_copy(update={"records_url": records_url})) as c:
        assert c.app.state.inspections.db.dialect.name == records_url.split(":")[0]
        yield c


def test_checklist_format_follows_the_query_then_the_accept_header(client):  # noqa: F811
    default = client.post("/v1/checklists", json=BODY)
    assert default.headers["content-type"] == "application/json"
    data = default.json()
    assert data["title"] == "安全生产教育和培训隐患排查清单" and data["language"] == "zh"
    assert default.headers["x-checklist-items"] == str(len(data["items"]))

    md = client.post("/v1/checklists", json=BODY, headers={"Accept": "text/markdown"})
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# 安全生产教育和培训隐患排查清单") and "| 序号 |" in md.text
    csv = client.post("/v1/checklists?format=csv", json=BODY, headers={"Accept": "text/html"})
    assert csv.headers["content-type"].startswith("text/csv")  # the query wins
    assert csv.content.startswith("\ufeff".encode()) and "检查依据" in csv.text
    html = client.post("/v1/checklists", json=BODY, headers={"Accept": "text/html,*/*"})
    assert html.text.startswith("<!DOCTYPE html>") and "检查人（签字）" in html.text

    dl = client.post("/v1/checklists?format=md&download=true", json=BODY)
    cd = dl.headers["content-disposition"]
    assert cd.startswith("attachment;")
    assert unquote(cd.split("filename*=UTF-8''")[1]) == "安全生产教育和培训隐患排查清单.md"


def test_an_inspection_from_start_to_signature(records_client):
    client = records_client  # noqa: F811  (the records database on each backend)
    start = client.post(
        "/v1/inspections",
        json={
            "checklist": CHECKLIST,
            "site": "B 栋",
            "area": "东立面",
            "inspector": "李伟",
            "date": "2025-03-31",
        },
    )
    assert start.status_code == 201
    shown = start.json()
    iid = shown["inspection"]["id"]
    assert shown["status"] == "open" and [i["id"] for i in shown["items"]] == ["1", "2", "3"]
    assert shown["inspection"]["checklist"]["title"] == CHECKLIST["title"]
    assert any(
        r["inspection_id"] == iid for r in client.get("/v1/inspections").json()["inspections"]
    )

    url = f"/v1/inspections/{iid}"
    assert client.post(f"{url}/items/1", json={"result": "pass"}).json()["hazard_id"] is None
    failed = client.post(
        f"{url}/items/3",
        json={"result": "fail", "grade": "major", "hazard": "东侧无安全网", "action": "挂设安全网"},
    ).json()
    assert failed["hazard_id"].startswith("HZ-")
    unknown = client.post(f"{url}/items/99", json={"result": "pass"})
    assert unknown.status_code == 400 and "Items: 1, 2, 3" in unknown.json()["error"]["message"]

    early = client.post(f"{url}/sign", json={"name": "李伟"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "cannot_sign"
    client.post(f"{url}/items/2", json={"result": "na"})
    no_owner = client.post(f"{url}/sign", json={"name": "李伟"})
    assert no_owner.status_code == 409 and "owner" in no_owner.json()["error"]["message"]
    client.post(
        f"{url}/items/3",
        json={
            "result": "fail",
            "grade": "major",
            "hazard": "东侧无安全网",
            "action": "挂设安全网",
            "owner": "王工",
            "due": "2025-04-07",
        },
    )
    wrong = client.post(f"{url}/sign", json={"name": "张三"})
    assert (
        wrong.status_code == 409 and "only the inspector signs" in wrong.json()["error"]["message"]
    )
    signed = client.post(f"{url}/sign", json={"name": "李伟"})
    assert signed.status_code == 200
    sig = signed.json()
    assert sig["signed_by"] == "李伟" and len(sig["record_hash"]) == 64

    shown = client.get(url).json()
    assert shown["status"] == "signed" and shown["hash_ok"] is True
    assert shown["record_hash"] == sig["record_hash"]
    hazards = client.get("/v1/hazards", params={"inspection_id": iid}).json()["hazards"]
    assert [(h["grade"], h["description"], h["status"]) for h in hazards] == [
        ("major", "东侧无安全网", "open")
    ]
    assert hazards[0]["actions"][0]["owner"] == "王工"

    # a signed record cannot change; an amendment is a new version
    refused = client.post(f"{url}/items/1", json={"result": "fail", "hazard": "x"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "signed"
    amended = client.post(
        f"{url}/items/2", json={"result": "pass", "amend_reason": "培训记录已补交"}
    ).json()
    assert amended["version"] == 2
    assert client.get(url, params={"version": 1}).json()["status"] == "signed"
    assert client.get(url).json()["inspection"]["version"] == 2

    html = client.get(f"{url}/export", params={"format": "html", "version": 1})
    assert html.headers["content-type"].startswith("text/html")
    assert sig["record_hash"] in html.text and "李伟" in html.text
    as_json = client.get(f"{url}/export", params={"format": "json", "version": 1}).json()
    assert as_json["record_hash"] == sig["record_hash"]
    csv = client.get(f"{url}/export", params={"format": "csv", "download": True})
    assert csv.headers["content-disposition"].startswith("attachment;")
    audit = client.get(f"{url}/audit").json()["audit"]
    assert [a["action"] for a in audit][:2] == ["inspection.start", "item.record"]
    assert "inspection.sign" in [a["action"] for a in audit]

    closed = client.post(
        f"/v1/hazards/{hazards[0]['hazard_id']}/close", json={"by": "王工", "note": "已挂设"}
    ).json()
    assert closed["status"] == "closed"
    again = client.post(f"/v1/hazards/{hazards[0]['hazard_id']}/close", json={"by": "王工"})
    assert again.status_code == 409


def test_plans_and_what_is_due(records_client):
    client = records_client  # noqa: F811  (the records database on each backend)
    made = client.post(
        "/v1/inspection-plans",
        json={"site": "B 栋", "checklist": CHECKLIST, "frequency": "weekly", "start": "2025-03-01"},
    )
    assert made.status_code == 201
    plans = client.get("/v1/inspection-plans").json()["plans"]
    assert plans[0]["plan_id"] == made.json()["plan_id"] and plans[0]["frequency"] == "weekly"
    due = client.get("/v1/inspections/due", params={"today": "2025-03-10"}).json()
    assert (
        due["inspections"][0]["status"] == "overdue" and due["inspections"][0]["days_overdue"] == 9
    )
    bad = client.post(
        "/v1/inspection-plans", json={"site": "B", "checklist": CHECKLIST, "frequency": "sometimes"}
    )
    assert bad.status_code == 400 and "weekly" in bad.json()["error"]["message"]
    nothing = client.post("/v1/inspections", json={"site": "B", "inspector": "x"})
    assert nothing.status_code == 400 and "checklist" in nothing.json()["error"]["message"]
    badck = client.post(
        "/v1/inspections", json={"checklist": {"items": []}, "site": "B", "inspector": "x"}
    )
    assert badck.status_code == 400 and "title" in json.dumps(badck.json())
