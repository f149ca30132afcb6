"""Uploaded documents: saved under ``<data_dir>/uploads``, ingested in the background.

The uploads folder is a corpus root of its own: a file's ``source`` is its (sanitised) name,
and the metadata given at upload time goes to the folder's ``manifest.csv``, so
``anquan ingest <data_dir>/uploads`` re-ingests the same documents with the same sources and
metadata. One worker thread ingests uploads in turn (registry writes are serialised anyway);
each upload is a job whose status can be polled::

    queued ─▶ reading ─▶ embedding ─▶ done        (searchable from "embedding" on, lexically)
                    └──▶ failed (with the loader's reason)
"""

from __future__ import annotations

import csv
import logging
import os
import queue
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "searchable": self.searchable,
            "status_url": f"/v1/documents/jobs/{self.job_id}",
        }


class Uploads:
    """The uploads folder, its manifest, and the background ingest worker."""

    def __init__(self, kb: KnowledgeBase, folder: Path) -> None:
        self.kb = kb
        self.folder = folder.absolute()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jobs: dict[str, Job] = {}
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
            self._worker = None

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
            job.status, job.error, job.error_code = (
                "failed",
                f"{type(exc).__name__}: {exc}",
                "error",
            )
            job.finished_at = time.time()
            raise

    def _ingest_steps(self, job: Job, path: Path) -> None:
        job.status = "reading"
        try:
            result, n = ingest_file(
                self.kb, CorpusFile(self.folder, path), read_manifest(self.folder)
            )
        except IngestError as exc:
            job.status, job.error, job.error_code = "failed", str(exc), exc.code
            job.finished_at = time.time()
            self.kb.registry.record_failure(job.source, str(path), exc.code, str(exc))
            return
        doc = self.kb.registry.document(job.source)
        job.doc_id, job.chunks, job.result = (doc.doc_id if doc else None), n, result
        self.kb.lexical()  # searchable now, lexically
        job.status = "embedding"
        # as many vectors as the upload has chunks: with no backlog, exactly its own; behind a
        # backlog (a fresh 'make run'), the background embedding gets to the rest in turn
        self.kb.sync_vectors(limit=max(n, 1))
        job.status = "done"
        job.finished_at = time.time()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Whether every job finished within ``timeout`` (tests, shutdown)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(j.status in ("done", "failed") for j in list(self.jobs.values())):
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
        with self._lock:
            os.replace(tmp, path)
            self._write_manifest_row(name, meta)
            job = Job(job_id="job_" + secrets.token_hex(6), source=name)
            self.jobs[job.job_id] = job
            self._prune_jobs()
        self._queue.put(lambda: self._ingest(job, path))
        return job

    def settle_vectors_later(self) -> None:
        """Drop the vectors of removed chunks in the background (search ignores them already)."""

        def settle() -> None:
            self.kb.sync_vectors(limit=0)

        self._queue.put(settle)

    def busy(self, source: str) -> Job | None:
        """The unfinished job of ``source``, if any."""
        return next(
            (
                j
                for j in self.jobs.values()
                if j.source == source and j.status not in ("done", "failed")
            ),
            None,
        )

    def forget(self, source: str) -> bool:
        """Delete an uploaded file and its manifest row; False when ``source`` is not an upload."""
        try:
            path = self.path_of(source)
        except ConfigError:
            return False
        with self._lock:
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

    def _prune_jobs(self, keep: int = 500) -> None:
        if len(self.jobs) > keep:
            done = sorted(
                (j for j in self.jobs.values() if j.finished_at), key=lambda j: j.created_at
            )
            for j in done[: len(self.jobs) - keep]:
                self.jobs.pop(j.job_id, None)
