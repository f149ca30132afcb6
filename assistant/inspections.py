"""Inspections: who checked what, what they found, who signed, and what was fixed.

Safety inspection should be done by people who answer for it: "who checks, who signs, who is
responsible". An inspection starts from a checklist (site, area, inspector, date); each item is
recorded as pass / fail / not applicable with a note and photos; a failed item becomes a hazard
(隐患) with a grade (general / major) and a corrective action with an owner and a due date,
closed only after a re-inspection passes.

**Sign-off**: the inspector signs with their name; the time and a sha256 hash over a canonical
JSON of the whole record (header, every item with its question, basis and result, photo hashes,
signer and time) are kept. A signed version is immutable: writes raise
:class:`SignedInspectionError` (and database triggers refuse them too). A later change is a new
version (``amend``), and every change, by whom and when, goes to the append-only audit trail.

**Routine**: plans per site and checklist with a frequency; :meth:`Inspections.due` lists the
inspections due or overdue and the open corrective actions past their due date. The clock is
injected, so tests can move time.

The records live in :class:`~assistant.records_db.RecordsDB`: SQLite by default, PostgreSQL when
``ANQUAN_RECORDS_URL`` names one; the SQL here is written once for both (see that module).

Errors::

    AnquanError
     ├── RecordsError                  an inspection record cannot be written or read as asked
     │    ├── RecordNotFound           no such inspection, checklist, hazard or plan
     │    ├── ImmutableRecordError     a database trigger refused the write (either backend)
     │    │    └── SignedInspectionError   the version is signed; amend to change it
     │    └── SignatureError           cannot sign (wrong signer, items missing) or hash mismatch
     └── RecordsUnavailable            the PostgreSQL server cannot be reached (HTTP 503)
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.checklist import Checklist, canonical_json
from assistant.records_db import (
    APPEND_ONLY_MESSAGE,
    SIGNED_MESSAGE,
    ImmutableRecordError,
    RecordsDB,
    RecordsError,
    SignedInspectionError,
    next_id,
    utc_now,
)
from ingest.errors import ConfigError

RESULTS = ("pass", "fail", "na")
GRADES = ("general", "major")
Clock = Callable[[], datetime]


class RecordNotFound(RecordsError, LookupError):
    pass


class SignatureError(RecordsError):
    """Signing is refused (wrong signer, unrecorded items) or a signed hash does not verify."""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(utc_now().tzinfo).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: str | date | None, what: str = "date") -> str:
    if value is None or value == "":
        raise ConfigError(f"{what} is missing; give it as YYYY-MM-DD")
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ConfigError(
            f"{what} {value!r} is not a date; give it as YYYY-MM-DD, e.g. 2025-03-31"
        ) from None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def checklist_id(checklist: Checklist) -> tuple[str, str]:
    """Content-addressed: the same checklist always gets the same id."""
    digest = hashlib.sha256(canonical_json(checklist.to_dict()).encode("utf-8")).hexdigest()
    return f"CK-{digest[:10]}", digest


# -- frequencies -------------------------------------------------------------------------------
_FREQ_WORDS = {
    "daily": (1, "d"), "每日": (1, "d"), "每天": (1, "d"),
    "weekly": (7, "d"), "每周": (7, "d"),
    "fortnightly": (14, "d"), "biweekly": (14, "d"), "每两周": (14, "d"),
    "monthly": (1, "m"), "每月": (1, "m"),
    "quarterly": (3, "m"), "每季度": (3, "m"),
    "half-yearly": (6, "m"), "semiannual": (6, "m"), "每半年": (6, "m"),
    "yearly": (12, "m"), "annual": (12, "m"), "annually": (12, "m"), "每年": (12, "m"),
}  # fmt: skip


def parse_frequency(freq: str) -> tuple[int, str]:
    """``weekly`` → (7, "d"); ``monthly`` → (1, "m"); ``10d``, ``2w``, ``3m``, ``1y`` too."""
    key = freq.strip().lower()
    if key in _FREQ_WORDS:
        return _FREQ_WORDS[key]
    m = re.fullmatch(r"(\d+)\s*([dwmy])", key)
    if m and int(m.group(1)) > 0:
        n, unit = int(m.group(1)), m.group(2)
        return {"d": (n, "d"), "w": (7 * n, "d"), "m": (n, "m"), "y": (12 * n, "m")}[unit]
    raise ConfigError(
        f"frequency {freq!r} not understood. Use daily, weekly, fortnightly, monthly, quarterly, "
        "half-yearly, yearly, or a count such as 10d, 2w, 3m, 1y"
    )


def add_period(start: date, freq: str) -> date:
    n, unit = parse_frequency(freq)
    if unit == "d":
        return start + timedelta(days=n)
    month = start.month - 1 + n
    year, month = start.year + month // 12, month % 12 + 1
    days_in = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return date(year, month, min(start.day, days_in))


@dataclass
class InspectionRef:
    inspection_id: str
    version: int


class Inspections:
    """The records of inspections, on :class:`RecordsDB`. ``data_dir`` holds the photos.

    ``db`` is a SQLite path or a URL (``sqlite:///path``, ``postgresql://…``)."""

    def __init__(self, db: Path | str, data_dir: Path, clock: Clock | None = None) -> None:
        self.db = RecordsDB(db)
        self.data_dir = data_dir
        self.clock: Clock = clock or utc_now

    @classmethod
    def from_settings(cls, settings: Any, clock: Clock | None = None) -> Inspections:
        """``records_url`` when set (``ANQUAN_RECORDS_URL``), else the SQLite file
        ``records_db`` (default ``<data_dir>/records.sqlite``)."""
        url = getattr(settings, "records_url", None)
        path = getattr(settings, "records_db_path", None) or settings.data_dir / "records.sqlite"
        return cls(url or Path(path), Path(settings.data_dir), clock)

    def close(self) -> None:
        self.db.close()

    def _now(self) -> str:
        return _stamp(self.clock())

    def today(self) -> date:
        return self.clock().date()

    def _audit(
        self,
        db,
        actor: str,
        event: str,
        inspection_id: str | None = None,
        version: int | None = None,
        item_id: str | None = None,
        **detail: Any,
    ) -> None:
        db.execute(
            "INSERT INTO audit (at, actor, action, inspection_id, version, item_id, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._now(), actor, event, inspection_id, version, item_id, canonical_json(detail)),
        )

    # -- checklists ---------------------------------------------------------------------------
    def add_checklist(self, checklist: Checklist, by: str = "system") -> str:
        cid, digest = checklist_id(checklist)
        with self.db.transaction() as db:
            if db.execute("SELECT 1 FROM checklists WHERE checklist_id=?", (cid,)).fetchone():
                return cid
            db.execute(
                "INSERT INTO checklists (checklist_id, title, industry, topic, jurisdiction,"
                " language, body, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    checklist.title,
                    checklist.industry,
                    checklist.topic,
                    checklist.jurisdiction,
                    checklist.language,
                    canonical_json(checklist.to_dict()),
                    digest,
                    self._now(),
                ),
            )
            self._audit(
                db,
                by,
                "checklist.add",
                detail_id=cid,
                title=checklist.title,
                items=len(checklist.items),
            )
        return cid

    def checklist(self, checklist_id: str) -> Checklist:
        row = self.db.one("SELECT body FROM checklists WHERE checklist_id=?", (checklist_id,))
        if row is None:
            raise RecordNotFound(
                f"no checklist {checklist_id!r}. Add one with 'anquan inspect new --checklist FILE.json' "
                "(make the file with 'anquan checklist … --format json')"
            )
        return Checklist.from_dict(json.loads(row["body"]))

    def _resolve_checklist(self, checklist: Checklist | str, by: str) -> str:
        if isinstance(checklist, Checklist):
            return self.add_checklist(checklist, by)
        self.checklist(checklist)  # raises when unknown
        return checklist

    # -- inspections --------------------------------------------------------------------------
    def start(
        self,
        checklist: Checklist | str,
        site: str,
        inspector: str,
        area: str = "",
        on: str | date | None = None,
        by: str | None = None,
    ) -> InspectionRef:
        """Open a new inspection (version 1) of ``site``/``area`` by ``inspector``."""
        if not site.strip():
            raise ConfigError("site is missing: name the site (e.g. the plant or project)")
        if not inspector.strip():
            raise ConfigError("inspector is missing: who checks, signs")
        actor = by or inspector
        cid = self._resolve_checklist(checklist, actor)
        day = parse_date(on or self.today(), "inspection date")
        with self.db.transaction() as db:
            iid = next_id(db, "inspection", "INS")
            db.execute(
                "INSERT INTO inspections (inspection_id, version, checklist_id, site, area, inspector,"
                " date, status, created_at, created_by) VALUES (?, 1, ?, ?, ?, ?, ?, 'open', ?, ?)",
                (iid, cid, site.strip(), area.strip(), inspector.strip(), day, self._now(), actor),
            )
            self._audit(
                db,
                actor,
                "inspection.start",
                iid,
                1,
                checklist_id=cid,
                site=site,
                area=area,
                inspector=inspector,
                date=day,
            )
        return InspectionRef(iid, 1)

    def _header(self, inspection_id: str, version: int | None = None) -> Any:
        if version is None:
            row = self.db.one(
                "SELECT * FROM inspections WHERE inspection_id=? ORDER BY version DESC LIMIT 1",
                (inspection_id,),
            )
        else:
            row = self.db.one(
                "SELECT * FROM inspections WHERE inspection_id=? AND version=?",
                (inspection_id, version),
            )
        if row is None:
            known = "" if version is None else f" version {version}"
            raise RecordNotFound(
                f"no inspection {inspection_id}{known}. List them with 'anquan inspect list'"
            )
        return row

    def versions(self, inspection_id: str) -> list[int]:
        return [
            r["version"]
            for r in self.db.query(
                "SELECT version FROM inspections WHERE inspection_id=? ORDER BY version",
                (inspection_id,),
            )
        ]

    def _signed_error(self, head: Any) -> SignedInspectionError:
        return SignedInspectionError(
            f"{head['inspection_id']} version {head['version']} was signed by {head['signed_by']} "
            f"at {head['signed_at']} and cannot change. To correct it, amend it: "
            f"'anquan inspect record {head['inspection_id']} ITEM --result … --amend \"reason\"' "
            f"creates version {head['version'] + 1} and keeps version {head['version']} as signed"
        )

    def amend(self, inspection_id: str, by: str, reason: str) -> InspectionRef:
        """A new open version copied from the latest signed one; the signed one stays as it is."""
        if not reason.strip():
            raise ConfigError("an amendment needs a reason (what is corrected and why)")
        head = self._header(inspection_id)
        if head["status"] != "signed":
            return InspectionRef(inspection_id, head["version"])
        new = head["version"] + 1
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO inspections (inspection_id, version, checklist_id, site, area, inspector,"
                " date, status, created_at, created_by, based_on, amend_reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)",
                (
                    inspection_id,
                    new,
                    head["checklist_id"],
                    head["site"],
                    head["area"],
                    head["inspector"],
                    head["date"],
                    self._now(),
                    by,
                    head["version"],
                    reason,
                ),
            )
            db.execute(
                "INSERT INTO results (inspection_id, version, item_id, result, note, grade, hazard,"
                " action, owner, due, recorded_at, recorded_by)"
                " SELECT inspection_id, ?, item_id, result, note, grade, hazard, action,"
                " owner, due, recorded_at, recorded_by FROM results WHERE inspection_id=? AND version=?",
                (new, inspection_id, head["version"]),
            )
            db.execute(
                "INSERT INTO photos (inspection_id, version, item_id, sha256, name, path, size,"
                " added_at) SELECT inspection_id, ?, item_id, sha256, name, path, size, added_at"
                " FROM photos WHERE inspection_id=? AND version=?",
                (new, inspection_id, head["version"]),
            )
            self._audit(
                db,
                by,
                "inspection.amend",
                inspection_id,
                new,
                based_on=head["version"],
                reason=reason,
            )
        return InspectionRef(inspection_id, new)

    def record(
        self,
        inspection_id: str,
        item_id: str,
        result: str,
        note: str = "",
        photos: Iterable[str | Path] = (),
        grade: str | None = None,
        hazard: str | None = None,
        action: str | None = None,
        owner: str | None = None,
        due: str | date | None = None,
        by: str | None = None,
        amend_reason: str | None = None,
    ) -> dict[str, Any]:
        """Record one item. A fail raises (or updates) its hazard and corrective action.

        On a signed inspection this raises :class:`SignedInspectionError` unless
        ``amend_reason`` is given, which first makes a new version.
        """
        result = result.strip().lower()
        aliases = {
            "n/a": "na",
            "not applicable": "na",
            "ok": "pass",
            "yes": "pass",
            "no": "fail",
            "符合": "pass",
            "不符合": "fail",
            "不适用": "na",
        }
        result = aliases.get(result, result)
        if result not in RESULTS:
            raise ConfigError(f"result {result!r} is not one of: {', '.join(RESULTS)}")
        head = self._header(inspection_id)
        actor = by or head["inspector"]
        if head["status"] == "signed":
            if not amend_reason:
                raise self._signed_error(head)
            self.amend(inspection_id, actor, amend_reason)
            head = self._header(inspection_id)
        checklist = self.checklist(head["checklist_id"])
        item = checklist.item(item_id)
        if item is None:
            ids = ", ".join(i.id for i in checklist.items[:12])
            raise ConfigError(
                f"checklist has no item {item_id!r}. Items: {ids}{' …' if len(checklist.items) > 12 else ''}"
            )
        if result == "fail":
            grade = (grade or "general").lower()
            if grade in ("一般",):
                grade = "general"
            if grade in ("重大",):
                grade = "major"
            if grade not in GRADES:
                raise ConfigError(
                    f"grade {grade!r} is not one of: {', '.join(GRADES)} (一般 / 重大)"
                )
            hazard = hazard or note or item.question
            action = action or ""
            due_s = parse_date(due, "due date") if due else None
        else:
            grade = hazard = action = owner = due_s = None  # type: ignore[assignment]
        stored = [self._store_photo(Path(p)) for p in photos]
        version = head["version"]
        now = self._now()
        with self.db.transaction() as db:
            before = db.execute(
                "SELECT result, note, grade, hazard, action, owner, due FROM results "
                "WHERE inspection_id=? AND version=? AND item_id=?",
                (inspection_id, version, item.id),
            ).fetchone()
            db.execute(
                "INSERT INTO results (inspection_id, version, item_id, result, note, grade, hazard,"
                " action, owner, due, recorded_at, recorded_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (inspection_id, version, item_id) DO UPDATE SET"
                " result=excluded.result, note=excluded.note, grade=excluded.grade,"
                " hazard=excluded.hazard, action=excluded.action, owner=excluded.owner,"
                " due=excluded.due, recorded_at=excluded.recorded_at,"
                " recorded_by=excluded.recorded_by",
                (
                    inspection_id,
                    version,
                    item.id,
                    result,
                    note,
                    grade,
                    hazard,
                    action,
                    owner,
                    due_s,
                    now,
                    actor,
                ),
            )
            for sha, name, rel, size in stored:
                db.execute(
                    "INSERT INTO photos (inspection_id, version, item_id, sha256, name, path, size,"
                    " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (inspection_id, version, item_id, sha256) DO NOTHING",
                    (inspection_id, version, item.id, sha, name, rel, size, now),
                )
            after = {
                "result": result,
                "note": note,
                "grade": grade,
                "hazard": hazard,
                "action": action,
                "owner": owner,
                "due": due_s,
            }
            self._audit(
                db,
                actor,
                "item.record",
                inspection_id,
                version,
                item.id,
                before=dict(before) if before else None,
                after=after,
                photos=[s[0] for s in stored],
            )
            hazard_id = self._sync_hazard(db, inspection_id, version, item.id, after, actor)
        return {
            "inspection_id": inspection_id,
            "version": version,
            "item_id": item.id,
            "result": result,
            "hazard_id": hazard_id,
            "photos": [s[0] for s in stored],
        }

    def _store_photo(self, path: Path) -> tuple[str, str, str, int]:
        if not path.is_file():
            raise ConfigError(f"photo {path} not found; give the path of an image file")
        sha = sha256_file(path)
        rel = Path("records") / "photos" / sha[:2] / f"{sha}{path.suffix.lower()}"
        dest = self.data_dir / rel
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(dest.suffix + ".tmp")
            shutil.copyfile(path, tmp)
            tmp.replace(dest)
        return sha, path.name, rel.as_posix(), path.stat().st_size

    def _sync_hazard(
        self, db, inspection_id: str, version: int, item_id: str, after: dict[str, Any], actor: str
    ) -> str | None:
        """Keep the hazard register in step with a recorded result."""
        row = db.execute(
            "SELECT * FROM hazards WHERE inspection_id=? AND item_id=?", (inspection_id, item_id)
        ).fetchone()
        if after["result"] != "fail":
            if row is not None and row["status"] == "open":
                db.execute(
                    "UPDATE hazards SET status='withdrawn', closed_at=?, closed_by=? WHERE hazard_id=?",
                    (self._now(), actor, row["hazard_id"]),
                )
                db.execute(
                    "UPDATE corrective_actions SET status='cancelled' WHERE hazard_id=? AND status='open'",
                    (row["hazard_id"],),
                )
                self._audit(
                    db,
                    actor,
                    "hazard.withdraw",
                    inspection_id,
                    version,
                    item_id,
                    hazard_id=row["hazard_id"],
                    because=after["result"],
                )
            return None
        if row is None:
            hid = next_id(db, "hazard", "HZ")
            db.execute(
                "INSERT INTO hazards (hazard_id, inspection_id, item_id, raised_version, grade, description,"
                " status, raised_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
                (
                    hid,
                    inspection_id,
                    item_id,
                    version,
                    after["grade"],
                    after["hazard"],
                    self._now(),
                ),
            )
            self._audit(
                db,
                actor,
                "hazard.raise",
                inspection_id,
                version,
                item_id,
                hazard_id=hid,
                grade=after["grade"],
                description=after["hazard"],
            )
        else:
            hid = row["hazard_id"]
            db.execute(
                "UPDATE hazards SET grade=?, description=?, status='open', closed_at=NULL, closed_by=NULL"
                " WHERE hazard_id=?",
                (after["grade"], after["hazard"], hid),
            )
            if (row["grade"], row["description"], row["status"]) != (
                after["grade"],
                after["hazard"],
                "open",
            ):
                self._audit(
                    db,
                    actor,
                    "hazard.update",
                    inspection_id,
                    version,
                    item_id,
                    hazard_id=hid,
                    before={
                        "grade": row["grade"],
                        "description": row["description"],
                        "status": row["status"],
                    },
                    after={"grade": after["grade"], "description": after["hazard"]},
                )
        action = db.execute(
            "SELECT * FROM corrective_actions WHERE hazard_id=? AND status='open'", (hid,)
        ).fetchone()
        text = after["action"] or (
            "整改" if re.search(r"[\u4e00-\u9fff]", after["hazard"] or "") else "Correct the hazard"
        )
        if action is None:
            aid = next_id(db, "action", "CA")
            db.execute(
                "INSERT INTO corrective_actions (action_id, hazard_id, action, owner, due, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'open', ?)",
                (aid, hid, text, after["owner"], after["due"], self._now()),
            )
            self._audit(
                db,
                actor,
                "action.create",
                inspection_id,
                version,
                item_id,
                action_id=aid,
                hazard_id=hid,
                action=text,
                owner=after["owner"],
                due=after["due"],
            )
        elif (action["action"], action["owner"], action["due"]) != (
            text,
            after["owner"],
            after["due"],
        ):
            db.execute(
                "UPDATE corrective_actions SET action=?, owner=?, due=? WHERE action_id=?",
                (text, after["owner"], after["due"], action["action_id"]),
            )
            self._audit(
                db,
                actor,
                "action.update",
                inspection_id,
                version,
                item_id,
                action_id=action["action_id"],
                before={"action": action["action"], "owner": action["owner"], "due": action["due"]},
                after={"action": text, "owner": after["owner"], "due": after["due"]},
            )
        return hid

    # -- the record and its signature -----------------------------------------------------------
    def record_json(self, inspection_id: str, version: int | None = None) -> dict[str, Any]:
        """The record as signed: header, every item with question, basis and result, signature."""
        head = self._header(inspection_id, version)
        version = head["version"]
        ck = self.db.one("SELECT * FROM checklists WHERE checklist_id=?", (head["checklist_id"],))
        if ck is None:
            raise RecordNotFound(f"checklist {head['checklist_id']} of {inspection_id} is missing")
        checklist = Checklist.from_dict(json.loads(ck["body"]))
        results = {
            r["item_id"]: r
            for r in self.db.query(
                "SELECT * FROM results WHERE inspection_id=? AND version=?",
                (inspection_id, version),
            )
        }
        photos: dict[str, list[dict[str, str]]] = {}
        for p in self.db.query(
            "SELECT item_id, sha256, name FROM photos WHERE inspection_id=? AND version=? ORDER BY sha256",
            (inspection_id, version),
        ):
            photos.setdefault(p["item_id"], []).append({"sha256": p["sha256"], "name": p["name"]})
        hazards = {
            h["item_id"]: h["hazard_id"]
            for h in self.db.query(
                "SELECT item_id, hazard_id FROM hazards WHERE inspection_id=?", (inspection_id,)
            )
        }
        items = []
        for it in checklist.items:
            r = results.get(it.id)
            entry: dict[str, Any] = {
                "id": it.id,
                "question": it.question,
                "category": it.category,
                "mandatory": it.mandatory,
                "basis": [{"source": b.source, "locator": b.locator} for b in it.basis],
                "result": None,
            }
            if r is not None:
                res: dict[str, Any] = {
                    "result": r["result"],
                    "note": r["note"],
                    "recorded_at": r["recorded_at"],
                    "recorded_by": r["recorded_by"],
                    "photos": photos.get(it.id, []),
                }
                if r["result"] == "fail":
                    res.update(
                        {
                            "grade": r["grade"],
                            "hazard": r["hazard"],
                            "hazard_id": hazards.get(it.id),
                            "action": r["action"],
                            "owner": r["owner"],
                            "due": r["due"],
                        }
                    )
                entry["result"] = res
            items.append(entry)
        return {
            "inspection": {
                "id": inspection_id,
                "version": version,
                "based_on": head["based_on"],
                "amend_reason": head["amend_reason"],
                "site": head["site"],
                "area": head["area"],
                "inspector": head["inspector"],
                "date": head["date"],
                "created_at": head["created_at"],
                "created_by": head["created_by"],
                "checklist": {
                    "id": ck["checklist_id"],
                    "sha256": ck["sha256"],
                    "title": ck["title"],
                    "language": ck["language"],
                },
            },
            "items": items,
            "signature": (
                {"name": head["signed_by"], "at": head["signed_at"]}
                if head["status"] == "signed"
                else None
            ),
        }

    @staticmethod
    def hash_record(record: dict[str, Any]) -> str:
        return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()

    def sign(self, inspection_id: str, name: str, allow_incomplete: bool = False) -> dict[str, Any]:
        """The inspector signs the latest version: name, time and the hash of the record."""
        head = self._header(inspection_id)
        if head["status"] == "signed":
            raise self._signed_error(head)
        if name.strip().casefold() != head["inspector"].strip().casefold():
            raise SignatureError(
                f"{inspection_id} is {head['inspector']}'s inspection; only the inspector signs it "
                f"(got {name!r}). Whoever checks, signs"
            )
        record = self.record_json(inspection_id, head["version"])
        missing = [i["id"] for i in record["items"] if i["result"] is None]
        if missing and not allow_incomplete:
            raise SignatureError(
                f"{len(missing)} item(s) not recorded yet: {', '.join(missing[:15])}"
                f"{' …' if len(missing) > 15 else ''}. Record them (na when not applicable), "
                "or sign with --allow-incomplete"
            )
        unowned = [
            i["id"]
            for i in record["items"]
            if i["result"]
            and i["result"]["result"] == "fail"
            and not (i["result"].get("owner") and i["result"].get("due"))
        ]
        if unowned:
            raise SignatureError(
                f"failed item(s) {', '.join(unowned)} need a corrective action owner and due date "
                "(--owner NAME --due YYYY-MM-DD) before signing"
            )
        at = self._now()
        record["signature"] = {"name": head["inspector"], "at": at}
        digest = self.hash_record(record)
        with self.db.transaction() as db:
            # read again under the writer lock: a result another worker recorded since the
            # read above is not in the hash, and signing over it would leave a record that
            # never verifies; refuse, so the signer looks again
            if self.record_json(inspection_id, head["version"])["items"] != record["items"]:
                raise SignatureError(
                    f"{inspection_id} changed while it was being signed (a result was recorded "
                    "meanwhile); review it and sign again"
                )
            cur = db.execute(
                "UPDATE inspections SET status='signed', signed_by=?, signed_at=?, record_hash=? "
                "WHERE inspection_id=? AND version=? AND status='open'",
                (head["inspector"], at, digest, inspection_id, head["version"]),
            )
            if cur.rowcount != 1:  # another worker signed it since it was read
                raise self._signed_error(self._header(inspection_id, head["version"]))
            self._audit(
                db,
                name,
                "inspection.sign",
                inspection_id,
                head["version"],
                record_hash=digest,
                incomplete=missing,
            )
        return {
            "inspection_id": inspection_id,
            "version": head["version"],
            "signed_by": head["inspector"],
            "signed_at": at,
            "record_hash": digest,
        }

    def verify(self, inspection_id: str, version: int | None = None) -> bool:
        """Whether a signed version still hashes to what was signed."""
        head = self._header(inspection_id, version)
        if head["status"] != "signed":
            return False
        return (
            self.hash_record(self.record_json(inspection_id, head["version"]))
            == head["record_hash"]
        )

    def show(self, inspection_id: str, version: int | None = None) -> dict[str, Any]:
        head = self._header(inspection_id, version)
        record = self.record_json(inspection_id, head["version"])
        return {
            **record,
            "status": head["status"],
            "versions": self.versions(inspection_id),
            "record_hash": head["record_hash"],
            "hash_ok": self.verify(inspection_id, head["version"])
            if head["status"] == "signed"
            else None,
            "hazards": self.hazards(inspection_id=inspection_id),
        }

    def audit(self, inspection_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT * FROM audit WHERE (CAST(? AS TEXT) IS NULL OR inspection_id=?) "
            "ORDER BY audit_id",
            (inspection_id, inspection_id),
        )
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    def list_inspections(self, site: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT i.*, c.title FROM inspections i JOIN checklists c USING (checklist_id) "
            "WHERE (CAST(? AS TEXT) IS NULL OR i.site=?) AND i.version = (SELECT MAX(version) FROM inspections j "
            "WHERE j.inspection_id = i.inspection_id) ORDER BY i.date DESC, i.inspection_id DESC",
            (site, site),
        )
        return [
            {
                "inspection_id": r["inspection_id"],
                "version": r["version"],
                "site": r["site"],
                "area": r["area"],
                "inspector": r["inspector"],
                "date": r["date"],
                "status": r["status"],
                "checklist": r["title"],
                "checklist_id": r["checklist_id"],
            }
            for r in rows
        ]

    # -- hazards and corrective actions ----------------------------------------------------------
    def hazards(
        self, status: str | None = None, inspection_id: str | None = None
    ) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT * FROM hazards WHERE (CAST(? AS TEXT) IS NULL OR status=?) "
            "AND (CAST(? AS TEXT) IS NULL OR inspection_id=?) ORDER BY hazard_id",
            (status, status, inspection_id, inspection_id),
        )
        out = []
        for h in rows:
            actions = [
                dict(a)
                for a in self.db.query(
                    "SELECT * FROM corrective_actions WHERE hazard_id=? ORDER BY action_id",
                    (h["hazard_id"],),
                )
            ]
            checks = [
                dict(r)
                for r in self.db.query(
                    "SELECT * FROM reinspections WHERE hazard_id=? ORDER BY reinspection_id",
                    (h["hazard_id"],),
                )
            ]
            out.append({**dict(h), "actions": actions, "reinspections": checks})
        return out

    def close_hazard(
        self, hazard_id: str, by: str, result: str = "pass", note: str = ""
    ) -> dict[str, Any]:
        """Re-inspect a hazard: a pass closes it (and verifies its action); a fail keeps it open."""
        result = result.strip().lower()
        if result not in ("pass", "fail"):
            raise ConfigError("a re-inspection result is pass or fail")
        h = self.db.one("SELECT * FROM hazards WHERE hazard_id=?", (hazard_id,))
        if h is None:
            raise RecordNotFound(f"no hazard {hazard_id}. List open ones with 'anquan inspect due'")
        if h["status"] != "open":
            raise RecordsError(f"hazard {hazard_id} is {h['status']} already")
        now = self._now()
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO reinspections (hazard_id, at, by, result, note) VALUES (?, ?, ?, ?, ?)",
                (hazard_id, now, by, result, note),
            )
            if result == "pass":
                db.execute(
                    "UPDATE hazards SET status='closed', closed_at=?, closed_by=? WHERE hazard_id=?",
                    (now, by, hazard_id),
                )
                db.execute(
                    "UPDATE corrective_actions SET status='verified', verified_at=?, verified_by=? "
                    "WHERE hazard_id=? AND status='open'",
                    (now, by, hazard_id),
                )
            self._audit(
                db,
                by,
                "hazard.reinspect",
                h["inspection_id"],
                None,
                h["item_id"],
                hazard_id=hazard_id,
                result=result,
                note=note,
            )
        return {
            "hazard_id": hazard_id,
            "status": "closed" if result == "pass" else "open",
            "reinspected_at": now,
            "by": by,
        }

    # -- plans and what is due --------------------------------------------------------------------
    def add_plan(
        self,
        site: str,
        checklist: Checklist | str,
        frequency: str,
        area: str = "",
        start: str | date | None = None,
        owner: str | None = None,
        by: str = "system",
    ) -> int:
        parse_frequency(frequency)
        cid = self._resolve_checklist(checklist, by)
        first = parse_date(start or self.today(), "start date")
        with self.db.transaction() as db:
            row = db.execute(
                "INSERT INTO plans (site, area, checklist_id, frequency, start, owner, active, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 1, ?) RETURNING plan_id",
                (site, area, cid, frequency, first, owner, self._now()),
            ).fetchall()[0]
            plan_id = int(row["plan_id"])
            self._audit(
                db,
                by,
                "plan.add",
                plan_id=plan_id,
                site=site,
                area=area,
                checklist_id=cid,
                frequency=frequency,
                start=first,
                owner=owner,
            )
        return plan_id

    def plans(self) -> list[dict[str, Any]]:
        return [
            dict(r) for r in self.db.query("SELECT * FROM plans WHERE active=1 ORDER BY plan_id")
        ]

    def due(self, today: date | None = None, within_days: int = 0) -> dict[str, Any]:
        """Planned inspections due (or overdue, or due within ``within_days``), and open
        corrective actions past their due date."""
        today = today or self.today()
        horizon = today + timedelta(days=within_days)
        due_plans = []
        for p in self.plans():
            last = self.db.one(
                "SELECT MAX(date) AS d, COUNT(*) AS n FROM inspections WHERE site=? AND checklist_id=? "
                "AND status='signed' AND (CAST(? AS TEXT)='' OR area=?)",
                (p["site"], p["checklist_id"], p["area"], p["area"]),
            )
            last_date = date.fromisoformat(last["d"]) if last and last["d"] else None
            next_due = (
                add_period(last_date, p["frequency"])
                if last_date
                else date.fromisoformat(p["start"])
            )
            if next_due > horizon:
                continue
            state = "overdue" if next_due < today else "due" if next_due == today else "upcoming"
            title = self.db.one(
                "SELECT title FROM checklists WHERE checklist_id=?", (p["checklist_id"],)
            )
            due_plans.append(
                {
                    "plan_id": p["plan_id"],
                    "site": p["site"],
                    "area": p["area"],
                    "owner": p["owner"],
                    "checklist_id": p["checklist_id"],
                    "checklist": title["title"] if title else "",
                    "frequency": p["frequency"],
                    "last_inspection": last_date.isoformat() if last_date else None,
                    "next_due": next_due.isoformat(),
                    "days_overdue": max((today - next_due).days, 0),
                    "status": state,
                }
            )
        actions = []
        for a in self.db.query(
            "SELECT a.*, h.inspection_id, h.item_id, h.grade, h.description FROM corrective_actions a "
            "JOIN hazards h USING (hazard_id) WHERE a.status='open' AND h.status='open' "
            "AND a.due IS NOT NULL AND a.due < ? ORDER BY a.due, a.action_id",
            (today.isoformat(),),
        ):
            actions.append(
                {
                    "action_id": a["action_id"],
                    "hazard_id": a["hazard_id"],
                    "inspection_id": a["inspection_id"],
                    "item_id": a["item_id"],
                    "grade": a["grade"],
                    "hazard": a["description"],
                    "action": a["action"],
                    "owner": a["owner"],
                    "due": a["due"],
                    "days_overdue": (today - date.fromisoformat(a["due"])).days,
                }
            )
        due_plans.sort(key=lambda d: (d["next_due"], d["plan_id"]))
        return {"today": today.isoformat(), "inspections": due_plans, "overdue_actions": actions}


def is_immutable_error(exc: BaseException) -> bool:
    """Whether an error is the immutability trigger firing (translated, or a raw driver's)."""
    return isinstance(exc, ImmutableRecordError) or any(
        m in str(exc) for m in (SIGNED_MESSAGE, APPEND_ONLY_MESSAGE)
    )
