"""Feishu/Lark event callbacks, with the Encrypt Key required.

Body ``{"encrypt": b64(iv16 ‖ AES-256-CBC(plaintext))}`` with key = SHA-256(Encrypt Key);
``X-Lark-Signature = sha256_hex(timestamp + nonce + encrypt_key + raw_body)`` (a plain hash,
not an HMAC), to which we add our own timestamp window. The URL challenge arrives unsigned, so
it is answered only when it decrypts with our key and carries our Verification Token.
Plaintext (unencrypted) events are refused: without the Encrypt Key nothing is signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from api.chat.core import SignatureError, check_window, equal, parse_timestamp


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode()).digest()


def decrypt(encrypt_key: str, encrypt: str) -> bytes:
    try:
        raw = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("encrypt is not base64") from None
    if len(raw) < 32 or len(raw) % 16:
        raise SignatureError("encrypt has a bad length")
    d = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(raw[:16])).decryptor()
    plain = d.update(raw[16:]) + d.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        raise SignatureError("bad padding: wrong Encrypt Key?")
    return plain[:-pad]


def encrypt(encrypt_key: str, plain: bytes, iv: bytes | None = None) -> str:
    iv = iv or os.urandom(16)
    pad = 16 - len(plain) % 16
    e = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + e.update(plain + bytes([pad]) * pad) + e.finalize()).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def _token_of(event: dict[str, Any]) -> str:
    header = event.get("header")
    token = header.get("token") if isinstance(header, dict) else event.get("token")
    return token if isinstance(token, str) else ""


def open_request(
    body: bytes,
    timestamp: str | None,
    nonce: str | None,
    sig: str | None,
    encrypt_key: str,
    verification_token: str,
    now: float,
    window_s: float,
) -> dict[str, Any]:
    """The decrypted event when the request is authentic; :class:`SignatureError` otherwise."""
    try:
        outer: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("body is not JSON") from None
    enc = outer.get("encrypt") if isinstance(outer, dict) else None
    if not isinstance(enc, str):
        raise SignatureError("unencrypted event refused: set an Encrypt Key in the Feishu console")
    signed = bool(sig)
    if signed:
        if nonce is None or len(nonce) > 128 or len(sig) > 128:  # type: ignore[arg-type]
            raise SignatureError("malformed X-Lark-Request-Nonce / X-Lark-Signature")
        check_window(parse_timestamp(timestamp), now, window_s)
        if not equal(sig, signature(timestamp, nonce, encrypt_key, body)):  # type: ignore[arg-type]
            raise SignatureError("X-Lark-Signature does not match")
    try:
        event: Any = json.loads(decrypt(encrypt_key, enc))
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("decrypted event is not JSON") from None
    if not isinstance(event, dict):
        raise SignatureError("decrypted event is not a JSON object")
    if not equal(_token_of(event), verification_token):
        raise SignatureError("verification token does not match")
    if not signed and event.get("type") != "url_verification":
        raise SignatureError("unsigned event refused (only the URL challenge comes unsigned)")
    return event
