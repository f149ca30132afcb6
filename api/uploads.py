"""Uploaded documents: saved under ``<data_dir>/uploads``, ingested in the background.

The uploads folder is a corpus root of its own: a file's ``source`` is its (sanitised) name,
and the metadata given at upload time goes to the folder's ``manifest.csv``, so
``anquan ingest <data_dir>/uploads`` re-ingests the same documents with the same sources and
metadata. One worker thread ingests uploads in turn (registry writes are serialised anyway);
each upload is a job whose status can be polled, from any of the service's worker processes
(jobs live in ``<data_dir>/api.sqlite``; a file lock guards the folder's manifest)::

    queued ─▶ reading ─▶ embedding ─▶ done        (searchable from "embedding" on, lexically)
                    └──▶ failed (with the loader's reason)
"""

from __future__ import annotations

import csv
import json
import logging
import os
import queue
import re
import secrets
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from ingest.corpus import CorpusFile, read_manifest
from ingest.errors import ConfigError, IngestError
from ingest.kb import KnowledgeBase
from ingest.loaders import SUPPORTED_EXTENSIONS
from ingest.pipeline import ingest_file

log = logging.getLogger(__name__)

MANIFEST_FIELDS = (
    "path",
    "title",
    "doc_type",
    "jurisdiction",
    "issuer",
    "language",
    "industries",
    "effective_date",
    "source",
    "source_url",
    "licence_basis",
)
#: metadata a person may give with an upload
META_FIELDS = (
    "title",
    "doc_type",
    "jurisdiction",
    "issuer",
    "language",
    "industries",
    "effective_date",
)
_UNSAFE = re.compile(r"[^\w.\-()（）\[\]【】 ]+", re.UNICODE)


def sanitise_filename(name: str) -> str:
    """A safe file name from whatever a client sent: no folders, no traversal, no control
    characters, no leading dots; letters of any script (Chinese names stay readable) kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" ._")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = re.sub(r"_+", "_", stem)[:120].strip(" ._")
    if not stem:
        raise ConfigError("the file name has no usable characters; name the file, e.g. rules.pdf")
    return f"{stem}.{ext.lower()}" if ext else stem


def check_extension(name: str) -> str:
    ext = Path(name).suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        from ingest.errors import UnsupportedFormat

        raise UnsupportedFormat(
            f"{name}: file type {ext or '(none)'!r} cannot be read. "
            f"Supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
        )
    return ext


@dataclass
class Job:
    job_id: str
    source: str
    status: str = "queued"
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    doc_id: str | None = None
    chunks: int = 0
    result: str | None = None
    error: str | None = None
    error_code: str | None = None

    @property
    def searchable(self) -> bool:
        return self.status in ("embedding", "done")

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "searchable": self.searchable,
            "status_url": f"/v1/documents/jobs/{self.job_id}",
        }


#: jobs this process started: a job with this pid that is not one of them was started by an
#: earlier process that had the same pid (a container's service restarted)
_OWN_JOBS: set[str] = set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class JobTable:
    """Upload jobs in SQLite, shared by the service's workers: whichever worker a client's
    poll reaches answers for a job another one runs. A job whose process died before it
    finished reads as failed, so no client polls forever."""

    def __init__(self, path: Path, keep: int = 500) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS upload_jobs (job_id TEXT PRIMARY KEY, "
            "source TEXT NOT NULL, pid INTEGER NOT NULL, created_at REAL NOT NULL, "
            "job TEXT NOT NULL)"
        )
        self._db.commit()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def save(self, job: Job) -> None:
        row = (job.job_id, job.source, os.getpid(), job.created_at, json.dumps(asdict(job)))
        _OWN_JOBS.add(job.job_id)
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO upload_jobs VALUES (?,?,?,?,?)", row)
            if job.finished:  # forget the oldest once there are more than ``keep``
                self._db.execute(
                    "DELETE FROM upload_jobs WHERE job_id NOT IN (SELECT job_id FROM "
                    "upload_jobs ORDER BY created_at DESC LIMIT ?)",
                    (self.keep,),
                )

    def _select(self, where: str = "", params: tuple = ()) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT pid, job FROM upload_jobs {where} ORDER BY created_at DESC LIMIT ?",
                (*params, self.keep),
            ).fetchall()
        return [self._job(pid, data) for pid, data in rows]

    def _job(self, pid: int, data: str) -> Job:
        job = Job(**json.loads(data))
        if job.finished or job.job_id in _OWN_JOBS:
            return job
        if pid == os.getpid() or not _alive(pid):  # our pid, not our job: an earlier process
            job.status, job.error_code = "failed", "interrupted"
            job.error = "the service stopped during this ingest; upload the file again"
        return job

    def get(self, job_id: str) -> Job | None:
        found = self._select("WHERE job_id=?", (job_id,))
        return found[0] if found else None

    def values(self) -> list[Job]:
        """The latest jobs, newest first."""
        return self._select()

    def unfinished(self, source: str) -> Job | None:
        return next((j for j in self._select("WHERE source=?", (source,)) if not j.finished), None)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM upload_jobs").fetchone()[0])


class Uploads:
    """The uploads folder, its manifest, and the background ingest worker."""

    def __init__(self, kb: KnowledgeBase, folder: Path, jobs_db: Path | None = None) -> None:
        self.kb = kb
        self.folder = folder.absolute()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jobs = JobTable(jobs_db or kb.settings.data_dir / "api.sqlite")
        #: the manifest is rewritten whole: one process at a time (several workers share it)
        self._manifest_lock = FileLock(self.folder.with_name(self.folder.name + ".lock"))
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    # -- the worker ------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="anquan-uploads", daemon=True)
            self._worker.start()

    def stop(self, timeout: float = 30.0) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=timeout)
            if self._worker.is_alive():  # still ingesting: it keeps the job table it writes to
                return
            self._worker = None
        self.jobs.close()

    def _update(self, job: Job, **changes: Any) -> None:
        """Change a job and publish the change to every worker."""
        for key, value in changes.items():
            setattr(job, key, value)
        if job.finished and job.finished_at is None:
            job.finished_at = time.time()
        self.jobs.save(job)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                task()
            except Exception:  # the worker must outlive one bad file
                log.exception("background document task failed")

    def _ingest(self, job: Job, path: Path) -> None:
        try:
            self._ingest_steps(job, path)
        except Exception as exc:
            self._update(
                job, status="failed", error=f"{type(exc).__name__}: {exc}", error_code="error"
            )
            raise

    def _ingest_steps(self, job: Job, path: Path) -> None:
        self._update(job, status="reading")
        try:
            with self._manifest_lock:
                manifest = read_manifest(self.folder)
            result, n = ingest_file(self.kb, CorpusFile(self.folder, path), manifest)
        except IngestError as exc:
            self.kb.registry.record_failure(job.source, str(path), exc.code, str(exc))
            self._update(job, status="failed", error=str(exc), error_code=exc.code)
            return
        doc = self.kb.registry.document(job.source)
        job.doc_id, job.chunks, job.result = (doc.doc_id if doc else None), n, result
        self.kb.lexical()  # searchable now, lexically (other workers: at their next search)
        self._update(job, status="embedding")
        # as many vectors as the upload has chunks: with no backlog, exactly its own; behind a
        # backlog (a fresh 'make run'), the background embedding gets to the rest in turn.
        # Another worker embedding holds the lock: this waits for its turn
        self.kb.sync_vectors(limit=max(n, 1))
        self._update(job, status="done")

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Whether every job finished within ``timeout`` (tests, shutdown)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(j.finished for j in self.jobs.values()):
                return True
            time.sleep(0.05)
        return False

    # -- files -----------------------------------------------------------------------
    def path_of(self, name: str) -> Path:
        path = (self.folder / name).absolute()
        if path.parent != self.folder:  # sanitise_filename already prevents this; belt and braces
            raise ConfigError(f"{name!r} is not a plain file name")
        return path

    def submit(self, name: str, tmp: Path, meta: dict[str, str]) -> Job:
        """Move an uploaded temporary file into place and queue its ingest."""
        path = self.path_of(name)
        with self._lock, self._manifest_lock:
            os.replace(tmp, path)
            self._write_manifest_row(name, meta)
        job = Job(job_id="job_" + secrets.token_hex(6), source=name)
        self.jobs.save(job)
        self._queue.put(lambda: self._ingest(job, path))
        return job

    def settle_vectors_later(self) -> None:
        """Drop the vectors of removed chunks in the background (search ignores them already)."""

        def settle() -> None:
            self.kb.sync_vectors(limit=0)

        self._queue.put(settle)

    def busy(self, source: str) -> Job | None:
        """The unfinished job of ``source``, if any, in any worker."""
        return self.jobs.unfinished(source)

    def forget(self, source: str) -> bool:
        """Delete an uploaded file and its manifest row; False when ``source`` is not an upload."""
        try:
            path = self.path_of(source)
        except ConfigError:
            return False
        with self._lock, self._manifest_lock:
            found = path.is_file()
            if found:
                path.unlink()
            self._write_manifest_row(source, None)
        return found

    def is_upload(self, path: str) -> bool:
        try:
            return Path(path).absolute().parent == self.folder
        except (OSError, ValueError):
            return False

    def _write_manifest_row(self, name: str, meta: dict[str, str] | None) -> None:
        rows = read_manifest(self.folder)
        rows.pop(name, None)
        if meta:
            rows[name] = {"path": name, **{k: v for k, v in meta.items() if v}}
        manifest = self.folder / "manifest.csv"
        if not rows:
            manifest.unlink(missing_ok=True)
            return
        tmp = manifest.with_suffix(".csv.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for key in sorted(rows):
                writer.writerow(rows[key])
        os.replace(tmp, manifest)
