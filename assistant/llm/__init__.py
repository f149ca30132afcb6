"""Chat backends behind one interface (LangChain chat models).

``get_chat_model(settings, name)`` returns the model for ``extractive`` (None: the assistant
composes from the passages without a model), ``local`` (llama.cpp on a GGUF file) or
``openai`` (any OpenAI-compatible server). It raises :class:`LLMUnavailable` with what to do
when a backend is not usable; the assistant then answers extractively.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.language_models.chat_models import BaseChatModel

from assistant.llm.base import LLMUnavailable
from ingest.errors import ConfigError
from ingest.settings import Settings

Backend = Literal["extractive", "local", "openai"]
BACKENDS: tuple[str, ...] = ("extractive", "local", "openai")

__all__ = ["BACKENDS", "Backend", "LLMUnavailable", "check_backend", "get_chat_model"]


def check_backend(name: str | None, settings: Settings) -> str:
    name = name or settings.llm
    if name not in BACKENDS:
        raise ConfigError(f"unknown LLM backend {name!r}. Available: {', '.join(BACKENDS)}")
    return name


def get_chat_model(settings: Settings, name: str | None = None) -> BaseChatModel | None:
    """The chat model for backend ``name`` (default ``settings.llm``); None for extractive."""
    name = check_backend(name, settings)
    if name == "extractive":
        return None
    if name == "local":
        from assistant.llm.local import LlamaCppChat

        model = LlamaCppChat(
            model_path=settings.gguf_path,
            n_ctx=settings.llm_ctx,
            n_threads=settings.llm_threads,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )
        model._llama()  # fail now, with the reason, rather than in the middle of an answer
        return model
    from assistant.llm.openai_compat import OpenAICompatChat

    if not settings.llm_base_url:
        raise LLMUnavailable(
            "set ANQUAN_LLM_BASE_URL to an OpenAI-compatible server for --llm openai"
        )
    return OpenAICompatChat(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        timeout_s=settings.llm_timeout_s,
    )
