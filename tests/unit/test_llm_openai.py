"""The ``openai`` backend against a real HTTP server on loopback that speaks chat completions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.answer import Assistant
from assistant.llm import LLMUnavailable, get_chat_model
from assistant.llm.openai_compat import OpenAICompatChat
from tests.unit.test_answer_kb import CFR_M, answer_settings, fill

REPLY = "Top rails must be 42 inches plus or minus 3 inches above the walking/working level [1]."


@pytest.fixture
def answer_kb(kb):
    fill(kb)
    return kb


class ChatServer(ThreadingHTTPServer):
    """A minimal OpenAI-compatible server: records requests, answers ``reply`` (streamed in
    pieces as server-sent events when asked), or fails with ``status``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.reply = REPLY
        self.status = 200

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if self.path != "/v1/chat/completions" or self.server.status != 200:
            self.send_response(self.server.status if self.server.status != 200 else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "boom"}}')
            return
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in _pieces(self.server.reply):
                event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            return
        data = {
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.server.reply}}
            ]
        }
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def _pieces(text: str) -> list[str]:
    return [text[i : i + 7] for i in range(0, len(text), 7)]


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_generate_and_stream_speak_the_protocol(server):
    model = OpenAICompatChat(base_url=server.base_url, model="qwen-test", api_key="sk-test")
    messages = [SystemMessage(content="rules"), HumanMessage(content="question")]
    assert model.invoke(messages).content == REPLY
    pieces = [c.content for c in model.stream(messages)]
    assert len(pieces) > 3 and "".join(pieces) == REPLY  # type: ignore[arg-type]
    plain, streamed = server.requests
    assert plain["auth"] == "Bearer sk-test"
    assert plain["body"]["model"] == "qwen-test"
    assert plain["body"]["messages"] == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "question"},
    ]
    assert plain["body"]["stream"] is False and streamed["body"]["stream"] is True


def test_server_errors_become_llm_unavailable(server):
    server.status = 500
    model = OpenAICompatChat(base_url=server.base_url, model="m")
    with pytest.raises(LLMUnavailable, match="ANQUAN_LLM_BASE_URL"):
        model.invoke([HumanMessage(content="q")])


def test_assistant_answers_through_the_server_with_settings(answer_kb, settings, server):
    s = answer_settings(settings, llm_base_url=server.base_url, llm_model="m", llm_api_key=None)
    assistant = Assistant(answer_kb, s)
    events = list(
        assistant.ask_stream(
            "How high must the top rail of a guardrail be?",
            llm="openai",
            filters={"source": CFR_M.source},
        )
    )
    final = events[-1]["answer"]
    assert final["backend"] == "openai" and final["fallback"] is None
    assert final["answer"].startswith(REPLY)
    assert [c["locator"] for c in final["citations"]] == ["1926.502(b)(1)"]
    assert sum(e["type"] == "token" for e in events) > 3
    sent = server.requests[-1]
    assert sent["auth"] is None and sent["body"]["stream"] is True
    assert "<passages>" in sent["body"]["messages"][1]["content"]


def test_assistant_falls_back_when_the_server_is_down(answer_kb, settings, server):
    server.status = 503
    s = answer_settings(settings, llm_base_url=server.base_url)
    answer = Assistant(answer_kb, s).ask(
        "How high must the top rail of a guardrail be?", llm="openai"
    )
    assert answer.backend == "extractive" and "503" in answer.fallback
    assert answer.citations


def test_get_chat_model_builds_each_backend(settings, tmp_path):
    assert get_chat_model(settings, "extractive") is None
    model = get_chat_model(settings.model_copy(update={"llm_base_url": "http://x/v1"}), "openai")
    assert isinstance(model, OpenAICompatChat) and model.base_url == "http://x/v1"
    with pytest.raises(LLMUnavailable):
        get_chat_model(settings.model_copy(update={"llm_gguf": tmp_path / "missing.gguf"}), "local")
    with pytest.raises(ValueError, match="Available: extractive, local, openai"):
        get_chat_model(settings, "gpt")
