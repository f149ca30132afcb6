"""Settings of the HTTP service only (the knowledge base's live in :mod:`ingest.settings`).

Environment variables with the ``ANQUAN_API_`` prefix, or a ``.env`` file; built at the entry
point (``create_app``) like the others, never at import time.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANQUAN_API_", env_file=".env", extra="ignore")

    #: requests per minute a key may make (bursts up to the same number); a key can carry its own
    rate_limit_per_minute: int = 120
    #: the same for the keyless local user (127.0.0.1 without keys); 0 means no limit
    local_rate_limit_per_minute: int = 0
    #: largest upload; 0 means the knowledge base's own limit (``ANQUAN_MAX_FILE_MB``)
    upload_max_mb: float = 0.0
    #: answers kept for feedback (older ones are dropped first)
    answer_log_size: int = 10_000
    #: seconds a streamed answer may wait for the next event before the stream ends with an error
    stream_timeout_s: float = 600.0
