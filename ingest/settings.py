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
    embed_batch_size: int = 32
    #: where embeddings are cached by text hash; default ``<data_dir>/embed_cache.sqlite``
    embed_cache: Path | None = None
    chroma_url: str | None = None
    collection: str = "anquan"
    max_file_mb: float = 100.0
    llm: Literal["extractive", "local", "openai"] = "extractive"

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
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)
