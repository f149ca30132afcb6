"""``POST /v1/checklists``: a checklist drafted from the rules, every item cited to its clause.

The format comes from ``?format=`` (md, json, csv, html) or else the ``Accept`` header
(``text/markdown``, ``application/json``, ``text/csv``, ``text/html``); JSON when neither says.
JSON is the published checklist shape, the one ``POST /v1/inspections`` takes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import AssistantDep, CurrentUser, KBDep
from assistant.checklist import draft_checklist
from assistant.checklist_render import FORMATS, render
from assistant.llm import LLMUnavailable
from ingest.errors import ConfigError

router = APIRouter(prefix="/v1", tags=["checklists"])

MEDIA_TYPES = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
_ACCEPT = (
    ("text/markdown", "md"),
    ("text/csv", "csv"),
    ("text/html", "html"),
    ("application/json", "json"),
)


class ChecklistBody(BaseModel):
    industry: str = Field(min_length=1, max_length=100, examples=["construction"])
    topic: str = Field(min_length=1, max_length=300, examples=["scaffolds"])
    jurisdiction: str | None = Field(None, max_length=20, examples=["US"])
    lang: Literal["zh", "en"] | None = None
    max_items: int = Field(40, ge=1, le=200)
    mandatory_only: bool = False
    lessons: bool = True
    llm: Literal["extractive", "local", "openai"] | None = Field(
        None, description="a model that may reword the questions (default: by rule)"
    )
    site: str = Field("", max_length=200)
    area: str = Field("", max_length=200)
    date: str = Field("", max_length=20)
    inspector: str = Field("", max_length=200)


def choose_format(fmt: str | None, accept: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}. Available: {', '.join(FORMATS)}")
        return fmt
    for media, name in _ACCEPT:
        if media in (accept or ""):
            return name
    return "json"


def attachment(filename: str) -> str:
    """A Content-Disposition that keeps a Chinese file name (RFC 6266/5987)."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "checklist"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@router.post(
    "/checklists",
    summary="Draft an inspection checklist with clause citations",
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}},
)
def make_checklist(
    body: ChecklistBody,
    kb: KBDep,
    assistant: AssistantDep,
    user: CurrentUser,
    format: Annotated[str | None, Query(description="md, json, csv or html")] = None,
    download: Annotated[bool, Query(description="send as a file to save")] = False,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    fmt = choose_format(format, accept)
    rephrase = None
    if body.llm and body.llm != "extractive":
        try:
            model = assistant.chat_model(body.llm)
        except LLMUnavailable:
            model = None  # the questions are made by rule; the basis never depends on a model
        if model is not None:

            def rephrase(prompt: str, model=model) -> str:
                reply = model.invoke(prompt)
                return str(getattr(reply, "content", reply))

    checklist = draft_checklist(
        kb,
        body.industry,
        body.topic,
        body.jurisdiction,
        body.lang,
        max_items=body.max_items,
        mandatory_only=body.mandatory_only,
        lessons=body.lessons,
        rephrase=rephrase,
    )
    headers = {"X-Checklist-Items": str(len(checklist.items))}
    if download:
        stem = re.sub(r"[\\/:*?\"<>|\s]+", "_", checklist.title).strip("_")[:80] or "checklist"
        headers["Content-Disposition"] = attachment(f"{stem}.{fmt}")
    if fmt == "json":
        return JSONResponse(checklist.to_dict(), headers=headers)
    header = {"site": body.site, "area": body.area, "date": body.date, "inspector": body.inspector}
    text = render(checklist, fmt, header=header)
    if fmt == "csv":
        text = "\ufeff" + text  # Excel opens UTF-8 CSV with Chinese correctly only with a BOM
    return Response(text, media_type=MEDIA_TYPES[fmt], headers=headers)
