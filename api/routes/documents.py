"""The document library: list, upload (ingested in the background), status, delete.

An upload is the file itself as the request body (``Content-Type: application/octet-stream``,
name in ``?filename=`` or ``X-Filename``) or a ``multipart/form-data`` form with a ``file``
field, as a browser form sends it. Metadata (``doc_type``, ``jurisdiction``, ``industries``
as ``a;b``, ``language``, ``title``, ``issuer``, ``effective_date``) comes as query parameters
or form fields. The reply (202) names a job to poll at ``/v1/documents/jobs/{job_id}``.
"""

from __future__ import annotations

import email.parser
import email.policy
import os
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import AdminUser, ApiSettingsDep, CurrentUser, KBDep, SettingsDep, UploadsDep
from api.errors import ApiError
from api.uploads import META_FIELDS, check_extension, sanitise_filename
from ingest.corpus import ROOT_SKIP
from ingest.errors import ConfigError, FileTooLarge

router = APIRouter(prefix="/v1/documents", tags=["documents"])


def _doc_dict(doc, uploads) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "title": doc.title,
        "doc_type": doc.doc_type,
        "jurisdiction": doc.jurisdiction,
        "language": doc.language,
        "chunks": doc.chunk_count,
        "content_hash": doc.content_hash,
        "ingested_at": doc.ingested_at,
        "uploaded": uploads.is_upload(doc.path),
    }


@router.get("", summary="Documents in the knowledge base, failed files and upload jobs")
def list_documents(kb: KBDep, uploads: UploadsDep, user: CurrentUser) -> dict[str, Any]:
    docs = [_doc_dict(d, uploads) for d in kb.registry.documents()]
    failures = [{"source": s, "code": c, "reason": m} for s, c, m in kb.registry.failures()]
    jobs = sorted(uploads.jobs.values(), key=lambda j: -j.created_at)
    return {
        "documents": docs,
        "failures": failures,
        "jobs": [j.to_dict() for j in jobs[:50]],
        "counts": {"documents": len(docs), "chunks": kb.registry.chunk_count()},
    }


@router.get("/jobs/{job_id}", summary="Status of an upload's ingest")
def job_status(job_id: str, uploads: UploadsDep, user: CurrentUser) -> dict[str, Any]:
    job = uploads.jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"no upload job {job_id!r} (the last 500 finished jobs are kept)")
    return job.to_dict()


def _limit(settings, api) -> int:
    return int(api.upload_max_mb * 1024 * 1024) if api.upload_max_mb else settings.max_file_bytes


def _too_large(limit: int) -> FileTooLarge:
    return FileTooLarge(
        f"the upload is over the limit of {limit / 1e6:.1f} MB: split the document, or raise "
        "ANQUAN_MAX_FILE_MB (or ANQUAN_API_UPLOAD_MAX_MB)"
    )


def _parse_multipart(raw: Path, content_type: str) -> tuple[str, Path, dict[str, str]]:
    """The ``file`` field (name and content, written next to ``raw``) and the other fields."""
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    with raw.open("rb") as fh:
        msg = parser.parsebytes(
            f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + fh.read()
        )
    if not msg.is_multipart():
        raise ConfigError("the multipart body could not be read; send a form with a 'file' field")
    fields: dict[str, str] = {}
    name, content = None, None
    for part in msg.iter_parts():
        field = part.get_param("name", header="content-disposition")
        if not field:
            continue
        raw_payload = part.get_payload(decode=True)
        payload = raw_payload if isinstance(raw_payload, bytes) else b""
        if field == "file":
            name = part.get_filename() or ""
            content = payload
        else:
            fields[str(field)] = payload.decode("utf-8", "replace")
    if content is None or name is None:
        raise ConfigError("the form has no 'file' field; send the document as 'file'")
    out = raw.with_name(raw.name + ".file")
    out.write_bytes(content)
    raw.unlink()
    return name, out, fields


@router.post(
    "",
    status_code=202,
    summary="Upload a document; it is ingested in the background",
    responses={
        202: {"description": "queued; poll status_url"},
        409: {"description": "the same name is being ingested, or exists (use replace=true)"},
        413: {"description": "over the size limit"},
        415: {"description": "a file type the loaders cannot read"},
    },
)
async def upload(
    request: Request,
    kb: KBDep,
    uploads: UploadsDep,
    settings: SettingsDep,
    api: ApiSettingsDep,
    user: AdminUser,
    filename: Annotated[str | None, Query(max_length=300)] = None,
    replace: Annotated[bool, Query(description="replace a document of the same name")] = False,
    doc_type: str | None = None,
    jurisdiction: str | None = None,
    industries: Annotated[str | None, Query(description="semicolon-separated")] = None,
    language: str | None = None,
    title: str | None = None,
    issuer: str | None = None,
    effective_date: str | None = None,
) -> JSONResponse:
    limit = _limit(settings, api)
    content_type = request.headers.get("content-type", "")
    multipart = content_type.lower().startswith("multipart/form-data")
    slack = 64 * 1024 if multipart else 0  # the form's own bytes around the file
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + slack:
        raise _too_large(limit)
    name = filename or unquote(request.headers.get("x-filename", ""))
    if not multipart:
        if not name:
            raise ConfigError("name the file: ?filename=rules.pdf (or an X-Filename header)")
        check_extension(sanitise_filename(name))  # refuse a bad type before reading the body

    tmp = uploads.folder / f".upload-{secrets.token_hex(6)}.part"
    size = 0
    try:
        with tmp.open("wb") as fh:
            async for block in request.stream():
                size += len(block)
                if size > limit + slack:
                    raise _too_large(limit)
                fh.write(block)
        fields: dict[str, str] = {}
        if multipart:
            name, tmp, fields = await run_in_threadpool(_parse_multipart, tmp, content_type)
            if tmp.stat().st_size > limit:
                raise _too_large(limit)
        if tmp.stat().st_size == 0:
            raise ConfigError("the upload is empty; send the file's content")
        safe = sanitise_filename(name)
        check_extension(safe)
        if safe.lower() in ROOT_SKIP:
            raise ConfigError(f"{safe!r} is a reserved name in the uploads folder; rename the file")
        if uploads.busy(safe):
            raise ApiError(
                409,
                f"{safe} is being ingested already; wait for its job to finish",
                "conflict",
                details={"source": safe},
            )
        existing = kb.registry.document(safe)
        if existing is not None and not replace:
            raise ApiError(
                409,
                f"a document named {safe} exists already; send replace=true to replace it",
                "conflict",
                details={"source": safe, "doc_id": existing.doc_id},
            )
        query = {
            "doc_type": doc_type,
            "jurisdiction": jurisdiction,
            "industries": industries,
            "language": language,
            "title": title,
            "issuer": issuer,
            "effective_date": effective_date,
        }
        meta = {k: (query.get(k) or fields.get(k) or "").strip() for k in META_FIELDS}
        job = uploads.submit(safe, tmp, meta)
    finally:
        if tmp.exists():
            os.unlink(tmp)
    return JSONResponse(
        {**job.to_dict(), "size": size, "original_name": name},
        status_code=202,
        headers={"Location": f"/v1/documents/jobs/{job.job_id}"},
    )


@router.get("/{doc_id:path}", summary="One document (by id or source) and its clauses")
def get_document(doc_id: str, kb: KBDep, uploads: UploadsDep, user: CurrentUser) -> dict[str, Any]:
    doc = kb.registry.document(doc_id)
    if doc is None:
        raise ApiError(404, f"no document {doc_id!r}; list them at GET /v1/documents")
    chunks = kb.registry.document_chunks(doc.doc_id)
    return {
        **_doc_dict(doc, uploads),
        "clauses": [
            {"locator": c.locator, "page": c.page, "heading_path": c.heading_path} for c in chunks
        ],
    }


@router.delete("/{doc_id:path}", summary="Delete a document and its chunks")
def delete_document(doc_id: str, kb: KBDep, uploads: UploadsDep, user: AdminUser) -> dict[str, Any]:
    doc = kb.registry.document(doc_id)
    if doc is None:
        raise ApiError(404, f"no document {doc_id!r}; list them at GET /v1/documents")
    if uploads.busy(doc.source):
        raise ApiError(409, f"{doc.source} is being ingested; delete it when its job has finished")
    removed = kb.remove_document(doc.doc_id)
    file_removed = uploads.is_upload(doc.path) and uploads.forget(doc.source)
    uploads.settle_vectors_later()
    kb.lexical()
    return {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "chunks_removed": removed,
        "file_removed": bool(file_removed),
        "note": None
        if file_removed
        else "the file itself stays in its corpus folder; 'anquan ingest' would add it again",
    }
