"""Inspection records: sign-off immutability, versions, audit trail, hazards, plans, overdue actions.

The clock is injected (:class:`Clock`), so time moves only when a test moves it. Every test with
a ``store`` runs on both backends of the records database: a SQLite file, and a real PostgreSQL
server (``records_url`` in conftest; skipped where ``apt-get install postgresql`` was not run).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.cli import main as cli_main
from assistant.checklist import Basis, Checklist, ChecklistItem
from assistant.inspections import (
    ImmutableRecordError,
    Inspections,
    RecordNotFound,
    SignatureError,
    SignedInspectionError,
    add_period,
    is_immutable_error,
    parse_frequency,
)
from assistant.records_db import MIGRATIONS, PG_MIGRATIONS, RecordsDB, parse_target
from ingest.errors import ConfigError

SRC = "regulations/us/29cfr1926/29cfr1926-subpart-L-scaffolds.pdf"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def checklist(n: int = 3) -> Checklist:
    items = [
        ChecklistItem(
            str(i),
            f"Is check {i} met?",
            "Guardrails",
            True,
            [Basis(SRC, f"1926.451(g)({i})", 7, f"Requirement {i} shall be met.")],
        )
        for i in range(1, n + 1)
    ]
    return Checklist("Scaffolds", "construction", "scaffolds", "US", "en", items)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def store(records_url: str, tmp_path: Path, clock: Clock):
    s = Inspections(records_url, tmp_path, clock=clock)
    yield s
    s.close()


def raw_connect(url: str) -> tuple[Any, type[Exception]]:
    """A plain driver connection behind the records layer's back, and the driver's
    ``IntegrityError``: what a script or another program would use."""
    target = parse_target(url)
    if isinstance(target, Path):
        return sqlite3.connect(target, isolation_level=None), sqlite3.IntegrityError
    import psycopg

    return psycopg.connect(target, autocommit=True), psycopg.IntegrityError


def record_all(store: Inspections, iid: str, n: int = 3) -> None:
    for i in range(1, n + 1):
        store.record(iid, str(i), "pass")


def test_schema_comes_from_numbered_migrations_in_wal_mode(tmp_path):
    db = RecordsDB(tmp_path / "r.sqlite")
    assert db.schema_version == MIGRATIONS[-1][0]
    assert db.query("PRAGMA journal_mode")[0][0] == "wal"
    assert db.migrate() == []  # applied once only
    db.close()


def test_sign_records_name_time_and_the_hash_of_the_canonical_record(store, clock):
    ref = store.start(checklist(), site="Tower B", area="east", inspector="Li Wei")
    record_all(store, ref.inspection_id)
    clock.advance(hours=2)
    signed = store.sign(ref.inspection_id, "li wei")
    assert signed["signed_by"] == "Li Wei" and signed["signed_at"] == "2025-03-01T10:00:00Z"
    record = store.record_json(ref.inspection_id)
    canonical = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == signed["record_hash"]
    assert record["signature"] == {"name": "Li Wei", "at": "2025-03-01T10:00:00Z"}
    assert record["items"][0]["basis"] == [{"source": SRC, "locator": "1926.451(g)(1)"}]
    assert store.verify(ref.inspection_id)


#: direct writes to a signed inspection or the audit trail, and the exception each must raise
DIRECT_WRITES = [
    ("UPDATE results SET result='fail' WHERE item_id='1'", SignedInspectionError),
    ("DELETE FROM results WHERE item_id='1'", SignedInspectionError),
    (
        "INSERT INTO results (inspection_id, version, item_id, result, recorded_at, recorded_by)"
        " SELECT inspection_id, version, '9', 'pass', 'now', 'x' FROM inspections",
        SignedInspectionError,
    ),
    ("UPDATE inspections SET site='elsewhere'", SignedInspectionError),
    ("DELETE FROM inspections", SignedInspectionError),
    ("UPDATE audit SET actor='someone else'", ImmutableRecordError),
    ("DELETE FROM audit", ImmutableRecordError),
]


def test_a_signed_inspection_is_immutable(store, records_url):
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    record_all(store, ref.inspection_id)
    store.sign(ref.inspection_id, "Li Wei")
    with pytest.raises(SignedInspectionError, match="signed by Li Wei .* amend it"):
        store.record(ref.inspection_id, "1", "fail", note="changed my mind")
    with pytest.raises(SignedInspectionError):
        store.sign(ref.inspection_id, "Li Wei")
    # the database refuses too, whatever the write path: through the records layer the trigger
    # surfaces as the same exception on both backends ...
    for sql, error in DIRECT_WRITES:
        with (
            pytest.raises(error, match="immutable|append-only") as caught,
            store.db.transaction() as db,
        ):
            db.execute(sql)
        assert type(caught.value) is error and is_immutable_error(caught.value)
    # ... and a plain driver connection gets its driver's IntegrityError with the same message
    raw, integrity_error = raw_connect(records_url)
    for sql, _ in DIRECT_WRITES:
        with pytest.raises(integrity_error, match="immutable|append-only") as caught:
            raw.execute(sql)
        assert is_immutable_error(caught.value)
    raw.close()
    assert store.verify(ref.inspection_id)
    assert len(store.audit(ref.inspection_id)) == 5  # start, three items, sign: nothing lost


def test_tampering_behind_the_triggers_is_detected(store, records_url):
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    record_all(store, ref.inspection_id)
    store.sign(ref.inspection_id, "Li Wei")
    raw, _ = raw_connect(records_url)
    on = "" if store.db.dialect.name == "sqlite" else " ON results"
    raw.execute(f"DROP TRIGGER results_signed_update{on}")
    raw.execute("UPDATE results SET note='edited later' WHERE item_id='2'")
    raw.close()
    assert store.verify(ref.inspection_id) is False
    assert store.show(ref.inspection_id)["hash_ok"] is False


def test_a_later_change_is_a_new_version_with_an_audit_trail(store, clock):
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    record_all(store, ref.inspection_id)
    v1 = store.sign(ref.inspection_id, "Li Wei")
    clock.advance(days=1)
    out = store.record(
        ref.inspection_id,
        "2",
        "na",
        note="no ladder there",
        by="Zhang San",
        amend_reason="item 2 does not apply",
    )
    assert out["version"] == 2
    assert store.versions(ref.inspection_id) == [1, 2]
    # version 1 is exactly as signed; version 2 carries the change and says what it amends
    old, new = store.record_json(ref.inspection_id, 1), store.record_json(ref.inspection_id, 2)
    assert old["items"][1]["result"]["result"] == "pass" and store.verify(ref.inspection_id, 1)
    assert new["items"][1]["result"]["result"] == "na" and new["signature"] is None
    assert (
        new["inspection"]["based_on"] == 1
        and new["inspection"]["amend_reason"] == "item 2 does not apply"
    )
    v2 = store.sign(ref.inspection_id, "Li Wei")
    assert v2["version"] == 2 and v2["record_hash"] != v1["record_hash"]
    trail = store.audit(ref.inspection_id)
    events = [(a["action"], a["actor"], a["version"]) for a in trail]
    assert events[-3:] == [
        ("inspection.amend", "Zhang San", 2),
        ("item.record", "Zhang San", 2),
        ("inspection.sign", "Li Wei", 2),
    ]
    change = next(a for a in trail if a["action"] == "item.record" and a["version"] == 2)
    assert change["at"] == "2025-03-02T08:00:00Z" and change["item_id"] == "2"
    assert (
        change["detail"]["before"]["result"] == "pass"
        and change["detail"]["after"]["result"] == "na"
    )


def test_only_the_inspector_signs_and_only_a_complete_record(store):
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    store.record(ref.inspection_id, "1", "pass")
    with pytest.raises(SignatureError, match="only the inspector signs"):
        store.sign(ref.inspection_id, "Zhang San")
    with pytest.raises(SignatureError, match="2 item\\(s\\) not recorded yet: 2, 3"):
        store.sign(ref.inspection_id, "Li Wei")
    store.record(ref.inspection_id, "2", "fail", note="toeboard missing")
    with pytest.raises(SignatureError, match="need a corrective action owner and due date"):
        store.sign(ref.inspection_id, "Li Wei", allow_incomplete=True)
    store.record(
        ref.inspection_id, "2", "fail", note="toeboard missing", owner="Foreman", due="2025-03-08"
    )
    assert store.sign(ref.inspection_id, "Li Wei", allow_incomplete=True)["version"] == 1


def test_a_failed_item_becomes_a_hazard_with_an_action_closed_after_reinspection(
    store, clock, tmp_path
):
    photo = tmp_path / "east-face.jpg"
    photo.write_bytes(b"\xff\xd8 a photo")
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    out = store.record(
        ref.inspection_id,
        "3",
        "fail",
        note="no guardrail on the east face",
        grade="major",
        action="install guardrail",
        owner="Foreman",
        due="2025-03-05",
        photos=[photo],
    )
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert out["photos"] == [digest]
    stored = tmp_path / "records" / "photos" / digest[:2] / f"{digest}.jpg"
    assert stored.read_bytes() == photo.read_bytes()
    hz = store.hazards(status="open")
    assert len(hz) == 1 and hz[0]["hazard_id"] == out["hazard_id"] == "HZ-0001"
    assert (hz[0]["grade"], hz[0]["description"]) == ("major", "no guardrail on the east face")
    action = hz[0]["actions"][0]
    assert (action["action"], action["owner"], action["due"], action["status"]) == (
        "install guardrail",
        "Foreman",
        "2025-03-05",
        "open",
    )
    assert store.record_json(ref.inspection_id)["items"][2]["result"]["photos"] == [
        {"sha256": digest, "name": "east-face.jpg"}
    ]
    # a failed re-inspection keeps it open; a pass closes it and verifies the action
    clock.advance(days=3)
    assert (
        store.close_hazard("HZ-0001", by="Li Wei", result="fail", note="half done")["status"]
        == "open"
    )
    clock.advance(days=1)
    assert store.close_hazard("HZ-0001", by="Li Wei", note="guardrail fitted")["status"] == "closed"
    closed = store.hazards(inspection_id=ref.inspection_id)[0]
    assert closed["status"] == "closed" and closed["closed_at"] == "2025-03-05T08:00:00Z"
    assert closed["actions"][0]["status"] == "verified"
    assert [r["result"] for r in closed["reinspections"]] == ["fail", "pass"]
    with pytest.raises(Exception, match="closed already"):
        store.close_hazard("HZ-0001", by="Li Wei")


def test_a_fail_corrected_to_pass_withdraws_its_hazard(store):
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    store.record(ref.inspection_id, "1", "fail", note="wrong", owner="A", due="2025-03-09")
    store.record(ref.inspection_id, "1", "pass")
    hz = store.hazards(inspection_id=ref.inspection_id)
    assert hz[0]["status"] == "withdrawn" and hz[0]["actions"][0]["status"] == "cancelled"
    assert store.due(today=date(2025, 4, 1))["overdue_actions"] == []


def test_overdue_corrective_actions_are_listed(store, clock):
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    store.record(
        ref.inspection_id,
        "1",
        "fail",
        grade="general",
        note="loose plank",
        owner="Foreman",
        due="2025-03-05",
    )
    store.record(
        ref.inspection_id,
        "2",
        "fail",
        grade="major",
        note="no tie-ins",
        owner="Engineer",
        due="2025-03-20",
    )
    clock.advance(days=9)  # 2025-03-10
    due = store.due()
    assert due["today"] == "2025-03-10"
    assert [(a["action_id"], a["owner"], a["days_overdue"]) for a in due["overdue_actions"]] == [
        ("CA-0001", "Foreman", 5)
    ]
    assert [a["hazard_id"] for a in store.due(today=date(2025, 3, 25))["overdue_actions"]] == [
        "HZ-0001",
        "HZ-0002",
    ]


def test_plans_fall_due_from_the_last_signed_inspection(store, clock):
    cl = checklist()
    plan = store.add_plan("Tower B", cl, "weekly", start="2025-03-01", owner="Li Wei")
    store.add_plan("Plant 2", cl, "monthly", start="2025-04-01")
    assert [d["status"] for d in store.due()["inspections"]] == ["due"]
    ref = store.start(cl, site="Tower B", inspector="Li Wei")
    record_all(store, ref.inspection_id)
    assert store.due()["inspections"][0]["plan_id"] == plan  # not signed: still due
    store.sign(ref.inspection_id, "Li Wei")
    assert store.due()["inspections"] == []
    later = store.due(today=date(2025, 3, 12))["inspections"]
    assert [(d["plan_id"], d["next_due"], d["status"], d["days_overdue"]) for d in later] == [
        (plan, "2025-03-08", "overdue", 4)
    ]
    soon = store.due(today=date(2025, 3, 6), within_days=30)["inspections"]
    assert [(d["site"], d["status"]) for d in soon] == [
        ("Tower B", "upcoming"),
        ("Plant 2", "upcoming"),
    ]


def test_frequencies():
    assert parse_frequency("weekly") == (7, "d") and parse_frequency("2w") == (14, "d")
    assert add_period(date(2025, 1, 31), "monthly") == date(2025, 2, 28)
    assert add_period(date(2024, 11, 30), "quarterly") == date(2025, 2, 28)
    assert add_period(date(2025, 3, 1), "每年") == date(2026, 3, 1)
    with pytest.raises(ConfigError, match="daily, weekly"):
        parse_frequency("sometimes")


def test_clear_errors(store):
    with pytest.raises(RecordNotFound, match="anquan inspect list"):
        store.record("INS-9999", "1", "pass")
    ref = store.start(checklist(), site="Tower B", inspector="Li Wei")
    with pytest.raises(ConfigError, match="no item '9'. Items: 1, 2, 3"):
        store.record(ref.inspection_id, "9", "pass")
    with pytest.raises(ConfigError, match="not one of: pass, fail, na"):
        store.record(ref.inspection_id, "1", "maybe")
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        store.record(ref.inspection_id, "1", "fail", due="next week")
    with pytest.raises(ConfigError, match="photo .* not found"):
        store.record(ref.inspection_id, "1", "pass", photos=["/nonexistent.jpg"])


def test_cli_new_record_sign_show_export_due(tmp_path, monkeypatch, capsys, records_url):
    on_pg = records_url.startswith("postgresql://")
    monkeypatch.setenv("ANQUAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ANQUAN_RECORDS_DB", raising=False)
    if on_pg:  # the URL setting switches the whole CLI to the PostgreSQL database
        monkeypatch.setenv("ANQUAN_RECORDS_URL", records_url)
    else:  # unset: the SQLite file under the data dir, as before
        monkeypatch.delenv("ANQUAN_RECORDS_URL", raising=False)
    path = tmp_path / "scaffolds.json"
    path.write_text(json.dumps(checklist(2).to_dict()), encoding="utf-8")

    def run(*argv: str) -> dict:
        capsys.readouterr()
        assert cli_main(["inspect", *argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    iid = run(
        "new",
        "--checklist",
        str(path),
        "--site",
        "Tower B",
        "--inspector",
        "Li Wei",
        "--date",
        "2025-03-01",
    )["inspection_id"]
    run("record", iid, "1", "--result", "pass")
    hz = run(
        "record",
        iid,
        "2",
        "--result",
        "fail",
        "--grade",
        "major",
        "--note",
        "gap",
        "--owner",
        "Foreman",
        "--due",
        "2025-03-05",
    )["hazard_id"]
    assert run("sign", iid, "--name", "Li Wei")["version"] == 1
    assert cli_main(["inspect", "record", iid, "1", "--result", "na"]) == 1
    assert "cannot change" in capsys.readouterr().err
    shown = run("show", iid, "--audit")
    assert shown["hash_ok"] is True and shown["hazards"][0]["hazard_id"] == hz
    assert [a["action"] for a in shown["audit"]][-1] == "inspection.sign"
    due = run("due", "--today", "2030-01-01")
    assert [a["hazard_id"] for a in due["overdue_actions"]] == [hz]
    assert (
        cli_main(["inspect", "export", iid, "--format", "html", "--out", str(tmp_path / "r.html")])
        == 0
    )
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Tower B" in page and shown["record_hash"] in page and "major hazard" in page
    assert (tmp_path / "data" / "records.sqlite").exists() is not on_pg


def test_migrations_are_recorded_once_and_idempotent(records_url):
    first = RecordsDB(records_url)
    steps = MIGRATIONS if first.dialect.name == "sqlite" else PG_MIGRATIONS
    assert [(v, n) for v, n, _ in PG_MIGRATIONS] == [(v, n) for v, n, _ in MIGRATIONS]
    assert first.schema_version == steps[-1][0]
    rows = first.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [(v, n) for v, n, _ in steps]
    assert rows[0]["applied_at"][:2] == "20"
    first.close()
    second = RecordsDB(records_url)  # a second start, as a restarted worker
    assert second.migrate() == []
    assert len(second.query("SELECT version FROM schema_migrations")) == len(steps)
    second.close()


def test_two_connections_creating_inspections_get_unique_ids(records_url, tmp_path, clock):
    Inspections(records_url, tmp_path, clock=clock).close()  # schema first, as at start-up
    stores = [Inspections(records_url, tmp_path, clock=clock) for _ in range(2)]
    cid = stores[0].add_checklist(checklist())
    made: list[str] = []
    errors: list[BaseException] = []

    def worker(s: Inspections, n: int) -> None:
        try:
            for i in range(n):
                ref = s.start(cid, site=f"Site {i}", inspector="Li Wei")
                s.record(ref.inspection_id, "1", "fail", note="gap", owner="A", due="2025-04-01")
                made.append(ref.inspection_id)
        except BaseException as exc:  # surfaced below, with its traceback
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s, 6)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(made) == [f"INS-{i:04d}" for i in range(1, 13)]
    hazards = stores[1].hazards()
    assert sorted(h["hazard_id"] for h in hazards) == [f"HZ-{i:04d}" for i in range(1, 13)]
    assert len({a["actions"][0]["action_id"] for a in hazards}) == 12
    for s in stores:
        s.close()
