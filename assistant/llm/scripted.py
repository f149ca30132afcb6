"""A scripted chat model: replies fixed in advance, for tests and demonstrations.

A real (small) LangChain chat model, not a mock: it streams its reply piece by piece like a
real backend, and keeps the messages it was given so a test can read the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from assistant.llm.base import LLMUnavailable

Reply = str | Callable[[list[BaseMessage]], str]


class ScriptedChatModel(BaseChatModel):
    """Replies from ``replies`` in turn (the last one repeats); a callable reply sees the prompt.

    ``fail=True`` makes every call raise :class:`LLMUnavailable`, as a dead server would.
    """

    replies: list[Any] = Field(default_factory=lambda: ["[1]"])
    fail: bool = False
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(self, messages: list[BaseMessage]) -> str:
        if self.fail:
            raise LLMUnavailable("scripted model set to fail")
        self.calls.append(list(messages))
        reply: Reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        return reply(list(messages)) if callable(reply) else str(reply)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._next(messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in split_pieces(self._next(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def split_pieces(text: str) -> Sequence[str]:
    """Token-like pieces: English words with their spaces, single CJK characters, punctuation."""
    return re.findall(r"\s*[A-Za-z0-9_.]+|\s*[^\sA-Za-z0-9_.]|\s+", text)
