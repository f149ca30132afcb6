"""``Annotated`` dependency aliases: what a route needs, built once in the lifespan.

A route says ``kb: KBDep`` or ``user: InspectorUser`` and FastAPI hands it the part kept on
``app.state`` (or refuses the request with 401/403/429 in the one error shape).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import KeyStore, Principal, RateLimiter, local_principal, role_allows
from api.config import ApiSettings
from api.errors import ApiError
from api.feedback import FeedbackStore
from api.uploads import Uploads
from assistant.answer import Assistant
from assistant.inspections import Inspections
from ingest.kb import KnowledgeBase
from ingest.settings import Settings


def _state(request: Request, name: str):
    return getattr(request.app.state, name)


def get_settings(request: Request) -> Settings:
    return _state(request, "settings")


def get_api_settings(request: Request) -> ApiSettings:
    return _state(request, "api_settings")


def get_kb(request: Request) -> KnowledgeBase:
    return _state(request, "kb")


def get_assistant(request: Request) -> Assistant:
    return _state(request, "assistant")


def get_inspections(request: Request) -> Inspections:
    return _state(request, "inspections")


def get_feedback(request: Request) -> FeedbackStore:
    return _state(request, "feedback")


def get_uploads(request: Request) -> Uploads:
    return _state(request, "uploads")


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


def current_user(request: Request) -> Principal:
    """The key's holder; the local user when no key exists; 401 otherwise. Then the rate limit.

    Without any active key, a key that was never issued is ignored rather than refused: chat
    front ends always send one ("sk-none"), and a keyless service is open on loopback anyway.
    A revoked key is always refused."""
    keys: KeyStore = _state(request, "keys")
    api: ApiSettings = _state(request, "api_settings")
    token = _presented_key(request)
    user = keys.authenticate(token, api.rate_limit_per_minute) if token else None
    if user is None:
        if token and (keys.active_count() or keys.is_revoked(token)):
            raise ApiError(
                401,
                "unknown or revoked API key; ask an admin for a key ('anquan keys create')",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if keys.active_count():
            raise ApiError(
                401,
                "an API key is required: send 'Authorization: Bearer <key>' (or 'X-API-Key: "
                "<key>'); an admin makes one with 'anquan keys create --name NAME --role reader'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        user = local_principal(api.local_rate_limit_per_minute)
    limiter: RateLimiter = _state(request, "limiter")
    wait = limiter.take(user.key_id, user.rate_per_minute)
    if wait:
        raise ApiError(
            429,
            f"rate limit of {user.rate_per_minute} requests a minute reached for this key; "
            f"try again in {RateLimiter.retry_after(wait)} s",
            details={"limit_per_minute": user.rate_per_minute, "retry_after_s": round(wait, 2)},
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
    return user


def require(role: str):
    def check(user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not role_allows(user.role, role):
            raise ApiError(
                403,
                f"this needs the {role} role; the key {user.key_id} ({user.name}) is a {user.role}",
                details={"needed": role, "role": user.role},
            )
        return user

    check.__name__ = f"require_{role}"
    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
ApiSettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]
KBDep = Annotated[KnowledgeBase, Depends(get_kb)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
InspectionsDep = Annotated[Inspections, Depends(get_inspections)]
FeedbackDep = Annotated[FeedbackStore, Depends(get_feedback)]
UploadsDep = Annotated[Uploads, Depends(get_uploads)]

CurrentUser = Annotated[Principal, Depends(require("reader"))]
InspectorUser = Annotated[Principal, Depends(require("inspector"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]
