"""Bot Framework tokens: ``Authorization: Bearer`` RS256 JWT, ``iss`` one of the configured
issuers, ``aud`` our app id, signed by a key from the configured JWKS (the Bot Framework
OpenID keys by default; tests serve a loopback JWKS), 5 minutes of clock skew against the
injected clock, and a ``serviceurl`` claim equal to the activity's ``serviceUrl``. A key that
lists endorsements must endorse the activity's channel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import jwt

from api.chat.core import Clock, SignatureError, StaleRequest

SKEW_S = 300.0


class Jwks:
    """Signing keys by ``kid``, fetched on first use and again when a token names an unknown
    key (at most every ``min_refresh_s``, so random kids cannot make us hammer the endpoint)."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        clock: Clock,
        ttl_s: float = 86400.0,
        min_refresh_s: float = 300.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._ttl = ttl_s
        self._min_refresh = min_refresh_s
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> dict[str, Any] | None:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > self._ttl
            may_refresh = self._fetched_at is None or now - self._fetched_at > self._min_refresh
            if stale or (kid not in self._keys and may_refresh):
                try:
                    data = self._fetch()
                except Exception as exc:
                    raise SignatureError(
                        f"signing keys could not be fetched ({type(exc).__name__})"
                    ) from None
                keys = data.get("keys") if isinstance(data, dict) else None
                if isinstance(keys, list):
                    self._keys = {
                        k["kid"]: k
                        for k in keys
                        if isinstance(k, dict) and isinstance(k.get("kid"), str)
                    }
                self._fetched_at = now
            return self._keys.get(kid)


def bearer(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or len(header) > 8192:
        raise SignatureError("missing or malformed Authorization: Bearer token")
    return header[len("Bearer ") :].strip()


def verify(
    authorization: str | None,
    activity: dict[str, Any],
    app_id: str,
    issuers: list[str],
    jwks: Jwks,
    now: float,
    skew_s: float = SKEW_S,
) -> dict[str, Any]:
    """The token's claims when it is valid for this activity; :class:`SignatureError` otherwise."""
    token = bearer(authorization)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise SignatureError("token is not a JWT") from None
    if header.get("alg") != "RS256":
        raise SignatureError("token must be signed with RS256")
    kid = header.get("kid")
    jwk = jwks.key(kid) if isinstance(kid, str) and kid else None
    if jwk is None:
        raise SignatureError("token signed by an unknown key")
    endorsements = jwk.get("endorsements")
    if isinstance(endorsements, list) and activity.get("channelId") not in endorsements:
        raise SignatureError("signing key does not endorse this channel")
    try:
        key = jwt.PyJWK(jwk, algorithm="RS256").key
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=app_id,
            issuer=issuers,
            options={
                "verify_exp": False,  # checked below against the injected clock
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "iss", "aud"],
            },
        )
    except jwt.PyJWTError as exc:
        raise SignatureError(f"token rejected: {type(exc).__name__}") from None
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or now > exp + skew_s:
        raise StaleRequest("token expired")
    if isinstance(nbf, int | float) and now < nbf - skew_s:
        raise StaleRequest("token not valid yet")
    service_url = claims.get("serviceurl", claims.get("serviceUrl"))
    if not isinstance(service_url, str) or service_url != activity.get("serviceUrl"):
        raise SignatureError("the token's serviceurl does not match the activity's serviceUrl")
    return claims
