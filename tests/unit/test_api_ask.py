"""The HTTP service's answers: /v1/ask (JSON and streamed), feedback, the clause behind a
citation, readiness, and the OpenAI-compatible chat endpoint, on the small answer knowledge base.

``client`` and ``make_client`` are shared by the other ``test_api_*`` modules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from assistant.answer import Assistant
from assistant.llm.scripted import ScriptedChatModel
from tests.unit.test_answer_kb import CFR_M, LAW, answer_kb, answer_settings  # noqa: F401

QUESTION_ZH = "厂里新招的从业人员还没经过安全生产教育和培训，能先上岗作业吗？"
QUESTION_EN = "How high must the top rail of a guardrail system be?"


def make_client(kb, settings, assistant=None, **api) -> TestClient:
    api.setdefault("rate_limit_per_minute", 10_000)
    app = create_app(
        kb=kb,
        settings=answer_settings(settings),
        assistant=assistant,
        api_settings=ApiSettings(_env_file=None, **api),  # type: ignore[call-arg]
    )
    return TestClient(app)


@pytest.fixture
def client(answer_kb, settings) -> Iterator[TestClient]:  # noqa: F811
    with make_client(answer_kb, settings) as c:
        yield c


def sse_events(text: str) -> list[tuple[str, dict]]:
    """``event:``/``data:`` blocks of a server-sent event stream, in order."""
    out = []
    for block in text.strip().split("\n\n"):
        event, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
        if data and data != "[DONE]":
            out.append((event, json.loads(data)))
    return out


def test_ask_answers_in_the_question_language_with_citations_and_an_id(client):
    r = client.post("/v1/ask", json={"question": QUESTION_ZH})
    assert r.status_code == 200
    body = r.json()
    assert re.fullmatch(r"ans_[0-9a-f]{16}", body["answer_id"])
    assert body["language"] == "zh" and not body["refused"]
    assert (body["citations"][0]["source"], body["citations"][0]["locator"]) == (
        LAW.source,
        "第二十八条",
    )
    assert "不得上岗作业" in body["answer"]
    assert {"answer", "refused", "reason", "citations", "related_accidents", "timings"} <= set(body)


def test_filters_reach_retrieval(client):
    body = client.post(
        "/v1/ask", json={"question": QUESTION_EN, "filters": {"source": CFR_M.source}}
    ).json()
    assert body["citations"] and {c["source"] for c in body["citations"]} == {CFR_M.source}
    assert body["citations"][0]["locator"] == "1926.502(b)(1)"


def test_stream_sends_evidence_first_then_tokens_then_the_answer(client):
    r = client.post(
        "/v1/ask", json={"question": QUESTION_EN}, headers={"Accept": "text/event-stream"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    kinds = [e for e, _ in events]
    assert kinds[0] == "evidence" and kinds[-1] == "answer"
    assert set(kinds[1:-1]) == {"token"} and len(kinds) > 3
    evidence, final = events[0][1], events[-1][1]
    assert evidence["passages"][0]["n"] == 1 and evidence["refused"] is False
    streamed = "".join(d["text"] for e, d in events if e == "token")
    assert streamed == final["answer"]
    assert final["answer_id"].startswith("ans_")
    # the body flag does the same as the Accept header
    flagged = client.post("/v1/ask", json={"question": QUESTION_EN, "stream": True})
    assert sse_events(flagged.text)[-1][0] == "answer"


def test_a_model_answer_streams_its_tokens_and_a_withdrawn_one_resets(answer_kb, settings):  # noqa: F811
    model = ScriptedChatModel(
        replies=["Top rails must be 42 inches plus or minus 3 inches above the level [1]."]
    )
    assistant = Assistant(answer_kb, answer_settings(settings), chat_models={"local": model})
    with make_client(answer_kb, settings, assistant=assistant) as c:
        events = sse_events(
            c.post(
                "/v1/ask",
                json={
                    "question": QUESTION_EN,
                    "llm": "local",
                    "stream": True,
                    "filters": {"source": CFR_M.source},
                },
            ).text
        )
        tokens = [d["text"] for e, d in events if e == "token"]
        assert len(tokens) > 10  # the model's pieces, not one block
        final = events[-1][1]
        assert final["backend"] == "local" and final["answer"].startswith("Top rails must be 42")

    broken = Assistant(
        answer_kb, answer_settings(settings), chat_models={"local": ScriptedChatModel(fail=True)}
    )
    with make_client(answer_kb, settings, assistant=broken) as c:
        events = sse_events(
            c.post("/v1/ask", json={"question": QUESTION_EN, "llm": "local", "stream": True}).text
        )
        kinds = [e for e, _ in events]
        assert "reset" in kinds and kinds[-1] == "answer"
        assert events[-1][1]["backend"] == "extractive" and events[-1][1]["fallback"]


def test_bad_filters_and_backends_are_refused_before_any_work(client):
    bad = client.post("/v1/ask", json={"question": "x", "filters": {"colour": "red"}})
    assert bad.status_code == 400 and "Available" in bad.json()["error"]["message"]
    streamed = client.post(
        "/v1/ask", json={"question": "x", "filters": {"colour": "red"}, "stream": True}
    )
    assert streamed.status_code == 400  # not a 200 stream carrying an error
    wrong = client.post("/v1/ask", json={"question": "x", "llm": "gpt-9"})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_request"
    empty = client.post("/v1/ask", json={"question": ""})
    assert empty.status_code == 422
    assert empty.json()["error"]["details"]["errors"][0]["loc"] == ["body", "question"]


def test_feedback_points_at_a_real_answer(client):
    answer_id = client.post("/v1/ask", json={"question": QUESTION_ZH}).json()["answer_id"]
    up = client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "up"})
    assert up.status_code == 201 and up.json()["rating"] == 1
    down = client.post(
        "/v1/feedback", json={"answer_id": answer_id, "rating": -1, "comment": "缺少第二款"}
    )
    assert down.status_code == 201
    unknown = client.post("/v1/feedback", json={"answer_id": "ans_nope", "rating": "up"})
    assert unknown.status_code == 404 and "answer_id" in unknown.json()["error"]["message"]
    listed = client.get("/v1/feedback").json()["feedback"]
    assert [(f["rating"], f["comment"]) for f in listed] == [(-1, "缺少第二款"), (1, "")]
    assert listed[0]["question"] == QUESTION_ZH


def test_clause_returns_the_whole_clause_behind_a_citation(client):
    c = client.get("/v1/clause", params={"source": LAW.source, "locator": "第二十八条"}).json()
    assert c["title"] == LAW.title and c["locator"] == "第二十八条"
    assert c["text"].startswith("第二十八条") and "不得上岗作业" in c["text"]
    missing = client.get("/v1/clause", params={"source": LAW.source, "locator": "第九百条"})
    assert (
        missing.status_code == 404 and missing.json()["error"]["details"]["locator"] == "第九百条"
    )
    nodoc = client.get("/v1/clause", params={"source": "nope.md"})
    assert nodoc.status_code == 404


def test_health_readiness_facets_and_stats(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    for _ in range(50):  # the warm-up thread loads the embedder
        if ready.status_code == 200:
            break
        ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert checks["knowledge_base"] == "ok" and checks["embedder"] == "ok"
    assert checks["llm"] == "extractive" and checks["chunks"] > 0
    facets = client.get("/v1/facets").json()
    assert facets["jurisdiction"]["CN"] > 0 and "law" in facets["doc_type"]
    assert client.get("/v1/stats").json()["documents"] == checks["documents"]


def test_readyz_is_503_on_an_empty_knowledge_base(kb, settings):
    with make_client(kb, settings) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        err = r.json()["error"]
        assert err["code"] == "not_ready" and err["details"]["checks"]["chunks"] == 0
        assert "anquan ingest" in err["message"]


def test_chat_completions_reply_carries_the_citations(client):
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": "anquan",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": QUESTION_ZH}]},
            ],
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] == "stop"
    text = body["choices"][0]["message"]["content"]
    assert "来源：" in text and "[1] 中华人民共和国安全生产法 第二十八条" in text
    assert body["citations"][0]["locator"] == "第二十八条" and body["answer_id"].startswith("ans_")
    models = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert models[0] == "anquan" and "anquan-extractive" in models


def test_chat_completions_stream_ends_with_citations_and_done(client):
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": "anquan-extractive",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION_EN}],
        },
    )
    assert r.status_code == 200 and r.text.rstrip().endswith("data: [DONE]")
    chunks = [d for _, d in sse_events(r.text)]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "Sources:" in text and "1926.502(b)(1)" in text
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["citations"]


def test_chat_completions_errors(client):
    unknown = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    assert "anquan" in unknown.json()["error"]["message"]
    no_user = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "system", "content": "hello"}]}
    )
    assert no_user.status_code == 400
