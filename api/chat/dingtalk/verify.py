"""DingTalk robot callback headers: ``timestamp`` (ms) and
``sign = b64(HMAC-SHA256(app_secret, timestamp + "\\n" + app_secret))``, within one hour.

The body is not signed, so a captured (timestamp, sign) pair would carry any body for the rest
of the hour. Two guards make that pair single-use: the handler remembers which ``msgId`` a
signature came with and refuses the same signature with another message
(:class:`ReplayedRequest`), and replies go only to allowlisted ``sessionWebhook`` hosts.
"""

from __future__ import annotations

import base64

from api.chat.core import SignatureError, check_window, equal, hmac_sha256, parse_timestamp

#: DingTalk's documented validity of a callback timestamp
WINDOW_S = 3600.0


def sign(app_secret: str, timestamp_ms: int | str) -> str:
    message = f"{timestamp_ms}\n{app_secret}".encode()
    return base64.b64encode(hmac_sha256(app_secret.encode(), message)).decode()


def verify(
    timestamp: str | None,
    signature: str | None,
    app_secret: str,
    now: float,
    window_s: float = WINDOW_S,
) -> str:
    """The signature when it is valid and fresh (the caller makes it single-use)."""
    if not signature or len(signature) > 128:
        raise SignatureError("missing or malformed sign header")
    signed_at = parse_timestamp(timestamp, millis=True)
    check_window(signed_at, now, window_s)
    if not equal(signature.strip(), sign(app_secret, timestamp.strip())):  # type: ignore[union-attr]
        raise SignatureError("DingTalk sign does not match")
    return signature.strip()
