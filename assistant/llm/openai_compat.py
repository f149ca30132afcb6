"""Any OpenAI-compatible chat-completions server (vLLM, Ollama, DeepSeek, Qwen, OpenAI).

Plain ``httpx`` on ``POST {base_url}/chat/completions``, streaming by server-sent events, so
no vendor SDK is needed and the test can talk to a small server of its own on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from assistant.llm.base import LLMUnavailable, to_openai_messages


class OpenAICompatChat(BaseChatModel):
    base_url: str
    model: str
    api_key: str | None = None
    max_tokens: int = 320
    temperature: float = 0.1
    timeout_s: float = 180.0

    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model}

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }
        if stop:
            body["stop"] = stop
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    @property
    def _url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            resp = httpx.post(
                self._url,
                json=self._request(messages, stop, stream=False),
                headers=self._headers(),
                timeout=self.timeout_s,
            )
            resp.raise_for_status()
            data = resp.json()
            text = data["choices"][0]["message"].get("content") or ""
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise LLMUnavailable(self._explain(exc)) from exc
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        try:
            with httpx.stream(
                "POST",
                self._url,
                json=self._request(messages, stop, stream=True),
                headers=self._headers(),
                timeout=self.timeout_s,
            ) as resp:
                resp.raise_for_status()
                for piece in sse_content(resp.iter_lines()):
                    yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise LLMUnavailable(self._explain(exc)) from exc

    def _explain(self, exc: Exception) -> str:
        return (
            f"the OpenAI-compatible server at {self.base_url} failed ({type(exc).__name__}: "
            f"{exc}); check ANQUAN_LLM_BASE_URL, ANQUAN_LLM_MODEL and ANQUAN_LLM_API_KEY"
        )


def sse_content(lines: Iterator[str]) -> Iterator[str]:
    """The content deltas of a chat-completions event stream, up to ``data: [DONE]``."""
    for line in lines:
        line = line.strip()
        if not line.startswith("data:"):
            continue
        payload = line[len("data:") :].strip()
        if payload == "[DONE]":
            return
        event = json.loads(payload)
        if "error" in event:
            raise ValueError(f"server error: {event['error']}")
        for choice in event.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                yield piece
