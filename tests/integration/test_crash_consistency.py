"""``kill -9`` during ingest, at random points and repeatedly: the next run finishes the job.

Runs the real command line in a subprocess on real corpus folders (hashing embedder, so the
test measures consistency rather than model speed). Processes are killed while files are
read and registered, and while vectors are written (timed from the registry: right after the
first batch is marked embedded, and at a random point later); the corpus then changes (a file
shrinks and changes, one goes, one comes) and the killing goes on. After every kill the
knowledge base must hold its invariants, read straight from the files (no code path of the
knowledge base that could repair them on the way): each document has its whole chunk set,
every chunk marked embedded has its vector with its text, every vector belongs to a chunk or
waits in the delete queue, the saved lexical index is for the current chunk set or is not used.
The final re-run must give exactly what a clean ingest of the same corpus gives.

The state readers and checks here are shared with ``test_faults.py`` (full disk).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingest.lexical import LexicalIndex
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLLECTION = "anquan"


def cli_env(data: Path, corpus: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ANQUAN_CHROMA_URL", None)
    env.update(
        ANQUAN_DATA_DIR=str(data),
        ANQUAN_CORPUS=str(corpus),
        ANQUAN_EMBEDDER="hashing",
        ANQUAN_EMBED_BATCH_SIZE="8",
        PYTHONPATH=str(REPO),
    )
    return env


def ingest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", "ingest", "--json", *args]


def start_ingest(data: Path, corpus: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        ingest_cmd(*args),
        env=cli_env(data, corpus),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
        **popen,
    )


def run_ingest_cli(data: Path, corpus: Path, *args: str, **run) -> subprocess.CompletedProcess:
    return subprocess.run(
        ingest_cmd(*args),
        env=cli_env(data, corpus),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        **run,
    )


# -- the knowledge base as it lies on disk ---------------------------------------------------
@dataclass
class KBState:
    integrity: str
    #: chunk_id → text, in the registry's order (doc_id, seq): the lexical index's order
    chunks: dict[str, str]
    doc_of: dict[str, str]
    seqs: dict[str, list[int]]
    #: doc_id → the chunk_count its documents row claims
    docs: dict[str, int]
    embedded: set[str]
    deletes: set[str]
    generation: int
    #: chunk_id → the text stored with its vector in Chroma
    vectors: dict[str, str] = field(default_factory=dict)
    #: ids of the saved lexical index if it is stamped with ``generation`` and loads, else None
    lexical_ids: list[str] | None = None

    @property
    def pending(self) -> int:
        return len(self.chunks) - len(self.embedded)


def read_state(data: Path) -> KBState:
    """Read registry, vectors and lexical index straight from their files, writing nothing."""
    if not (data / "registry.sqlite").exists():  # killed before it was made
        return KBState("ok", {}, {}, {}, {}, set(), set(), 0, read_vectors(data))
    with closing(sqlite3.connect(data / "registry.sqlite", timeout=30)) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute(
            "SELECT chunk_id, doc_id, seq, text, embedded FROM chunks ORDER BY doc_id, seq"
        ).fetchall()
        docs = dict(db.execute("SELECT doc_id, chunk_count FROM documents").fetchall())
        deletes = {r[0] for r in db.execute("SELECT chunk_id FROM vector_deletes")}
        gen = db.execute("SELECT value FROM kv WHERE key='generation'").fetchone()
    seqs: dict[str, list[int]] = {}
    for _, doc_id, seq, _, _ in rows:
        seqs.setdefault(doc_id, []).append(seq)
    state = KBState(
        integrity=integrity,
        chunks={r[0]: r[3] for r in rows},
        doc_of={r[0]: r[1] for r in rows},
        seqs=seqs,
        docs=docs,
        embedded={r[0] for r in rows if r[4]},
        deletes=deletes,
        generation=int(gen[0]) if gen else 0,
    )
    state.vectors = read_vectors(data)
    index = LexicalIndex.load(data / "lexical", state.generation)
    state.lexical_ids = list(index.ids) if index is not None else None
    return state


def read_vectors(data: Path) -> dict[str, str]:
    """chunk_id → stored text of every vector in the embedded Chroma store (a fresh client,
    closed again, so nothing is cached from an earlier look)."""
    if not (data / "chroma").is_dir():
        return {}
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from chromadb.errors import NotFoundError

    client = chromadb.PersistentClient(
        path=str(data / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    try:
        try:
            col = client.get_collection(COLLECTION)
        except NotFoundError:
            return {}
        out: dict[str, str] = {}
        offset = 0
        while True:
            got = col.get(include=["documents"], limit=2000, offset=offset)
            out.update(zip(got["ids"], got["documents"] or [], strict=True))
            if len(got["ids"]) < 2000:
                return out
            offset += 2000
    finally:
        client.close()


def assert_consistent(state: KBState, when: str = "") -> None:
    """What must hold at every moment, a crash included (the design in ingest/registry.py)."""
    at = f" ({when})" if when else ""
    assert state.integrity == "ok", f"registry damaged{at}: {state.integrity}"
    for doc_id, count in state.docs.items():
        assert state.seqs.get(doc_id) == list(range(count)), (
            f"document {doc_id} claims {count} chunks but has seqs {state.seqs.get(doc_id)}{at}"
        )
        assert count > 0, f"document row {doc_id} without chunks{at}"
    orphans = {cid for cid, d in state.doc_of.items() if d not in state.docs}
    assert not orphans, f"chunks without their document{at}: {sorted(orphans)[:5]}"
    unbacked = state.embedded - state.vectors.keys()
    assert not unbacked, f"chunks marked embedded without a vector{at}: {sorted(unbacked)[:5]}"
    wrong = {c for c in state.embedded if state.vectors[c] != state.chunks[c]}
    assert not wrong, f"chunks marked embedded whose vector has other text{at}: {sorted(wrong)[:5]}"
    stray = state.vectors.keys() - state.chunks.keys() - state.deletes
    assert not stray, f"vectors of no chunk, not queued for deletion{at}: {sorted(stray)[:5]}"
    if state.lexical_ids is not None:
        assert state.lexical_ids == list(state.chunks), f"lexical index stamped stale{at}"


def assert_settled(state: KBState, want: KBState) -> None:
    """After a finished run: exactly the clean result, and no orphan in any direction."""
    assert_consistent(state, "after the re-run")
    assert state.chunks == want.chunks, "chunks differ from a clean ingest"
    assert state.docs == want.docs, "documents differ from a clean ingest"
    assert state.vectors.keys() == state.chunks.keys(), (
        f"orphan vectors {sorted(state.vectors.keys() - state.chunks.keys())[:5]}, "
        f"missing vectors {sorted(state.chunks.keys() - state.vectors.keys())[:5]}"
    )
    assert state.vectors == state.chunks, "vectors hold other texts than their chunks"
    assert state.embedded == set(state.chunks), "chunks still waiting for vectors"
    assert not state.deletes, "vector deletions still queued"
    assert state.lexical_ids == list(state.chunks), "lexical index ids != registry ids"


# -- timing kills ----------------------------------------------------------------------------
def registry_count(data: Path, sql: str) -> int | None:
    """A count from the registry, read while another process writes (None before it exists)."""
    path = data / "registry.sqlite"
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            return db.execute(sql).fetchone()[0]
    except sqlite3.Error:  # tables not created yet, or a moment of contention: look again
        return None


PENDING = "SELECT COUNT(*) FROM chunks WHERE embedded=0"
DOCUMENTS = "SELECT COUNT(*) FROM documents"


def kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 300) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()``; False when it finished first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    proc.wait(timeout=600)
    return False


def kill_while_embedding(proc: subprocess.Popen, data: Path, after: int) -> bool:
    """Kill once ``after`` more vectors are marked than the most chunks seen pending: 1 means
    right after the first batch lands."""
    most = [0]

    def ready() -> bool:
        n = registry_count(data, PENDING)
        if n is None:
            return False
        most[0] = max(most[0], n)
        return most[0] - n >= after

    return kill_when(proc, ready)


def kill_while_reading(proc: subprocess.Popen, data: Path, documents: int) -> bool:
    """Kill once the registry holds ``documents`` documents: while the next file is loaded,
    chunked or written, wherever the moment falls."""

    def ready() -> bool:
        n = registry_count(data, DOCUMENTS)
        return n is not None and n >= documents

    return kill_when(proc, ready)


def clean_state(tmp: Path, corpus: Path) -> KBState:
    data = tmp / "clean"
    shutil.rmtree(data, ignore_errors=True)
    done = run_ingest_cli(data, corpus)
    assert done.returncode == 0, done.stderr[-2000:]
    want = read_state(data)
    assert want.chunks and want.vectors == want.chunks and want.lexical_ids == list(want.chunks)
    return want


# -- the test --------------------------------------------------------------------------------
FOLDERS = ("regulations/cn-local", "regulations/us/29cfr1910")  # 27 files, ~770 chunks
SHRINK = "regulations/cn-local/北京市安全生产条例(2022-05-25).md"
DROP = "regulations/us/29cfr1910/1910.303.html"
ADD = "regulations/cn/安全生产法(2021-06-10).md"


def _change_corpus(corpus: Path, shared: Path) -> None:
    """A file loses its second half and one kept line changes; one file goes; one comes."""
    path = corpus / SHRINK
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = lines[: len(lines) * 3 // 5]
    last = max(i for i, line in enumerate(kept) if line.strip())
    kept[last] += "（本条经修改）"
    path.chmod(0o644)
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    (corpus / DROP).chmod(0o644)
    (corpus / DROP).unlink()
    (corpus / ADD).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shared / ADD, corpus / ADD)


def test_repeated_kill_9_then_rerun_gives_exactly_the_clean_result(tmp_path, shared_corpus):
    corpus = tmp_path / "corpus"
    for rel in FOLDERS:
        shutil.copytree(shared_corpus / rel, corpus / rel)
    files = sum(1 for rel in FOLDERS for f in (corpus / rel).iterdir())
    shutil.copy(shared_corpus / "manifest.csv", corpus / "manifest.csv")
    crashed = tmp_path / "crashed"
    rng = random.Random(20261130)
    killed: dict[str, int] = {"reading": 0, "embedding": 0}

    def crash(phase: str, kill: Callable[[subprocess.Popen], bool], *args: str) -> None:
        if kill(start_ingest(crashed, corpus, *args)):
            killed[phase] += 1
            state = read_state(crashed)
            assert_consistent(state, f"after a kill while {phase}")
            if phase == "embedding":  # it was writing vectors: some are in, some are not
                assert state.embedded and state.pending, "the kill missed the embedding phase"

    # 1. the first ingest, killed while reading (each time a few files further on) and while
    #    writing vectors (right after the first batch lands, and further on)
    for documents in sorted(rng.sample(range(1, files), 3)):
        crash("reading", lambda p, n=documents: kill_while_reading(p, crashed, n))
    crash("embedding", lambda p: kill_while_embedding(p, crashed, after=1))
    crash("embedding", lambda p: kill_while_embedding(p, crashed, after=rng.randint(40, 300)))
    crash("embedding", lambda p: kill_while_embedding(p, crashed, after=1))
    assert run_ingest_cli(crashed, corpus).returncode == 0
    first = read_state(crashed)
    assert first.pending == 0 and first.vectors == first.chunks

    # 2. the corpus changes (retired vectors to delete, new ones to write); kill again
    _change_corpus(corpus, shared_corpus)
    crash("reading", lambda p: kill_while_reading(p, crashed, files + 1), "--prune")
    crash("embedding", lambda p: kill_while_embedding(p, crashed, after=1), "--prune")
    crash("embedding", lambda p: kill_while_embedding(p, crashed, after=rng.randint(8, 40)))
    assert killed["reading"] >= 3, f"too few kills landed while reading: {killed}"
    assert killed["embedding"] >= 4, f"too few kills landed while embedding: {killed}"

    final = run_ingest_cli(crashed, corpus, "--prune")
    assert final.returncode == 0, final.stderr[-2000:]
    got = read_state(crashed)
    want = clean_state(tmp_path, corpus)
    assert_settled(got, want)
    assert got.deletes == set() and first.chunks.keys() - got.chunks.keys(), (
        "the changed corpus retired no chunk: the test lost its delete path"
    )
