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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.chunking import chunk_document
from ingest.corpus import CorpusFile, infer_meta, read_manifest, walk
from ingest.errors import FileTooLarge, IngestError, UnreadableDocument, UnsupportedFormat
from ingest.kb import KnowledgeBase
from ingest.language import detect_language
from ingest.lexical import tokenize
from ingest.loaders import SUPPORTED_EXTENSIONS, load


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
    """Ingest ``paths`` (default: the corpus roots) into ``kb`` and report what happened."""
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
