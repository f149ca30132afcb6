"""Exceptions raised by Anquan.

    AnquanError
     ├── ConfigError                 a setting is missing or invalid
     ├── IngestError                 one file could not be ingested (the run goes on)
     │    ├── UnsupportedFormat      unknown extension, or content that is not what the name says
     │    ├── UnreadableDocument     corrupt, truncated, undecodable, unreadable permissions
     │    ├── EncryptedPDF           password-protected PDF
     │    ├── NoExtractableText      e.g. an image-only PDF, an empty file
     │    ├── FileTooLarge           over ``max_file_mb``
     │    ├── NoTextColumn           a record set (CSV/XLSX) without any text column
     │    ├── ParseTimeout           parsing ran past ``parse_timeout_s`` and was stopped
     │    ├── ParseMemoryExceeded    parsing needed more than ``parse_max_memory_mb``
     │    └── ParserCrashed          the parsing process died (a crash in a C parser)
     └── KnowledgeBaseError          the store is unusable (e.g. built by another embedder)
          ├── VectorStoreUnavailable the Chroma server does not answer (HTTP 503, retry later)
          └── StorageFull            the disk under the data dir is full (or a file size limit)

Every message says what happened and what to do next.
"""

from __future__ import annotations


class AnquanError(Exception):
    """Base class of every error Anquan raises on purpose."""


class ConfigError(AnquanError, ValueError):
    """A setting is missing or invalid."""


class IngestError(AnquanError):
    """A file could not be ingested. The run carries on with the other files."""

    #: short machine-readable reason, used in the ingest report
    code = "ingest_error"


class UnsupportedFormat(IngestError):
    code = "unsupported_format"


class UnreadableDocument(IngestError):
    code = "unreadable"


class EncryptedPDF(UnreadableDocument):
    code = "encrypted_pdf"


class NoExtractableText(IngestError):
    code = "no_text"


class FileTooLarge(IngestError):
    code = "too_large"


class NoTextColumn(IngestError):
    code = "no_text_column"


class ParseTimeout(IngestError):
    """Parsing one file took longer than ``parse_timeout_s``: the parser was stopped."""

    code = "parse_timeout"


class ParseMemoryExceeded(IngestError):
    """Parsing one file needed more memory than ``parse_max_memory_mb`` (a decompression bomb,
    or a file that multiplies in memory): the parser was stopped."""

    code = "parse_memory"


class ParserCrashed(IngestError):
    """The process parsing one file died (a crash in a C parser, or killed from outside)."""

    code = "parser_crashed"


class KnowledgeBaseError(AnquanError):
    """The knowledge base cannot be used as it is."""


class VectorStoreUnavailable(KnowledgeBaseError):
    """The Chroma server is not answering: a passing state, so the API says 503 and retry."""

    def __init__(self, url: str | None, detail: str = "") -> None:
        self.url = url
        where = f"the Chroma server at {url}" if url else "the vector store"
        super().__init__(
            f"{where} is not answering{f' ({detail})' if detail else ''}; "
            "start it or check ANQUAN_CHROMA_URL"
        )


class StorageFull(KnowledgeBaseError):
    """The disk under the knowledge base is full, or a write hit the file size limit.

    Writes are transactional, so what is on disk is consistent; freeing space (or moving the
    data dir) and running the same command again finishes the job.
    """

    def __init__(self, path: object, detail: str = "no space left on device") -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"{detail} at {path}: free space or move ANQUAN_DATA_DIR to a larger disk, then "
            "run the same command again (nothing was half-written; it carries on from there)"
        )
