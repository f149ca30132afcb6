"""Standard Webhooks signatures: ``v1,b64(HMAC-SHA256(secret, id + "." + ts + "." + body))``.

The secret is ``whsec_`` + base64 of the key bytes. ``webhook-signature`` may carry several
space-separated signatures (key rotation); one valid ``v1`` entry is enough. The same scheme
signs the answers we post back, so a receiver can check them with any Standard Webhooks library.
"""

from __future__ import annotations

import base64
import binascii
import re

from api.chat.core import (
    NotConfigured,
    SignatureError,
    check_window,
    equal,
    hmac_sha256,
    parse_timestamp,
)

_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def secret_key(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise NotConfigured(
            "ANQUAN_CHAT_WEBHOOK_SECRET is not a Standard Webhooks secret: use whsec_ followed "
            'by base64, e.g. the output of: python -c "import base64,os;'
            "print('whsec_'+base64.b64encode(os.urandom(32)).decode())\""
        ) from None
    if len(key) < 16:
        raise NotConfigured("ANQUAN_CHAT_WEBHOOK_SECRET is too short: use at least 16 random bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac_sha256(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body)
    return "v1," + base64.b64encode(mac).decode()


def verify(
    body: bytes,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    now: float,
    window_s: float = 300,
) -> str:
    """The webhook id when the signature is valid and fresh; :class:`SignatureError` otherwise."""
    if not msg_id or not signature or not _ID.fullmatch(msg_id):
        raise SignatureError("missing or malformed webhook-id / webhook-signature")
    ts = parse_timestamp(timestamp)
    check_window(ts, now, window_s)
    expected = sign(secret, msg_id, timestamp.strip(), body)  # type: ignore[union-attr]
    found = False
    for candidate in signature.split(" ")[:8]:
        if candidate.startswith("v1,") and equal(candidate, expected):
            found = True
    if not found:
        raise SignatureError("webhook signature does not match")
    return msg_id
