"""WeCom callback crypto (WXBizMsgCrypt), in ~40 lines on ``cryptography``.

``msg_signature = sha1(sorted([token, timestamp, nonce, encrypt]) joined)``. AES-256-CBC with
key = b64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 padded to 32-byte blocks;
plaintext = random(16) ‖ length(4, big-endian) ‖ message ‖ receiveid. The receiveid is the
CorpID for app callbacks and empty for an internal AI bot. WeCom documents no timestamp
window, so we add ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from api.chat.core import NotConfigured, SignatureError, check_window, equal, parse_timestamp

BLOCK = 32


class WeComCrypto:
    def __init__(self, token: str, aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(aes_key) != 43 or len(key) != 32:
            raise NotConfigured(
                "the WeCom EncodingAESKey must be the 43 characters shown in the admin console"
            )
        self.token = token
        self.key = key
        self.receive_id = receive_id

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return hashlib.sha1(
            "".join(sorted([self.token, timestamp, nonce, encrypt])).encode()
        ).hexdigest()

    def check(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        encrypt: str,
        now: float,
        window_s: float,
    ) -> None:
        if not msg_signature or nonce is None or len(nonce) > 64 or len(msg_signature) > 64:
            raise SignatureError("missing msg_signature, timestamp or nonce")
        check_window(parse_timestamp(timestamp), now, window_s)
        if not equal(msg_signature, self.signature(timestamp, nonce, encrypt)):  # type: ignore[arg-type]
            raise SignatureError("WeCom msg_signature does not match")

    def decrypt(self, encrypt: str) -> bytes:
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("encrypted message is not base64") from None
        if not data or len(data) % 16:
            raise SignatureError("encrypted message has a bad length")
        d = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = d.update(data) + d.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise SignatureError("bad padding: wrong EncodingAESKey?")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise SignatureError("decrypted message too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise SignatureError("decrypted message has a bad length")
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if not equal(receive_id, self.receive_id.encode()):
            raise SignatureError("message is for another receiver (CorpID)")
        return message

    def encrypt(self, message: bytes, random16: bytes | None = None) -> str:
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(message)) + message
        plain += self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        e = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(e.update(plain) + e.finalize()).decode()

    def open(
        self,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        encrypt: str,
        now: float,
        window_s: float,
    ) -> bytes:
        """Check the signature and the window, then decrypt: the one entry point of a request."""
        self.check(msg_signature, timestamp, nonce, encrypt, now, window_s)
        return self.decrypt(encrypt)

    def seal(self, message: bytes, timestamp: str, nonce: str) -> dict[str, str]:
        """An encrypted passive reply (AI bot JSON form)."""
        encrypt = self.encrypt(message)
        return {
            "encrypt": encrypt,
            "msgsignature": self.signature(timestamp, nonce, encrypt),
            "timestamp": timestamp,
            "nonce": nonce,
        }
