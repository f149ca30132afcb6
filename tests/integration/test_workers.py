"""Several API workers on one data dir and a shared Chroma server (``anquan serve --workers``).

The end-to-end test starts a real ``chroma run`` and ``python -m api.cli serve --workers 2``,
uploads a real document through one worker and finds it through the other, and reads back
through one worker an inspection written through the other. The fast tests around it pin the
pieces: the refusal on the embedded store, the embedding lock, the shared job table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from filelock import FileLock

from api.app import _embed_in_background, settings_env
from api.cli import main
from api.uploads import _OWN_JOBS, Job, JobTable
from evals.load import LocalServer
from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.conftest import corpus_file

#: the knowledge base the workers start with, and the document uploaded through one of them
START_FILES = [
    "regulations/cn/女职工劳动保护特别规定(2012-04-28).md",
    "regulations/us/29cfr1910/1910.23.html",
]
UPLOAD = "regulations/cn/安全生产许可证条例(2014-07-29).md"
QUESTION = "安全生产许可证的有效期为几年"
DEADLINE_S = 120.0


# -- the pieces ------------------------------------------------------------------------------
def test_several_workers_on_the_embedded_store_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ANQUAN_CHROMA_URL", raising=False)
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--workers 2 needs a Chroma server" in err
    assert f"chroma run --path {data}/chroma" in err and "ANQUAN_CHROMA_URL=" in err
    assert not data.exists()  # refused before anything was written


def test_settings_pass_to_workers_through_the_environment(tmp_path, monkeypatch):
    given = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "d",
        corpus=[tmp_path / "a", tmp_path / "b"],
        embedder="hashing",
        chroma_url="http://127.0.0.1:9",
        embed_max_chars=300,
    )
    for name, value in settings_env(given).items():
        monkeypatch.setenv(name, value)
    rebuilt = Settings(_env_file=None)  # type: ignore[call-arg]
    assert rebuilt.model_dump() == given.model_dump()


def _settings(tmp_path: Path, corpus: Path, **extra) -> Settings:
    """A hashing-embedder knowledge base under ``tmp_path``, ignoring any ``.env``."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        corpus=[corpus],
        embedder="hashing",
        embed_cache=tmp_path / "cache.sqlite",
        **extra,
    )


def _pending_kb(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(corpus_file(START_FILES[0]), corpus)
    settings = _settings(tmp_path, corpus)
    kb = open_kb(settings, embedder=HashingEmbedder())
    run_ingest(kb, None, embed=False)
    return kb


def test_one_process_embeds_at_a_time(tmp_path):
    kb = _pending_kb(tmp_path)
    pending = kb.registry.pending_count()
    assert pending > 10
    other = FileLock(kb.settings.data_dir / "embed.lock")  # another worker, embedding
    with other:
        assert kb.sync_vectors(wait=False) == 0  # skips this round
        assert kb.registry.pending_count() == pending
        stop = threading.Event()
        background = threading.Thread(target=_embed_in_background, args=(kb, stop))
        background.start()
        time.sleep(0.5)
        assert background.is_alive() and kb.registry.pending_count() == pending
    background.join(timeout=30)  # the lock is free: it takes its turn and finishes the backlog
    assert not background.is_alive()
    assert kb.registry.pending_count() == 0 and kb.vectors.count() == pending
    kb.close()


def test_a_waiting_sync_takes_its_turn(tmp_path):
    kb = _pending_kb(tmp_path)
    pending = kb.registry.pending_count()
    other = FileLock(kb.settings.data_dir / "embed.lock")
    other.acquire()
    written: list[int] = []
    waiter = threading.Thread(target=lambda: written.append(kb.sync_vectors()))
    waiter.start()
    time.sleep(0.3)
    assert waiter.is_alive() and not written  # an upload waits for the other worker's round
    other.release()
    waiter.join(timeout=30)
    assert written == [pending] and kb.registry.pending_count() == 0
    kb.close()


def test_upload_jobs_are_shared_between_workers(tmp_path):
    mine, theirs = JobTable(tmp_path / "api.sqlite"), JobTable(tmp_path / "api.sqlite")
    job = Job(job_id="job_1", source="rules.md", status="embedding", chunks=7)
    mine.save(job)
    seen = theirs.get("job_1")
    assert seen is not None and (seen.status, seen.chunks, seen.source) == (
        "embedding",
        7,
        "rules.md",
    )
    assert theirs.unfinished("rules.md") is not None and theirs.unfinished("other.md") is None
    job.status, job.finished_at = "done", time.time()
    mine.save(job)
    assert theirs.get("job_1").status == "done" and theirs.unfinished("rules.md") is None  # type: ignore[union-attr]
    assert [j.job_id for j in theirs.values()] == ["job_1"] and len(theirs) == 1
    mine.close()
    theirs.close()


def test_a_job_whose_worker_died_reads_as_failed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    table = JobTable(tmp_path / "api.sqlite")
    table.save(Job(job_id="job_2", source="a.md", status="reading"))
    table._db.execute("UPDATE upload_jobs SET pid=?", (dead.pid,))  # another worker's job
    table._db.commit()
    _OWN_JOBS.discard("job_2")
    job = table.get("job_2")
    assert job is not None and (job.status, job.error_code) == ("failed", "interrupted")
    assert "upload the file again" in (job.error or "")
    assert table.unfinished("a.md") is None  # a new upload of the same name is not refused
    # an earlier service with this very pid (a restarted container) left a job unfinished
    table.save(Job(job_id="job_3", source="b.md", status="embedding"))
    _OWN_JOBS.discard("job_3")
    assert table.get("job_3").status == "failed"  # type: ignore[union-attr]
    table.close()


# -- two real workers ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_workers(tmp_path_factory, chroma_server):
    """Two workers over a small real knowledge base, shared by the tests below (starting
    them is most of the cost)."""
    tmp_path = tmp_path_factory.mktemp("workers")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for rel in START_FILES:
        shutil.copy(corpus_file(rel), corpus)
    settings = _settings(
        tmp_path,
        corpus,
        chroma_url=chroma_server,
        collection=f"workers_{os.getpid()}_{time.monotonic_ns()}",
    )
    kb = open_kb(settings, embedder=HashingEmbedder())
    report = run_ingest(kb, None)
    assert report.total_chunks > 20 and kb.registry.pending_count() == 0
    kb.close()
    env = {
        **settings_env(settings),
        "ANQUAN_LLM": "extractive",
        "ANQUAN_API_RATE_LIMIT_PER_MINUTE": "0",
        "ANQUAN_RECORDS_DB": str(settings.data_dir / "records.sqlite"),
    }
    with LocalServer(env=env, workers=2, ready_timeout=DEADLINE_S) as server:
        yield server


def _get(url: str, **params) -> httpx.Response:
    """A new connection each time, so that requests spread over the workers."""
    return httpx.get(url, params=params, timeout=30)


def _worker(r: httpx.Response) -> str:
    return r.headers["x-anquan-worker"]


@pytest.mark.integration
@pytest.mark.slow
def test_an_upload_to_one_worker_is_found_through_the_other(two_workers):
    base = two_workers.base_url
    assert len(two_workers.pids) == 2
    r = httpx.post(
        base + "/v1/documents",
        params={"filename": Path(UPLOAD).name, "doc_type": "regulation", "jurisdiction": "CN"},
        content=corpus_file(UPLOAD).read_bytes(),
        timeout=30,
    )
    assert r.status_code == 202, r.text
    job, ingested_by = r.json(), _worker(r)
    source = job["source"]

    # the job's status, polled from whichever worker the connection reaches
    status: dict = {}
    answered: set[str] = set()
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end and not (status.get("status") == "done" and len(answered) == 2):
        s = _get(base + job["status_url"])
        assert s.status_code == 200, s.text  # never "no such job" from the other worker
        status = s.json()
        answered.add(_worker(s))
        time.sleep(0.1)
    assert status["status"] == "done" and status["chunks"] > 5, status
    assert answered == two_workers.pids

    # every worker finds it: lexically (its index follows the registry) and densely (the
    # vectors the ingesting worker wrote to the shared Chroma server)
    found: dict[str, int] = {}
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end and len(found) < 2:
        s = _get(base + "/v1/search", q=QUESTION, k=10)
        assert s.status_code == 200, s.text
        if any(h["source"] == source for h in s.json()["results"]):
            d = _get(base + "/v1/search", q=QUESTION, k=5, mode="dense", where=f"source={source}")
            if _worker(d) == _worker(s):
                found[_worker(s)] = len(d.json()["results"])
    assert set(found) == two_workers.pids, (found, ingested_by)
    assert all(n > 0 for n in found.values())
    top = _get(base + "/v1/search", q=QUESTION, k=3).json()["results"]
    assert top[0]["source"] == source and "有效期为3年" in "".join(h["text"] for h in top)


@pytest.mark.integration
@pytest.mark.slow
def test_a_record_written_through_one_worker_is_read_through_the_other(two_workers):
    base = two_workers.base_url
    checklist = {
        "title": "女职工劳动保护 检查表",
        "items": [
            {
                "question": "孕期女职工是否安排了夜班劳动？",
                "category": "女职工保护",
                "basis": [{"source": Path(START_FILES[0]).name, "locator": "第九条"}],
            }
        ],
    }
    r = httpx.post(
        base + "/v1/inspections",
        json={"checklist": checklist, "site": "一号车间", "inspector": "王工"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    created, writer = r.json(), _worker(r)
    inspection_id = created["inspection"]["id"]
    end = time.monotonic() + DEADLINE_S
    read = None
    while time.monotonic() < end:
        s = _get(base + f"/v1/inspections/{inspection_id}")
        if _worker(s) != writer:
            read = s
            break
    assert read is not None, "the other worker never answered"
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["inspection"]["id"] == inspection_id and body["inspection"]["site"] == "一号车间"
    assert [i["question"] for i in body["items"]] == ["孕期女职工是否安排了夜班劳动？"]
