"""Where documents come from and how they are described.

Corpus roots (``Settings.corpus_roots``) are walked for supported files; a root's
``manifest.csv`` describes its files, and files without a row get inferred metadata.
A chunk's ``source`` is its file's path relative to its corpus root.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.models import DocMeta

#: files at a root's top level that describe the corpus rather than belong to it
ROOT_SKIP = {"manifest.csv", "readme.md", "readme.txt", ".gitignore", ".gitkeep"}


@dataclass(frozen=True)
class CorpusFile:
    root: Path
    path: Path

    @property
    def source(self) -> str:
        return self.path.relative_to(self.root).as_posix()


def find_root(path: Path, roots: list[Path]) -> Path:
    """The corpus root that holds ``path``; else its folder (a file) or itself (a folder)."""
    path = path.absolute()
    for root in roots:
        try:
            path.relative_to(root)
            return root
        except ValueError:
            continue
    return path if path.is_dir() else path.parent


def walk(paths: list[Path], roots: list[Path]) -> Iterator[CorpusFile]:
    """Every candidate file under ``paths`` in a stable order, symlinks not followed into loops."""
    for start in paths:
        start = start.absolute()
        root = find_root(start, roots)
        if start.is_file() or start.is_symlink() and not start.is_dir():
            yield CorpusFile(root, start)
            continue
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            here = Path(dirpath)
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                if here == root and name.lower() in ROOT_SKIP:
                    continue
                yield CorpusFile(root, here / name)


def read_manifest(root: Path) -> dict[str, dict[str, str]]:
    """``manifest.csv`` rows keyed by path; empty when the root has none."""
    path = root / "manifest.csv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return {row["path"].strip(): row for row in csv.DictReader(fh) if row.get("path")}


_LAW_TITLE = re.compile(r"(法|条例|规定|办法|细则|规程|标准|解释)$")


def infer_meta(
    source: str, *, title: str | None, language: str, fmt: str, row: dict[str, str] | None
) -> DocMeta:
    """Manifest fields where the file has a row, inferred ones where it has not."""
    if row:
        return DocMeta(
            source=source,
            title=(row.get("title") or title or Path(source).stem).strip(),
            doc_type=(row.get("doc_type") or "other").strip(),
            jurisdiction=(row.get("jurisdiction") or "").strip(),
            issuer=(row.get("issuer") or "").strip(),
            language=(row.get("language") or language).strip(),
            industries=[i.strip() for i in (row.get("industries") or "").split(";") if i.strip()],
            effective_date=(row.get("effective_date") or "").strip(),
        )
    stem = re.sub(r"\(\d{4}-\d{2}-\d{2}\)$", "", Path(source).stem)
    doc_type = "other"
    if fmt in ("csv", "xlsx"):
        doc_type = "records"
    elif _LAW_TITLE.search(stem) or re.search(r"\bcfr\b|\d{4}\.\d+", source, re.I):
        doc_type = "regulation"
    jurisdiction = (
        "CN" if language == "zh" else ("US" if re.search(r"cfr|osha|msha", source, re.I) else "")
    )
    return DocMeta(
        source=source,
        title=(title or stem).strip(),
        doc_type=doc_type,
        jurisdiction=jurisdiction,
        language=language,
    )
