"""One JSON error shape for the whole API: ``{"error": {"code", "message", "details"}}``.

Every failure, whether raised here (:class:`ApiError`), by the layers below (the
:class:`~ingest.errors.AnquanError` tree), by FastAPI's request validation or by Starlette's
routing (unknown path, wrong method), leaves through :func:`install_error_handlers` in that
shape, with the status that belongs to it::

    400 bad_request          a setting, filter, format or field value the layers below refuse
    401 unauthorized         no API key, or an unknown or revoked one
    403 forbidden            the key's role may not do this
    404 not_found            no such route, document, job, inspection, answer or model
    405 method_not_allowed
    409 conflict             already exists, or signed and immutable
    413 too_large            an upload over the size limit
    415 unsupported_media_type  a file type the loaders cannot read
    422 invalid_request      the body or query does not match the schema (``details.errors``)
    429 rate_limited         too many requests for this key (``Retry-After`` header)
    500 internal_error       a bug; the message says where to look
    503 unavailable          the knowledge base or a model is not usable yet
    503 vector_store_unavailable  the Chroma server does not answer (``Retry-After`` header)
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.inspections import (
    RecordNotFound,
    RecordsError,
    SignatureError,
    SignedInspectionError,
)
from ingest.errors import (
    AnquanError,
    ConfigError,
    FileTooLarge,
    IngestError,
    UnsupportedFormat,
    VectorStoreUnavailable,
)

log = logging.getLogger(__name__)

#: seconds a client should wait before retrying when the vector store is down
VECTOR_STORE_RETRY_AFTER_S = 5

#: the code each HTTP status gets when nothing more specific was given
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status, raised by routes and dependencies."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.details = details or {}
        self.headers = headers


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content=jsonable_encoder(
            error_body(code or STATUS_CODES.get(status, "error"), message, details)
        ),
        headers=headers,
    )


def status_of(exc: AnquanError) -> tuple[int, str]:
    """The HTTP status and code for an exception of the layers below."""
    if isinstance(exc, RecordNotFound):
        return 404, "not_found"
    if isinstance(exc, SignedInspectionError):
        return 409, "signed"
    if isinstance(exc, SignatureError):
        return 409, "cannot_sign"
    if isinstance(exc, RecordsError):
        return 409, "conflict"
    if isinstance(exc, FileTooLarge):
        return 413, "too_large"
    if isinstance(exc, UnsupportedFormat):
        return 415, "unsupported_media_type"
    if isinstance(exc, IngestError):
        return 422, exc.code
    if isinstance(exc, ConfigError):
        return 400, "bad_request"
    if isinstance(exc, VectorStoreUnavailable):
        return 503, "vector_store_unavailable"
    return 503, "unavailable"


def _validation_details(exc: RequestValidationError) -> dict[str, Any]:
    errors = []
    for err in exc.errors():
        errors.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return {"errors": errors}


def _validation_message(details: dict[str, Any]) -> str:
    parts = []
    for err in details["errors"][:5]:
        where = ".".join(p for p in err["loc"] if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {err['msg']}")
    more = len(details["errors"]) - 5
    return "invalid request: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.details, exc.headers)

    @app.exception_handler(AnquanError)
    async def _anquan_error(request: Request, exc: AnquanError) -> JSONResponse:
        status, code = status_of(exc)
        headers = None
        if isinstance(exc, VectorStoreUnavailable):
            headers = {"Retry-After": str(VECTOR_STORE_RETRY_AFTER_S)}
            log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, str(exc), code, {"type": type(exc).__name__}, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        return error_response(422, _validation_message(details), "invalid_request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; the API is listed at /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        else:
            message = str(exc.detail)
        return error_response(
            exc.status_code, message, headers=getattr(exc, "headers", None) or None
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(
            500,
            f"internal error ({type(exc).__name__}); the service log has the traceback",
            "internal_error",
        )
