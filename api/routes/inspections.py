"""Inspections over HTTP: the operations of :class:`assistant.inspections.Inspections`.

Reading needs a reader key; starting, recording, signing, closing hazards and planning need an
inspector (or admin) key. A signed version is immutable (409 ``signed``): record with
``amend_reason`` to make a new version, as the command line's ``--amend`` does.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.auth import Principal
from api.cmd_inspect import export_record
from api.deps import CurrentUser, InspectionsDep, InspectorUser
from api.routes.checklists import MEDIA_TYPES, attachment
from assistant.checklist import Checklist
from ingest.errors import ConfigError

router = APIRouter(prefix="/v1", tags=["inspections"])


def _actor(user: Principal, given: str | None) -> str | None:
    """Who did it, for the audit trail: as given, else the key's holder (None: the inspector)."""
    if given and given.strip():
        return given.strip()
    return None if user.local else f"{user.name} ({user.key_id})"


class StartBody(BaseModel):
    checklist: dict[str, Any] | None = Field(
        None, description="a checklist as POST /v1/checklists returns it (JSON)"
    )
    checklist_id: str | None = Field(None, description="or a stored checklist id (CK-…)")
    site: str = Field(min_length=1, max_length=200)
    area: str = Field("", max_length=200)
    inspector: str = Field(min_length=1, max_length=200, description="who checks, and signs")
    date: str | None = Field(None, description="YYYY-MM-DD, default today")


def _checklist_arg(body: StartBody | PlanBody) -> Checklist | str:
    if body.checklist is not None:
        return Checklist.from_dict(body.checklist)
    if body.checklist_id:
        return body.checklist_id
    raise ConfigError("give the checklist (JSON from POST /v1/checklists) or a checklist_id")


@router.get("/inspections", summary="Inspections, latest version of each")
def list_inspections(
    store: InspectionsDep, user: CurrentUser, site: str | None = None
) -> dict[str, Any]:
    return {"inspections": store.list_inspections(site)}


@router.post("/inspections", status_code=201, summary="Start an inspection from a checklist")
def start_inspection(body: StartBody, store: InspectionsDep, user: InspectorUser) -> dict[str, Any]:
    ref = store.start(
        _checklist_arg(body),
        site=body.site,
        inspector=body.inspector,
        area=body.area,
        on=body.date,
        by=_actor(user, None),
    )
    return store.show(ref.inspection_id)


@router.get("/inspections/due", summary="Inspections due, and corrective actions past due")
def due(
    store: InspectionsDep,
    user: CurrentUser,
    today: Annotated[date | None, Query(description="as of this date (default today)")] = None,
    within: Annotated[int, Query(ge=0, le=366)] = 0,
) -> dict[str, Any]:
    return store.due(today=today, within_days=within)


@router.get("/inspections/{inspection_id}", summary="One inspection: items, results, hazards")
def show(
    inspection_id: str,
    store: InspectionsDep,
    user: CurrentUser,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    return store.show(inspection_id, version)


@router.get("/inspections/{inspection_id}/audit", summary="The audit trail of an inspection")
def audit(inspection_id: str, store: InspectionsDep, user: CurrentUser) -> dict[str, Any]:
    store.show(inspection_id)  # 404 for an unknown id
    return {"inspection_id": inspection_id, "audit": store.audit(inspection_id)}


@router.get(
    "/inspections/{inspection_id}/export",
    summary="The record as json, md, csv or printable html",
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}},
)
def export(
    inspection_id: str,
    store: InspectionsDep,
    user: CurrentUser,
    format: Literal["json", "md", "csv", "html"] = "html",
    version: Annotated[int | None, Query(ge=1)] = None,
    download: bool = False,
) -> Response:
    text = export_record(store, inspection_id, version, format)
    if format == "csv":
        text = "\ufeff" + text
    headers = {}
    if download:
        headers["Content-Disposition"] = attachment(f"{inspection_id}.{format}")
    return Response(text, media_type=MEDIA_TYPES[format], headers=headers)


class RecordBody(BaseModel):
    result: Literal["pass", "fail", "na"]
    note: str = Field("", max_length=4000)
    grade: Literal["general", "major"] | None = Field(None, description="for a fail: 一般/重大")
    hazard: str | None = Field(None, max_length=2000, description="for a fail (default: the note)")
    action: str | None = Field(None, max_length=2000, description="corrective action")
    owner: str | None = Field(None, max_length=200, description="who corrects it")
    due: str | None = Field(None, description="correction due date YYYY-MM-DD")
    by: str | None = Field(None, max_length=200, description="who records (default the inspector)")
    amend_reason: str | None = Field(
        None,
        max_length=2000,
        description="the inspection is signed: a new version, for this reason",
    )


@router.post(
    "/inspections/{inspection_id}/items/{item_id}",
    summary="Record one item: pass, fail (raises a hazard) or na",
)
def record(
    inspection_id: str,
    item_id: str,
    body: RecordBody,
    store: InspectionsDep,
    user: InspectorUser,
) -> dict[str, Any]:
    return store.record(
        inspection_id,
        item_id,
        body.result,
        note=body.note,
        grade=body.grade,
        hazard=body.hazard,
        action=body.action,
        owner=body.owner,
        due=body.due,
        by=_actor(user, body.by),
        amend_reason=body.amend_reason,
    )


class SignBody(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="the inspector's name, as given")
    allow_incomplete: bool = False


@router.post("/inspections/{inspection_id}/sign", summary="The inspector signs")
def sign(
    inspection_id: str, body: SignBody, store: InspectionsDep, user: InspectorUser
) -> dict[str, Any]:
    return store.sign(inspection_id, body.name, allow_incomplete=body.allow_incomplete)


@router.get("/hazards", summary="Hazards (隐患) with their corrective actions")
def hazards(
    store: InspectionsDep,
    user: CurrentUser,
    status: Literal["open", "closed", "withdrawn"] | None = None,
    inspection_id: str | None = None,
) -> dict[str, Any]:
    return {"hazards": store.hazards(status=status, inspection_id=inspection_id)}


class CloseBody(BaseModel):
    by: str = Field(min_length=1, max_length=200, description="who re-inspects")
    result: Literal["pass", "fail"] = "pass"
    note: str = Field("", max_length=4000)


@router.post("/hazards/{hazard_id}/close", summary="Re-inspect a hazard: pass closes it")
def close_hazard(
    hazard_id: str, body: CloseBody, store: InspectionsDep, user: InspectorUser
) -> dict[str, Any]:
    return store.close_hazard(hazard_id, by=body.by, result=body.result, note=body.note)


class PlanBody(BaseModel):
    site: str = Field(min_length=1, max_length=200)
    area: str = Field("", max_length=200)
    checklist: dict[str, Any] | None = None
    checklist_id: str | None = None
    frequency: str = Field(min_length=1, max_length=40, examples=["weekly", "monthly", "10d"])
    start: str | None = Field(None, description="first due date YYYY-MM-DD (default today)")
    owner: str | None = Field(None, max_length=200)


@router.get("/inspection-plans", summary="Routine inspection plans")
def plans(store: InspectionsDep, user: CurrentUser) -> dict[str, Any]:
    return {"plans": store.plans()}


@router.post("/inspection-plans", status_code=201, summary="Plan routine inspections of a site")
def add_plan(body: PlanBody, store: InspectionsDep, user: InspectorUser) -> dict[str, Any]:
    plan_id = store.add_plan(
        body.site,
        _checklist_arg(body),
        body.frequency,
        area=body.area,
        start=body.start,
        owner=body.owner,
        by=_actor(user, body.owner) or "local user",
    )
    return {"plan_id": plan_id}
