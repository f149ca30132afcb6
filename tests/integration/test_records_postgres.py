"""The records database on a real PostgreSQL server: what only a shared server has to get right.

Workers starting at once (the migration lock), a connection the server drops (reconnect once,
nothing half-written), a transaction cut off mid-write, TRUNCATE behind the row triggers, and a
sign-off racing another worker's write (that one on both backends). The server is the session's
``pg_server`` (conftest); each test has a fresh database.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.checklist import Basis, Checklist, ChecklistItem
from assistant.inspections import Inspections, SignedInspectionError
from assistant.records_db import (
    PG_MIGRATIONS,
    PG_WRITE_LOCK,
    RecordsDB,
    RecordsUnavailable,
    parse_target,
    qmark_to_format,
    redact,
)
from ingest.errors import ConfigError
from ingest.settings import Settings
from tests.pg_server import free_port

pytestmark = pytest.mark.integration


def checklist(n: int = 3) -> Checklist:
    basis = [Basis("regulations/cn/安全生产法(2021-06-10).md", "第四十一条", None, "隐患排查")]
    items = [ChecklistItem(str(i), f"检查项 {i}？", "防护", True, basis) for i in range(1, n + 1)]
    return Checklist("脚手架隐患排查清单", "construction", "脚手架", "CN", "zh", items)


class Clock:
    """A fixed clock that can run one action the next time it is read (a hook between a
    read and a write inside :class:`Inspections`)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 31, 8, 0, tzinfo=UTC)
        self.then: list = []

    def __call__(self) -> datetime:
        while self.then:
            self.then.pop()()
        return self.now


def _backend_pid(store: Inspections) -> int:
    return int(store.db.one("SELECT pg_backend_pid() AS pid")["pid"])


def _terminate(url: str, pid: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0] is True


def test_workers_starting_at_once_migrate_the_schema_once(records_url):
    """Six workers open a fresh database together; the writer lock (PostgreSQL's advisory lock,
    SQLite's BEGIN IMMEDIATE) lets one create the schema, the others wait and find it done."""
    start = threading.Barrier(6)
    versions: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            db = RecordsDB(records_url)
            versions.append(db.schema_version)
            db.close()
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and versions == [PG_MIGRATIONS[-1][0]] * 6
    check = RecordsDB(records_url)
    rows = check.query("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in rows] == [(v, n) for v, n, _ in PG_MIGRATIONS]
    on_pg = check.dialect.name == "postgresql"
    triggers = check.query(
        'SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname COLLATE "C"'
        if on_pg
        else "SELECT name FROM sqlite_master WHERE type='trigger' ORDER BY name"
    )
    names = [t[0] for t in triggers]
    assert {"audit_no_delete", "audit_no_update", "results_signed_update"} <= set(names)
    assert len(names) == (14 if on_pg else 10)  # PostgreSQL adds the four TRUNCATE guards
    check.close()


def test_migration_waits_for_the_lock_another_worker_holds(pg_url):
    """While a writer holds the lock, a starting worker waits rather than racing it."""
    import psycopg

    holder = psycopg.connect(pg_url, autocommit=True)
    holder.execute("BEGIN")
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (PG_WRITE_LOCK,))
    opened: list[RecordsDB] = []
    t = threading.Thread(target=lambda: opened.append(RecordsDB(pg_url)))
    t.start()
    t.join(timeout=1.0)
    assert t.is_alive() and opened == []  # blocked on the lock
    holder.execute("COMMIT")
    t.join(timeout=30)
    assert opened and opened[0].schema_version == PG_MIGRATIONS[-1][0]
    opened[0].close()
    holder.close()


def test_a_dropped_connection_is_reopened_and_nothing_is_half_written(pg_url, tmp_path):
    store = Inspections(pg_url, tmp_path, clock=Clock())
    ref = store.start(checklist(), site="B 栋", inspector="李伟")
    # the server drops the idle connection (a restart, an idle timeout): the next call reconnects
    before = _backend_pid(store)
    _terminate(pg_url, before)
    assert [i["inspection_id"] for i in store.list_inspections()] == [ref.inspection_id]
    assert _backend_pid(store) != before
    _terminate(pg_url, _backend_pid(store))
    assert store.record(ref.inspection_id, "1", "pass")["version"] == 1

    # cut off mid-transaction: the write is refused as unavailable and none of it lands
    audit_before = len(store.audit(ref.inspection_id))
    with (
        pytest.raises(RecordsUnavailable, match="nothing was written"),
        store.db.transaction() as db,
    ):
        db.execute(
            "UPDATE results SET note='half' WHERE inspection_id=? AND item_id='1'",
            (ref.inspection_id,),
        )
        _terminate(pg_url, int(db.execute("SELECT pg_backend_pid()").fetchone()[0]))
        db.execute("SELECT 1")
    assert store.record_json(ref.inspection_id)["items"][0]["result"]["note"] == ""
    assert len(store.audit(ref.inspection_id)) == audit_before
    store.close()


def test_a_transaction_that_fails_leaves_the_signed_record_as_signed(pg_url, tmp_path):
    store = Inspections(pg_url, tmp_path, clock=Clock())
    ref = store.start(checklist(), site="B 栋", inspector="李伟")
    for i in ("1", "2", "3"):
        store.record(ref.inspection_id, i, "pass")
    signed = store.sign(ref.inspection_id, "李伟")
    with pytest.raises(RuntimeError, match="crash"), store.db.transaction() as db:
        db.execute("INSERT INTO counters (name, value) VALUES ('x', 1)")
        raise RuntimeError("crash between two writes")
    assert store.db.one("SELECT value FROM counters WHERE name='x'") is None
    assert store.verify(ref.inspection_id) and store.show(ref.inspection_id)["hash_ok"] is True
    assert store.show(ref.inspection_id)["record_hash"] == signed["record_hash"]
    store.close()


def test_truncate_cannot_bypass_the_row_triggers(pg_url, tmp_path):
    import psycopg

    store = Inspections(pg_url, tmp_path, clock=Clock())
    ref = store.start(checklist(1), site="B 栋", inspector="李伟")
    store.record(ref.inspection_id, "1", "pass")
    store.sign(ref.inspection_id, "李伟")
    with psycopg.connect(pg_url, autocommit=True) as raw:
        for table, message in (
            ("audit", "append-only"),
            ("results", "signed and immutable"),
            ("photos", "signed and immutable"),
            ("inspections CASCADE", "signed and immutable"),
        ):
            with pytest.raises(psycopg.IntegrityError, match=message):
                raw.execute(f"TRUNCATE {table}")
    assert store.verify(ref.inspection_id) and len(store.audit()) == 4
    store.close()


def test_a_write_racing_another_workers_sign_off_is_refused(records_url, tmp_path):
    """Worker A reads the open inspection; worker B signs it; A's write then meets the trigger
    and is refused with the same SignedInspectionError on both backends (HTTP 409)."""
    clock_a = Clock()
    a = Inspections(records_url, tmp_path, clock=clock_a)
    b = Inspections(records_url, tmp_path, clock=Clock())
    ref = a.start(checklist(), site="B 栋", inspector="李伟")
    for i in ("1", "2", "3"):
        b.record(ref.inspection_id, i, "pass")
    clock_a.then.append(lambda: b.sign(ref.inspection_id, "李伟"))
    with pytest.raises(SignedInspectionError, match="signed and immutable"):
        a.record(ref.inspection_id, "1", "fail", note="too late", owner="王工", due="2025-04-07")
    assert a.verify(ref.inspection_id)
    assert [e["action"] for e in a.audit(ref.inspection_id)][-1] == "inspection.sign"
    assert a.hazards() == []
    # a sign-off that read the version just before another worker signed it updates nothing
    # and says so, instead of reporting a signature it did not make
    two = a.start(checklist(1), site="C 栋", inspector="李伟")
    b.record(two.inspection_id, "1", "pass")
    clock_a.then.append(lambda: b.sign(two.inspection_id, "李伟"))
    with pytest.raises(SignedInspectionError, match="was signed by 李伟"):
        a.sign(two.inspection_id, "李伟")
    assert [e["action"] for e in a.audit(two.inspection_id)].count("inspection.sign") == 1
    a.close()
    b.close()


def test_the_url_setting_chooses_the_backend_and_hides_the_password(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ANQUAN_RECORDS_URL", pg_url)
    settings = Settings(data_dir=tmp_path / "data")
    store = Inspections.from_settings(settings)
    assert store.db.dialect.name == "postgresql" and store.db.path is None
    assert not (tmp_path / "data" / "records.sqlite").exists()
    store.close()
    secret = "postgresql://anquan:s3cret@127.0.0.1:5432/records"
    assert "s3cret" not in repr(Settings(records_url=secret))
    assert redact(secret) == "postgresql://anquan:***@127.0.0.1:5432/records"
    nobody = f"postgresql://anquan:s3cret@127.0.0.1:{free_port()}/records"
    with pytest.raises(ConfigError, match="cannot connect to the records database") as caught:
        RecordsDB(nobody)
    assert "s3cret" not in str(caught.value) and "ANQUAN_RECORDS_URL" in str(caught.value)


def test_record_urls_name_their_backend():
    assert parse_target("sqlite:///data/records.sqlite") == Path("data/records.sqlite")
    assert parse_target("sqlite:////srv/anquan/records.sqlite") == Path(
        "/srv/anquan/records.sqlite"
    )
    assert parse_target("records.sqlite") == Path("records.sqlite")
    assert parse_target("postgres://u@h/db") == "postgresql://u@h/db"
    assert parse_target("postgresql+psycopg://u@h:5433/db") == "postgresql://u@h:5433/db"
    with pytest.raises(ConfigError, match="unknown database 'mysql'"):
        parse_target("mysql://u:pw@h/db")
    with pytest.raises(ConfigError, match="has no path"):
        parse_target("sqlite://")
    # the shared SQL's placeholders for psycopg: quoted text kept, every % doubled
    assert (
        qmark_to_format("SELECT '?%', x FROM t WHERE a LIKE 'b%' AND c=? AND d=?")
        == "SELECT '?%%', x FROM t WHERE a LIKE 'b%%' AND c=%s AND d=%s"
    )
