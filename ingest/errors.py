"""Exceptions raised by Anquan.

    AnquanError
     ├── ConfigError                 a setting is missing or invalid
     ├── IngestError                 one file could not be ingested (the run goes on)
     │    ├── UnsupportedFormat      unknown extension, or content that is not what the name says
     │    ├── UnreadableDocument     corrupt, truncated, undecodable, unreadable permissions
     │    ├── EncryptedPDF           password-protected PDF
     │    ├── NoExtractableText      e.g. an image-only PDF, an empty file
     │    ├── FileTooLarge           over ``max_file_mb``
     │    └── NoTextColumn           a record set (CSV/XLSX) without any text column
     └── KnowledgeBaseError          the store is unusable (e.g. built by another embedder)

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


class KnowledgeBaseError(AnquanError):
    """The knowledge base cannot be used as it is."""
