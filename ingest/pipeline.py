"""The incremental ingest run: walk → hash → load → chunk → register, then index and embed.

Each file is its own unit of work: a file that fails is reported with its reason and the
run goes on; an unchanged file (same content hash) is skipped without loading or
embedding; a changed file's chunks are replaced in one registry transaction. Vectors are
written afterwards from the registry's pending list, so an interrupted run loses nothing
that the next run does not finish.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.chunking import chunk_document
from ingest.corpus import CorpusFile, infer_meta, read_manifest, walk
from ingest.errors import (
    FileTooLarge,
    IngestError,
    KnowledgeBaseError,
    StorageFull,
    UnreadableDocument,
    UnsupportedFormat,
)
from ingest.kb import KnowledgeBase
from ingest.language import detect_language
from ingest.lexical import tokenize
from ingest.loaders import SUPPORTED_EXTENSIONS, load
from ingest.loaders.sandbox import load_isolated
from ingest.settings import Settings

try:
    import resource
except ImportError:  # Windows: no file size limit to report
    resource = None  # type: ignore[assignment]


@dataclass
class FileFailure:
    source: str
    path: str
    code: str
    reason: str


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[FileFailure] = field(default_factory=list)
    chunks_written: int = 0
    vectors_written: int = 0
    vectors_pending: int = 0
    total_chunks: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "failed": len(self.failed),
        }
        return d


Progress = Callable[[str, int, int, str], None]
"""progress(stage, done, total, current item)"""


def _hash_file(path: Path, max_bytes: int) -> tuple[str, int]:
    st = path.stat()  # raises ELOOP for a symlink loop
    if not path.is_file():
        raise UnreadableDocument(f"{path.name}: not a regular file")
    if st.st_size > max_bytes:
        raise FileTooLarge(
            f"{path.name} is {st.st_size / 1e6:.1f} MB, over the limit of {max_bytes / 1e6:.1f} MB: "
            "split it, or raise ANQUAN_MAX_FILE_MB"
        )
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest(), st.st_size


def ingest_file(
    kb: KnowledgeBase, cf: CorpusFile, manifest: dict[str, dict[str, str]]
) -> tuple[str, int]:
    """Register one file. Returns (status, chunks written): status added | updated | unchanged."""
    settings = kb.settings
    source = cf.source
    if cf.path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise UnsupportedFormat(
            f"{cf.path.name}: unknown file type {cf.path.suffix or '(none)'!r}. "
            f"Supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}"
        )
    try:
        content_hash, size = _hash_file(cf.path, settings.max_file_bytes)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableDocument(
                f"{cf.path.name}: symbolic link loop; fix or remove the link"
            ) from exc
        raise UnreadableDocument(
            f"{cf.path.name}: cannot read ({exc.strerror}); check permissions"
        ) from exc
    previous = kb.registry.document_hash(source)
    if previous == content_hash:
        return "unchanged", 0
    if settings.parse_isolation:  # a child process under a time and memory limit
        doc = load_isolated(
            cf.path,
            max_bytes=settings.max_file_bytes,
            timeout_s=settings.parse_timeout_s,
            max_memory_mb=settings.parse_max_memory_mb,
        )
    else:
        doc = load(cf.path, max_bytes=settings.max_file_bytes)
    row = manifest.get(source)
    language = (row or {}).get("language") or detect_language(doc.text[:5000])
    meta = infer_meta(source, title=doc.title, language=language, fmt=doc.format, row=row)
    chunks = chunk_document(doc, meta)
    if not chunks:
        raise IngestError(f"{cf.path.name}: no text to index after cleaning")
    tokens = [tokenize(f"{c.title} {c.locator} {c.heading_path}\n{c.text}") for c in chunks]
    kb.registry.replace_document(
        meta,
        root=str(cf.root),
        path=str(cf.path),
        fmt=doc.format,
        content_hash=content_hash,
        size=size,
        chunks=chunks,
        tokens=tokens,
        embed_hashes=[kb.embed_hash(c) for c in chunks],
    )
    return ("updated" if previous else "added"), len(chunks)


def run_ingest(
    kb: KnowledgeBase,
    paths: list[Path] | None = None,
    *,
    prune: bool = False,
    embed: bool = True,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest ``paths`` (default: the corpus roots) into ``kb`` and report what happened.

    A full disk ends the run with :class:`StorageFull` (every write before it was a whole
    transaction, so the same command finishes the job once there is room).
    """
    with storage_errors(kb.settings):
        return _run_ingest(kb, paths, prune=prune, embed=embed, progress=progress)


def _run_ingest(
    kb: KnowledgeBase,
    paths: list[Path] | None,
    *,
    prune: bool,
    embed: bool,
    progress: Progress | None,
) -> IngestReport:
    report = IngestReport()
    roots = kb.settings.corpus_roots()
    paths = [Path(p) for p in (paths or roots)]
    t0 = time.perf_counter()
    files = list(walk(paths, roots))
    manifests: dict[Path, dict[str, dict[str, str]]] = {}
    seen: set[str] = set()
    for i, cf in enumerate(files, start=1):
        if progress:
            progress("read", i - 1, len(files), cf.source)
        if cf.root not in manifests:
            manifests[cf.root] = read_manifest(cf.root)
        seen.add(cf.source)
        try:
            status, n = ingest_file(kb, cf, manifests[cf.root])
        except IngestError as exc:
            report.failed.append(FileFailure(cf.source, str(cf.path), exc.code, str(exc)))
            kb.registry.record_failure(cf.source, str(cf.path), exc.code, str(exc))
            continue
        except (OSError, ValueError, RuntimeError) as exc:  # a loader bug must not end the run
            reason = f"{cf.path.name}: {type(exc).__name__}: {exc}"
            report.failed.append(FileFailure(cf.source, str(cf.path), "error", reason))
            kb.registry.record_failure(cf.source, str(cf.path), "error", reason)
            continue
        getattr(report, status).append(cf.source)
        report.chunks_written += n
    if progress:
        progress("read", len(files), len(files), "")
    if prune:
        report.removed = prune_vanished(kb, paths, roots, seen)
    report.seconds["read"] = round(time.perf_counter() - t0, 2)

    t1 = time.perf_counter()
    kb.lexical()
    report.seconds["lexical"] = round(time.perf_counter() - t1, 2)

    if embed:
        t2 = time.perf_counter()
        cb = (lambda done, total: progress("embed", done, total, "")) if progress else None
        report.vectors_written = kb.sync_vectors(progress=cb)
        report.seconds["embed"] = round(time.perf_counter() - t2, 2)
    report.vectors_pending = kb.registry.pending_count()
    report.total_chunks = kb.registry.chunk_count()
    report.seconds["total"] = round(time.perf_counter() - t0, 2)
    return report


#: how SQLite (ours and Chroma's) and Chroma's Rust core say the disk is full or a file too big
_FULL = re.compile(r"database or disk is full|no space left on device|os error 28", re.I)
_TOO_BIG = re.compile(r"file too large|os error 27", re.I)
_IO = re.compile(r"disk I/O error|os error 5\b", re.I)
#: free space under which a Chroma write that failed for an unstated reason is put down to it
LOW_SPACE_BYTES = 64 << 20


def storage_error(exc: BaseException, settings: Settings) -> KnowledgeBaseError | None:
    """The storage fault behind ``exc`` (a full disk, a file size limit, an I/O error) as one
    clear error naming the data dir, or None when ``exc`` is something else.

    Looks down the chain of causes: Chroma and SQLite report ENOSPC in their own words.
    """
    where: object = Path(settings.data_dir).absolute()
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, StorageFull):
            return cur
        from_chroma = type(cur).__module__.split(".")[0] == "chromadb"
        if from_chroma and settings.chroma_url:
            where = f"the Chroma server {settings.chroma_url}"
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageFull(where, os.strerror(cur.errno).lower())
        if isinstance(cur, OSError) and cur.errno == errno.EFBIG:
            return StorageFull(where, _too_big())
        if isinstance(cur, sqlite3.Error) or from_chroma:
            text = str(cur)
            if _FULL.search(text):
                return StorageFull(where)
            if _TOO_BIG.search(text) or (_IO.search(text) and _size_limit() is not None):
                # SQLite reports a write refused by the size limit (EFBIG) as an I/O error
                return StorageFull(where, _too_big())
            if _IO.search(text):
                return KnowledgeBaseError(
                    f"disk I/O error at {where} ({text}): check the disk and its free space, "
                    "then run the same command again"
                )
            if from_chroma and not settings.chroma_url and _nearly_full(settings.data_dir):
                # Chroma's compaction reports a failed write without its cause
                # ("Failed to apply logs to the metadata segment")
                return StorageFull(where)
        cur = cur.__cause__ or cur.__context__
    return None


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path).free < LOW_SPACE_BYTES
    except OSError:
        return False


def _size_limit() -> int | None:
    """The file size limit (``ulimit -f``) in bytes, or None when there is none."""
    if resource is None:
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _too_big() -> str:
    limit = _size_limit()
    return f"file size limit of {limit} bytes reached (ulimit -f)" if limit else "file too large"


@contextmanager
def storage_errors(settings: Settings) -> Iterator[None]:
    """Turn a full disk met anywhere inside into :class:`StorageFull` (see :func:`storage_error`)."""
    try:
        yield
    except Exception as exc:
        err = storage_error(exc, settings)
        if err is None or err is exc:
            raise
        raise err from exc


def prune_vanished(
    kb: KnowledgeBase, paths: list[Path], roots: list[Path], seen: set[str]
) -> list[str]:
    """Drop documents whose file is gone, among those under the walked folders."""
    removed = []
    walked = [p.absolute() for p in paths if p.is_dir()]
    for doc in kb.registry.documents():
        if doc.source in seen:
            continue
        path = Path(doc.path)
        under = any(_is_under(path, w) for w in walked)
        if under and not os.path.lexists(path):
            kb.remove_document(doc.doc_id)
            removed.append(doc.source)
    return removed


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False
