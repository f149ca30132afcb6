"""Faults with nothing half-written: a full disk during ingest, ``kill -9`` while an inspection is
recorded or signed, and two processes writing the records database at once.

All of them run the real code in subprocesses and judge the result from the files on disk:

- **Full disk**: the data dir sits on a tiny tmpfs (as root; otherwise the ingest runs under a
  file size limit, ``RLIMIT_FSIZE``, so its writes fail with EFBIG instead). The ingest must stop
  with one clear message naming the data dir, leave every document with its whole chunk set, a
  lexical index that is current or rebuilt, a Chroma store that opens; once the disk is grown
  the same command must end with exactly what a clean ingest gives.
- **Crash while signing / recording**: a child process signs (records) one inspection after
  another and is killed, at random moments and at chosen statements inside the transaction
  (the child kills itself from SQLite's statement trace: no hook in the product code). After
  each kill every inspection is whole: open with no signature, or signed with a hash that
  verifies and one audit row; every recorded result has its audit row, hazard and action.
- **Two writers**: two processes create, record and sign inspections in one ``records.sqlite``
  (WAL) at the same time, from a file that does not exist yet: no 'database is locked', unique
  ids, a complete audit trail; a result recorded while another process signs is either in the
  signed hash or refused, never signed over unseen.
"""

from __future__ import annotations

import errno
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest

from assistant.checklist import Basis, Checklist, ChecklistItem
from assistant.inspections import Inspections, SignatureError, checklist_id
from ingest.embedders import HashingEmbedder
from ingest.errors import KnowledgeBaseError, StorageFull
from ingest.kb import open_kb
from ingest.pipeline import storage_error
from ingest.settings import Settings
from tests.conftest import REPO, SHARED_CORPUS
from tests.integration.test_crash_consistency import (
    KBState,
    assert_consistent,
    assert_settled,
    read_state,
    run_ingest_cli,
)


# -- the classification of storage errors (fast, no disk needed) ------------------------------
def _settings(tmp_path: Path, url: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedder="hashing", chroma_url=url)


def test_storage_errors_are_recognised_in_every_dialect(tmp_path):
    s = _settings(tmp_path)
    where = str((tmp_path / "data").absolute())
    full = storage_error(OSError(errno.ENOSPC, "No space left on device"), s)
    assert isinstance(full, StorageFull)
    assert str(full).startswith(f"no space left on device at {where}: free space or move ")
    assert "ANQUAN_DATA_DIR" in str(full)
    sqlite_full = storage_error(sqlite3.OperationalError("database or disk is full"), s)
    assert isinstance(sqlite_full, StorageFull) and where in str(sqlite_full)
    from chromadb.errors import InternalError

    chroma = InternalError(
        "Query error: Database error: error returned from database: (code: 13) database or "
        "disk is full"
    )
    assert isinstance(storage_error(chroma, s), StorageFull)
    # wrapped: the cause is found down the chain
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("could not save") from exc
    except RuntimeError as exc:
        assert isinstance(storage_error(exc, s), StorageFull)
    quota = storage_error(OSError(errno.EDQUOT, "Disk quota exceeded"), s)
    assert isinstance(quota, StorageFull) and str(quota).startswith("disk quota exceeded at ")
    too_big = storage_error(OSError(errno.EFBIG, "File too large"), s)
    assert isinstance(too_big, StorageFull) and "file" in str(too_big).split(" at ")[0]
    io = storage_error(sqlite3.OperationalError("disk I/O error"), s)
    if resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY:
        assert type(io) is KnowledgeBaseError and "disk I/O error at" in str(io)
    # not a storage fault: left alone
    assert storage_error(ValueError("bad"), s) is None
    assert storage_error(sqlite3.OperationalError("no such table: chunks"), s) is None
    # on a Chroma server the fault is the server's disk, and the message names the server
    served = storage_error(chroma, _settings(tmp_path, "http://127.0.0.1:8001"))
    assert "the Chroma server http://127.0.0.1:8001" in str(served)


# -- a full disk during ingest --------------------------------------------------------------
class TinyDisk:
    """A data dir on a disk that fills up: a tmpfs of ``size`` bytes where we may mount one
    (root), else the ingest runs with a file size limit of ``limit`` bytes (EFBIG).
    ``FAULT_TESTS_NO_MOUNT=1`` takes the second way as root too (to test it)."""

    def __init__(self, folder: Path, size: int, limit: int) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        self.data = folder / "data"
        self.mounted = False
        may_mount = os.geteuid() == 0 and shutil.which("mount") is not None
        if may_mount and not os.environ.get("FAULT_TESTS_NO_MOUNT"):
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                capture_output=True,
                check=False,
            )
            self.mounted = done.returncode == 0
        self.limit: int | None = None if self.mounted else limit

    @property
    def detail(self) -> str:
        return "no space left on device" if self.mounted else f"file size limit of {self.limit}"

    def preexec(self) -> None:  # in the child, before exec
        if self.limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a dead process
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.limit))

    def grow(self) -> None:
        if self.mounted:
            subprocess.run(
                ["mount", "-o", "remount,size=256m", str(self.folder)], check=True, timeout=30
            )
        self.limit = None

    def close(self) -> None:
        if self.mounted:
            done = subprocess.run(["umount", str(self.folder)], capture_output=True, check=False)
            if done.returncode != 0:  # something still holds a file: detach it anyway
                subprocess.run(["umount", "-l", str(self.folder)], check=False)
            self.mounted = False


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> tuple[Path, KBState]:
    """Six real regulations (cn-local) and what a clean ingest of them gives."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"starter corpus not found at {SHARED_CORPUS}")
    root = tmp_path_factory.mktemp("disk-corpus")
    corpus = root / "corpus"
    shutil.copytree(SHARED_CORPUS / "regulations/cn-local", corpus / "regulations/cn-local")
    shutil.copy(SHARED_CORPUS / "manifest.csv", corpus / "manifest.csv")
    done = run_ingest_cli(root / "clean", corpus)
    assert done.returncode == 0, done.stderr[-2000:]
    want = read_state(root / "clean")
    assert want.chunks and want.vectors == want.chunks
    return corpus, want


def _doc_chunks(state: KBState, doc_id: str) -> dict[str, str]:
    return {c: t for c, t in state.chunks.items() if state.doc_of[c] == doc_id}


# (where the disk fills, tmpfs size, file size limit for the fallback); the sizes are what
# this corpus needs: ~1.2 MB registry (with its WAL), ~0.3 MB lexical index, ~3 MB Chroma
DISKS = [
    pytest.param("reading", 400 << 10, 300_000, id="registry-while-reading"),
    pytest.param("lexical", 1500 << 10, None, id="lexical-index-save"),
    pytest.param("embedding", 2100 << 10, 1_500_000, id="vectors-while-embedding"),
]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(("phase", "size", "limit"), DISKS)
def test_full_disk_fails_cleanly_and_a_rerun_on_a_grown_disk_finishes(
    tmp_path, small_corpus, phase, size, limit
):
    corpus, want = small_corpus
    disk = TinyDisk(tmp_path / "disk", size, limit or 0)
    try:
        if not disk.mounted and limit is None:
            pytest.skip("filling just the lexical index needs a tmpfs (run as root)")
        failed = run_ingest_cli(disk.data, corpus, preexec_fn=disk.preexec)
        assert failed.returncode == 1, failed.stderr[-2000:]
        assert "Traceback" not in failed.stderr, failed.stderr[-3000:]
        said = failed.stderr.strip().splitlines()[-1]
        assert said.startswith(f"anquan: {disk.detail}"), said
        assert f" at {disk.data.absolute()}: free space or move ANQUAN_DATA_DIR" in said

        # what is on the disk, looked at from a copy (SQLite wants room even to open a file)
        copy = tmp_path / "copy"
        shutil.copytree(disk.data, copy)
        state = read_state(copy)
        assert_consistent(state, f"after the disk filled while {phase}")
        leftovers = sorted(p.name for p in copy.glob("lexical.*") if p.is_dir())
        assert not leftovers, f"a half-written lexical index was left behind: {leftovers}"
        for doc_id in state.docs:  # every registered document is whole
            assert _doc_chunks(state, doc_id) == _doc_chunks(want, doc_id), doc_id
        if phase == "reading":
            assert len(state.docs) < len(want.docs), "the disk did not fill while reading"
        else:
            assert state.docs == want.docs, f"the disk filled before the {phase} stage"
            assert state.pending, "the disk filled after the vectors were written"
        # the knowledge base opens on what is there: the lexical index loads or is rebuilt,
        # the Chroma store opens, and search works
        kb = open_kb(
            Settings(data_dir=copy, corpus=[corpus], embedder="hashing"),
            embedder=HashingEmbedder(),
        )
        try:
            assert kb.lexical().ids == list(state.chunks)
            assert kb.vectors.count() == len(state.vectors)
            if state.chunks:
                assert kb.search("安全生产责任制", k=3)
        finally:
            kb.close()

        disk.grow()
        done = run_ingest_cli(disk.data, corpus, preexec_fn=disk.preexec)
        assert done.returncode == 0, done.stderr[-3000:]
        assert_settled(read_state(disk.data), want)
    finally:
        disk.close()


@pytest.mark.integration
def test_ingest_onto_a_disk_full_from_the_start_says_so(tmp_path, small_corpus):
    corpus, _ = small_corpus
    disk = TinyDisk(tmp_path / "disk", 64 << 10, 1)
    try:
        if disk.mounted:  # fill it up
            with open(disk.folder / "ballast", "wb", buffering=0) as f:
                with pytest.raises(OSError) as full:
                    while True:
                        f.write(b"\0" * 4096)
                assert full.value.errno == errno.ENOSPC
        failed = run_ingest_cli(disk.data, corpus, preexec_fn=disk.preexec)
        assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr[-3000:]
        said = failed.stderr.strip().splitlines()[-1]
        assert said.startswith(f"anquan: {disk.detail}"), said
        assert "ANQUAN_DATA_DIR" in said
    finally:
        disk.close()


# -- crashes while recording and signing inspections --------------------------------------------
#: the child: drives assistant.inspections on one records database. FAULT_KILL_AT="regex@n"
#: makes it SIGKILL itself as the n-th statement matching regex starts (SQLite's statement
#: trace, armed once the database is open), so a kill can land at a chosen point of a
#: transaction; "ready" on stdout says the work starts now (for kills timed from outside).
CHILD = textwrap.dedent(
    r'''
    import json, os, re, signal, sqlite3, sys

    armed = False
    kill_at = os.environ.get("FAULT_KILL_AT")
    if kill_at:
        pattern, nth = kill_at.rsplit("@", 1)
        pattern, left = re.compile(pattern), [int(nth)]
        connect = sqlite3.connect

        def trace(statement):
            if armed and pattern.search(statement):
                left[0] -= 1
                if left[0] == 0:
                    os.kill(os.getpid(), signal.SIGKILL)

        def traced(*args, **kwargs):
            conn = connect(*args, **kwargs)
            conn.set_trace_callback(trace)
            return conn

        sqlite3.connect = traced

    from pathlib import Path
    from assistant.checklist import Checklist
    from assistant.inspections import Inspections, SignatureError, SignedInspectionError

    mode, db = sys.argv[1], Path(sys.argv[2])
    ins = Inspections(db, db.parent)
    if os.environ.get("FAULT_CHECKLIST"):  # as 'anquan inspect new --checklist FILE' adds it
        with open(os.environ["FAULT_CHECKLIST"], encoding="utf-8") as f:
            ins.add_checklist(Checklist.from_dict(json.load(f)))
    items = [i.id for i in ins.checklist(sys.argv[3]).items]


    def plan(iid, item):
        """What the inspector finds at ``item`` of ``iid``: the same every run."""
        n = int(iid.split("-")[1]) + int(item)
        if n % 3:
            return {"result": "pass" if n % 2 else "na", "note": f"ok {iid}/{item}"}
        return {"result": "fail", "note": f"finding {iid}/{item}",
                "grade": "major" if n % 2 else "general", "owner": "Li Wei",
                "due": "2025-04-01", "action": f"fix {item}"}


    def open_ones():
        return sorted(i["inspection_id"] for i in ins.list_inspections() if i["status"] == "open")


    print("ready", flush=True)
    armed = True
    if mode == "record":  # every open inspection, every item not yet recorded
        for iid in open_ones():
            done = {i["id"] for i in ins.record_json(iid)["items"] if i["result"]}
            for item in items:
                if item not in done:
                    ins.record(iid, item, **plan(iid, item))
    elif mode == "sign":
        for iid in open_ones():
            for attempt in range(5):
                try:
                    ins.sign(iid, "Zhang San")
                    break
                except SignatureError as exc:  # changed meanwhile: look again, sign again
                    if "changed while" not in str(exc) or attempt == 4:
                        raise
                    print("re-signed", iid, flush=True)
    elif mode == "write":  # a new inspection, recorded and signed, over and over
        made = []
        for n in range(int(sys.argv[4])):
            iid = ins.start(sys.argv[3], site=f"site {sys.argv[5]}", inspector="Zhang San").inspection_id
            for item in items:
                ins.record(iid, item, **plan(iid, item))
            ins.sign(iid, "Zhang San")
            made.append(iid)
        print(json.dumps(made), flush=True)
    elif mode == "touch":  # re-record item 1 everywhere while someone else signs
        refused = 0
        for iid in sorted(i["inspection_id"] for i in ins.list_inspections()):
            try:
                ins.record(iid, items[0], result="pass", note=f"seen again {iid}")
            except SignedInspectionError:
                refused += 1
        print(json.dumps({"refused": refused}), flush=True)
    ins.close()
    '''
)

ITEMS = 6


def _checklist() -> Checklist:
    src = "regulations/cn/安全生产法(2021-06-10).md"
    return Checklist(
        "危险作业现场检查",
        "construction",
        "hot work",
        "CN",
        "zh",
        [
            ChecklistItem(
                str(i), f"第{i}项是否符合要求？", "作业", True, [Basis(src, f"第{i}条", None, "")]
            )
            for i in range(1, ITEMS + 1)
        ],
    )


class Records:
    """A records database, the child that works on it, and the checks of its invariants.

    With ``create=False`` the database is left for the children to make (each adds the
    checklist, content-addressed, so whichever comes first adds it and the other finds it)."""

    def __init__(self, folder: Path, create: bool = True) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.db = folder / "records.sqlite"
        self.script = folder / "child.py"
        self.script.write_text(CHILD, encoding="utf-8")
        self.checklist_json = folder / "checklist.json"
        self.checklist_json.write_text(json.dumps(_checklist().to_dict()), encoding="utf-8")
        self.checklist_id, _ = checklist_id(_checklist())
        if create:
            ins = Inspections(self.db, folder)
            try:
                ins.add_checklist(_checklist())
            finally:
                ins.close()

    def start_inspections(self, n: int) -> list[str]:
        ins = Inspections(self.db, self.db.parent)
        try:
            return [
                ins.start(self.checklist_id, site="plant 1", inspector="Zhang San").inspection_id
                for _ in range(n)
            ]
        finally:
            ins.close()

    def child(self, *args: str, kill_at: str | None = None) -> subprocess.Popen:
        env = dict(os.environ, PYTHONPATH=str(REPO), FAULT_CHECKLIST=str(self.checklist_json))
        env.pop("ANQUAN_RECORDS_URL", None)
        if kill_at:
            env["FAULT_KILL_AT"] = kill_at
        return subprocess.Popen(
            [sys.executable, str(self.script), args[0], str(self.db), self.checklist_id, *args[1:]],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, kill_at: str | None = None) -> tuple[int, str, str]:
        proc = self.child(*args, kill_at=kill_at)
        out, err = proc.communicate(timeout=300)
        return proc.returncode, out, err

    def kill_midway(self, mode: str, progress_sql: str, rng: random.Random, most: int) -> bool:
        """Start the child and SIGKILL it from outside at a random moment of its work: after
        1..``most`` more units of progress (counted by ``progress_sql``), plus a random few
        milliseconds, so the kill falls anywhere in an operation. False if it finished first."""
        proc = self.child(mode)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.communicate()[1][-2000:]
        with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)) as con:
            target = con.execute(progress_sql).fetchone()[0] + rng.randint(1, most)
            while proc.poll() is None and con.execute(progress_sql).fetchone()[0] < target:
                time.sleep(0.0005)
            time.sleep(rng.uniform(0.0, 0.004))
            alive = proc.poll() is None
            proc.kill()
        proc.communicate(timeout=60)
        return alive

    # -- what must hold after any crash -------------------------------------------------------
    def check(self) -> dict[str, int]:
        """Every inspection whole, every result whole; returns counts of what is there."""
        with closing(sqlite3.connect(self.db, timeout=30)) as con:
            con.row_factory = sqlite3.Row
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            heads = con.execute("SELECT * FROM inspections ORDER BY inspection_id").fetchall()
            results = con.execute("SELECT * FROM results").fetchall()
            audit = con.execute("SELECT * FROM audit ORDER BY audit_id").fetchall()
            hazards = {h["hazard_id"]: h for h in con.execute("SELECT * FROM hazards")}
            actions = con.execute("SELECT * FROM corrective_actions").fetchall()
            counters = dict(con.execute("SELECT name, value FROM counters").fetchall())
        events: dict[str, list] = {}
        for a in audit:
            events.setdefault(a["action"], []).append(a)
        by_item = {(r["inspection_id"], r["version"], r["item_id"]): r for r in results}

        # a recorded result: its audit row says exactly what it holds; a fail has its hazard
        # and corrective action, each with its own audit row
        last_record: dict[tuple, dict] = {}
        for a in events.get("item.record", []):
            last_record[(a["inspection_id"], a["version"], a["item_id"])] = json.loads(a["detail"])
        assert last_record.keys() == by_item.keys(), "a result without its audit row, or back"
        for key, r in by_item.items():
            after = last_record[key]["after"]
            assert after == {k: r[k] for k in after}, f"audit of {key} says {after}"
        raised = {json.loads(a["detail"])["hazard_id"] for a in events.get("hazard.raise", [])}
        created = {json.loads(a["detail"])["action_id"] for a in events.get("action.create", [])}
        assert raised == set(hazards), "a hazard without its audit row, or back"
        assert created == {a["action_id"] for a in actions}, "an action without its audit row"
        fails = {(k[0], k[2]): r for k, r in by_item.items() if r["result"] == "fail"}
        live = {h["hazard_id"]: h for h in hazards.values() if h["status"] == "open"}
        assert {(h["inspection_id"], h["item_id"]) for h in live.values()} == set(fails)
        for h in live.values():
            r = fails[(h["inspection_id"], h["item_id"])]
            assert (h["grade"], h["description"]) == (r["grade"], r["hazard"])
        withdrawn = {
            json.loads(a["detail"])["hazard_id"] for a in events.get("hazard.withdraw", [])
        }
        assert withdrawn == set(hazards) - set(live), "a hazard withdrawn without its audit row"
        open_actions = sorted(a["hazard_id"] for a in actions if a["status"] == "open")
        assert open_actions == sorted(live), "not one open corrective action per open hazard"
        # numbers are drawn in the same transaction as what they number: no gaps, no reuse
        assert sorted(hazards) == [f"HZ-{n:04d}" for n in range(1, len(hazards) + 1)]
        assert counters.get("hazard", 0) == len(hazards)
        assert counters.get("inspection", 0) == len(heads)

        # an inspection: open with no trace of a signature, or signed with a hash that
        # verifies and one audit row
        signs: dict[tuple, list] = {}
        for a in events.get("inspection.sign", []):
            signs.setdefault((a["inspection_id"], a["version"]), []).append(a)
        ins = Inspections(self.db, self.db.parent)
        try:
            for h in heads:
                key = (h["inspection_id"], h["version"])
                if h["status"] == "open":
                    assert (h["signed_by"], h["signed_at"], h["record_hash"]) == (None,) * 3, key
                    assert key not in signs, f"{key} is open but its signing was audited"
                    continue
                assert h["status"] == "signed" and h["signed_by"] == "Zhang San", key
                assert h["signed_at"] and h["record_hash"], key
                assert ins.verify(*key), f"{key}: the signed hash does not match the record"
                assert [json.loads(a["detail"])["record_hash"] for a in signs.get(key, [])] == [
                    h["record_hash"]
                ], f"{key}: not exactly one audit row for its signature"
                assert sum(k[:2] == key for k in by_item) == ITEMS, f"{key} signed incomplete"
        finally:
            ins.close()
        return {
            "inspections": len(heads),
            "signed": sum(h["status"] == "signed" for h in heads),
            "results": len(results),
            "hazards": len(hazards),
        }


#: statements inside the write transactions, to die at (the n-th time one starts)
RECORD_POINTS = [
    r"^INSERT INTO results",
    r"^INSERT INTO audit",
    r"^INSERT INTO counters",
    r"^INSERT INTO hazards",
    r"^INSERT INTO corrective_actions",
    r"^COMMIT",
]
SIGN_POINTS = [
    r"^BEGIN",
    r"^UPDATE inspections SET status\s*=\s*'signed'",
    r"^INSERT INTO audit",
    r"^COMMIT",
]


RESULTS = "SELECT COUNT(*) FROM results"
SIGNED = "SELECT COUNT(*) FROM inspections WHERE status = 'signed'"


@pytest.mark.slow
def test_kill_9_while_recording_and_signing_leaves_every_inspection_whole(tmp_path):
    rec = Records(tmp_path / "records")
    started = rec.start_inspections(120)  # 720 results to record, 120 signatures
    rng = random.Random(83)
    dead = {"at a statement": 0, "at random": 0}

    # recording: killed at random moments of the work, then at each statement of the record
    # transaction
    for _ in range(8):
        dead["at random"] += rec.kill_midway("record", RESULTS, rng, most=60)
        rec.check()
    for point in RECORD_POINTS:
        rc, _, err = rec.run("record", kill_at=f"{point}@{rng.randint(1, 12)}")
        assert rc == -signal.SIGKILL, f"never reached {point!r}: rc {rc} {err[-1500:]}"
        dead["at a statement"] += 1
        rec.check()
    rc, _, err = rec.run("record")  # the re-run records whatever the crashes left out
    assert rc == 0, err[-2000:]
    counts = rec.check()
    assert counts["results"] == len(started) * ITEMS and counts["hazards"] > 0

    # signing: the same, the other way round (a signature takes a millisecond or two)
    for point in SIGN_POINTS:
        rc, _, err = rec.run("sign", kill_at=f"{point}@{rng.randint(1, 5)}")
        assert rc == -signal.SIGKILL, f"never reached {point!r}: rc {rc} {err[-1500:]}"
        dead["at a statement"] += 1
        rec.check()
    for _ in range(8):
        dead["at random"] += rec.kill_midway("sign", SIGNED, rng, most=5)
        rec.check()
    rc, _, err = rec.run("sign")  # the re-run signs whatever the crashes left open
    assert rc == 0, err[-2000:]
    counts = rec.check()
    assert counts["signed"] == counts["inspections"] == len(started)
    assert dead["at random"] >= 12, f"the children finished before the kills: {dead}"


def test_sign_refuses_a_record_that_changed_after_it_was_read(tmp_path, records_url):
    """The race the two-process test below finds by timing, made to happen every time: another
    worker records a result between the signer's read and its write transaction (on SQLite and
    on PostgreSQL)."""
    other = Inspections(records_url, tmp_path)
    iid = other.start(_checklist(), site="plant 1", inspector="Zhang San").inspection_id

    class Signer(Inspections):
        interrupted = False

        def record_json(self, inspection_id, version=None):
            record = super().record_json(inspection_id, version)
            if not self.interrupted:
                self.interrupted = True
                other.record(iid, "1", result="pass", note="seen again by someone else")
            return record

    signer = Signer(records_url, tmp_path)
    try:
        for item in range(1, ITEMS + 1):
            other.record(iid, str(item), result="pass")
        with pytest.raises(SignatureError, match="changed while it was being signed"):
            signer.sign(iid, "Zhang San")
        assert other.show(iid)["status"] == "open"
        assert not [a for a in other.audit(iid) if a["action"] == "inspection.sign"]
        signed = signer.sign(iid, "Zhang San")  # looked again: now it signs what is there
        assert other.verify(iid) and signed["record_hash"] == other.show(iid)["record_hash"]
        notes = {i["id"]: i["result"]["note"] for i in other.record_json(iid)["items"]}
        assert notes["1"] == "seen again by someone else"
    finally:
        signer.close()
        other.close()


def _hold_write_lock(db: Path, seconds: float, writers: list[subprocess.Popen]) -> bool:
    """Once the writers have begun inspections, take the write lock for ``seconds``; False
    when they were done first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(w.poll() is None for w in writers):
        try:
            uri = f"file:{db}?mode=rw"  # never create it: the writers race to do that
            with closing(sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)) as con:
                if con.execute("SELECT COUNT(*) FROM inspections").fetchone()[0] < 2:
                    raise sqlite3.OperationalError("not yet")
                con.execute("BEGIN IMMEDIATE")
                time.sleep(seconds)
                con.execute("COMMIT")
                return True
        except sqlite3.OperationalError:  # no database or no table yet
            time.sleep(0.01)
    return False


@pytest.mark.slow
def test_two_processes_write_one_records_database_without_locking_errors(tmp_path):
    # both start on a database file that does not exist yet: the migrations race too
    rec = Records(tmp_path / "shared", create=False)
    writers = [rec.child("write", "15", tag) for tag in ("A", "B")]
    # and a third holds the write lock for a while in the middle of it: they wait (SQLite's
    # busy timeout) instead of failing with 'database is locked'
    held = _hold_write_lock(rec.db, seconds=1.5, writers=writers)
    ids: list[str] = []
    for w in writers:
        out, err = w.communicate(timeout=600)
        assert "locked" not in err and w.returncode == 0, err[-3000:]
        ids += json.loads(out.strip().splitlines()[-1])
    assert len(ids) == len(set(ids)) == 30, f"inspection ids drawn twice: {sorted(ids)}"
    counts = rec.check()
    assert counts["inspections"] == counts["signed"] == 30
    with closing(sqlite3.connect(rec.db)) as con:
        per = dict(
            con.execute(
                "SELECT inspection_id, COUNT(*) FROM audit WHERE action IN "
                "('inspection.start', 'item.record', 'inspection.sign') GROUP BY inspection_id"
            ).fetchall()
        )
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert per == {iid: 1 + ITEMS + 1 for iid in ids}, "audit trail incomplete"
    assert held, "the writers finished before the lock could be held against them"

    # one process signs everything while the other records into the same inspections: a
    # result is either inside the signed hash or refused, never signed over unseen
    more = Records(tmp_path / "race")
    more.start_inspections(80)
    assert more.run("record")[0] == 0
    racers = [more.child("sign"), more.child("touch")]
    for racer in racers:
        _, err = racer.communicate(timeout=300)
        assert racer.returncode == 0 and "locked" not in err, err[-3000:]
    counts = more.check()  # every signed inspection verifies against what it holds
    assert counts["signed"] == 80
