"""The data model shared by every layer.

Loaders turn a file into a :class:`LoadedDocument` (a flat list of :class:`Block` s, or of
:class:`Record` s for record sets); structure detection and chunking turn that into
:class:`Chunk` s, which the knowledge base stores and search returns.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

BlockKind = Literal["heading", "paragraph", "table_row"]
Normative = Literal["mandatory", "recommended", "none"]


@dataclass
class Block:
    """One paragraph, heading or table row as a loader found it, in reading order."""

    text: str
    kind: BlockKind = "paragraph"
    #: heading level 1..6 for headings (Markdown ``#`` count, HTML ``h1``..), 0 otherwise
    level: int = 0
    #: 1-based PDF page the block starts on; None for formats without pages
    page: int | None = None


@dataclass
class Record:
    """One row of a record set (CSV/XLSX): an accident record, say."""

    id: str
    text: str
    #: the other columns, as strings
    fields: dict[str, str] = field(default_factory=dict)
    #: a short title when the set has a title-like column
    title: str | None = None


@dataclass
class LoadedDocument:
    """What a loader returns: blocks (documents) or records (record sets), never both."""

    path: Path
    format: str  # "pdf", "html", "markdown", "text", "docx", "csv", "xlsx"
    blocks: list[Block] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    #: a title found in the file itself (HTML <title>, first Markdown/DOCX heading)
    title: str | None = None
    #: decoding used for text formats, for the report ("utf-8", "gb18030", "utf-16")
    encoding: str | None = None

    @property
    def text(self) -> str:
        if self.records:
            return "\n".join(r.text for r in self.records)
        return "\n".join(b.text for b in self.blocks)


@dataclass
class DocMeta:
    """Document-level metadata: from ``manifest.csv`` where the file has a row, else inferred."""

    source: str  # path relative to its corpus root, POSIX separators
    title: str
    doc_type: str = "other"  # law, regulation, administrative_regulation, standard, guidance, accident_records, ...
    jurisdiction: str = ""  # CN, CN-BJ, US, ...
    issuer: str = ""
    language: str = ""  # zh, en
    industries: list[str] = field(default_factory=list)
    effective_date: str = ""

    @property
    def doc_id(self) -> str:
        return doc_id_for(self.source)


def doc_id_for(source: str) -> str:
    """Stable id of a document: a short hash of its source path."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


@dataclass
class Chunk:
    """The unit of retrieval. ``locator`` is the clause the chunk starts at."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    text: str
    locator: str
    heading_path: str = ""
    page: int | None = None
    language: str = ""
    doc_type: str = ""
    jurisdiction: str = ""
    industries: list[str] = field(default_factory=list)
    normative: Normative = "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def metadata(self) -> dict[str, Any]:
        """Flat metadata for the vector store (no None, no lists)."""
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "locator": self.locator,
            "heading_path": self.heading_path,
            "page": self.page if self.page is not None else -1,
            "language": self.language,
            "doc_type": self.doc_type,
            "jurisdiction": self.jurisdiction,
            "industries": ";".join(self.industries),
            "normative": self.normative,
        }

    @classmethod
    def from_store(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        page = meta.get("page", -1)
        industries = meta.get("industries") or ""
        return cls(
            chunk_id=chunk_id,
            doc_id=str(meta.get("doc_id", "")),
            source=str(meta.get("source", "")),
            title=str(meta.get("title", "")),
            text=text,
            locator=str(meta.get("locator", "")),
            heading_path=str(meta.get("heading_path", "")),
            page=None if page in (-1, None) else int(page),
            language=str(meta.get("language", "")),
            doc_type=str(meta.get("doc_type", "")),
            jurisdiction=str(meta.get("jurisdiction", "")),
            industries=[i for i in str(industries).split(";") if i],
            normative=meta.get("normative", "none"),
        )


def make_chunk_id(doc_id: str, locator: str, n: int) -> str:
    """``doc_id:locator:n`` — stable across re-ingests of the same text."""
    return f"{doc_id}:{locator}:{n}"
