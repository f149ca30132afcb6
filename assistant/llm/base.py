"""What every chat backend shares: message conversion, and the error a missing backend raises.

The backends are LangChain chat models (``BaseChatModel``), so anything that speaks that
interface (a hosted model, a test script) can stand in. The assistant only calls ``.stream``.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from ingest.errors import AnquanError


class LLMUnavailable(AnquanError):
    """A backend cannot answer: the model file, the runtime or the server is missing or failing.

    The assistant catches it and answers extractively instead, saying why in ``fallback``.
    """


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the ``[{"role", "content"}]`` list that llama.cpp and OpenAI take."""
    out = []
    for m in messages:
        if isinstance(m, SystemMessage):
            role = "system"
        elif isinstance(m, AIMessage):
            role = "assistant"
        elif isinstance(m, HumanMessage):
            role = "user"
        else:
            role = getattr(m, "role", "user")
        content = m.content if isinstance(m.content, str) else str(m.content)
        out.append({"role": role, "content": content})
    return out
