"""Slack request signing: ``X-Slack-Signature: v0=hex(HMAC-SHA256(signing_secret,
"v0:" + X-Slack-Request-Timestamp + ":" + raw_body))``, refused when older than 5 minutes."""

from __future__ import annotations

from api.chat.core import SignatureError, check_window, equal, hmac_sha256, parse_timestamp


def sign(signing_secret: str, timestamp: str | int, body: bytes) -> str:
    return "v0=" + hmac_sha256(signing_secret.encode(), f"v0:{timestamp}:".encode() + body).hex()


def verify(
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    signing_secret: str,
    now: float,
    window_s: float = 300,
) -> None:
    if not signature or not signature.startswith("v0=") or len(signature) > 128:
        raise SignatureError("missing or malformed X-Slack-Signature")
    check_window(parse_timestamp(timestamp), now, window_s)
    if not equal(signature, sign(signing_secret, timestamp.strip(), body)):  # type: ignore[union-attr]
        raise SignatureError("X-Slack-Signature does not match")
