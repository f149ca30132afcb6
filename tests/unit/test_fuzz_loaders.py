"""Fuzzing the loaders with hypothesis: random bytes, and small real files mutated.

The property, for every format: loading returns a :class:`LoadedDocument` with text, or raises
an :class:`IngestError` subclass with a code and a message naming the file. Never another
exception type (the pipeline would report it as a bug), never a hang.

Seeds are real: a page of a 29 CFR 1926 PDF (its fonts, and its first text objects), a 1910
HTML page, the head of a Chinese law in Markdown and of a coal-mine regulation in text, the
first records of an accident CSV; the DOCX and XLSX are written here (python-docx, openpyxl)
from the same text, since the corpus has none. Without the corpus, small synthetic seeds stand
in. Mutations: bit flips, truncation, insertion, deletion, repetition, format tokens (PDF
operators and huge numbers, HTML nesting, Markdown markers, CSV quotes and delimiters), and for
the zips: a mutated part, a corrupted central directory (sizes, method, CRC), a dropped part.

The unit run is bounded (~50 examples a format, in-process, a deadline per example and an
alarm against hangs); the ``slow`` test pushes many more through the sandbox, where a hang
would be a ``parse_timeout`` and a memory blow-up a ``parse_memory``.
"""

from __future__ import annotations

import atexit
import csv
import io
import shutil
import signal
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError, ParseMemoryExceeded, ParseTimeout
from ingest.loaders import load
from ingest.loaders.sandbox import ParseSandbox
from ingest.models import LoadedDocument
from tests.unit.test_bad_input import minimal_pdf

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
PDF = "regulations/us/29cfr1926/29cfr1926-subpart-G-signs-signals-and-barricades.pdf"
HTML = "regulations/us/29cfr1910/1910.138.html"
MARKDOWN = "regulations/cn/安全生产法(2021-06-10).md"
TEXT = "regulations/cn-coal/8-煤矿安全生产事故报告及调查处理规定.txt"
CSV = "accidents/us/osha-accident-abstracts-2016-2017.csv"

#: an in-process example that runs this long is a hang (the loader has no limit of its own)
HANG_S = 60
UNIT = settings(
    max_examples=50,
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- seeds -----------------------------------------------------------------------------------


def _corpus(rel: str) -> Path | None:
    path = CORPUS / rel
    return path if path.is_file() else None


def _head(data: bytes, size: int) -> bytes:
    """The first ``size`` bytes, cut at a line end (so UTF-8 stays whole)."""
    if len(data) <= size:
        return data
    return data[: data.rindex(b"\n", 0, size) + 1]


@cache
def seed_pdf() -> bytes:
    """Page 1 of a real 1926 subpart, its content cut to the first text objects."""
    path = _corpus(PDF)
    if path is None:
        return minimal_pdf()
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ContentStream

    reader = PdfReader(path)
    writer = PdfWriter()
    page = writer.add_page(reader.pages[0])
    content = page.get_contents()
    assert content is not None
    data = content.get_data()
    cut = 0
    for _ in range(12):  # the first BT … ET text objects: headings and a paragraph
        cut = data.index(b"ET", cut) + 2
    cut_content = ContentStream(None, writer)
    cut_content.set_data(data[:cut])
    page.replace_contents(cut_content)
    for ref in page["/Resources"]["/Font"].values():  # font programs: most of the bytes,
        font = ref.get_object()  # and not what text extraction reads
        for part in [font, *(d.get_object() for d in font.get("/DescendantFonts", []))]:
            descriptor = part.get("/FontDescriptor")
            for key in ("/FontFile", "/FontFile2", "/FontFile3"):
                if descriptor is not None:
                    descriptor.get_object().pop(key, None)
    writer.compress_identical_objects()  # drops the orphaned font programs
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@cache
def seed_html() -> bytes:
    path = _corpus(HTML)
    if path is None:
        return b"<html><head><title>1910.138</title></head><body><h1>Hand protection</h1>" + (
            b"<p>(a) Employers shall select and require employees to use gloves.</p></body></html>"
        )
    return path.read_bytes()


@cache
def seed_markdown() -> bytes:
    path = _corpus(MARKDOWN)
    if path is None:
        return "# 安全生产法\n\n## 第一章 总则\n\n第一条 为了加强安全生产工作。\n".encode()
    return _head(path.read_bytes(), 3000)


@cache
def seed_text() -> bytes:
    path = _corpus(TEXT)
    if path is None:
        return "第一章 总则\n第一条 为了规范煤矿生产安全事故报告。\n".encode()
    return _head(path.read_bytes(), 2000)


def _csv_rows(count: int) -> list[list[str]]:
    path = _corpus(CSV)
    if path is None:
        return [
            ["id", "title", "summary"],
            ["1", "Fall", "An employee fell 20 feet from a roof edge and was killed."],
            ["2", "Trench", "A trench wall collapsed, burying a pipe layer to the chest."],
        ]
    with path.open(encoding="utf-8", newline="") as fh:
        rows = []
        for row in csv.reader(fh):
            rows.append([cell[:300] for cell in row])
            if len(rows) == count:
                return rows
    return rows


@cache
def seed_csv() -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(_csv_rows(8))
    return out.getvalue().encode("utf-8")


@cache
def seed_docx() -> bytes:
    docx = pytest.importorskip("docx")
    lines = seed_markdown().decode("utf-8").split("\n")
    document = docx.Document()
    for line in lines:
        if line.startswith("#"):
            document.add_heading(line.lstrip("# "), min(line.count("#"), 6))
        elif line.strip():
            document.add_paragraph(line)
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate(_csv_rows(3)[1:3]):
        table.cell(r, 0).text = row[0]
        table.cell(r, 1).text = row[-1]
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@cache
def seed_xlsx() -> bytes:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in _csv_rows(6):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_the_seeds_load() -> None:
    """Mutating a seed that does not load would only test error paths."""
    for ext, seed, fmt in SEEDS:
        doc = load_bytes(ext, seed())
        assert isinstance(doc, LoadedDocument), (ext, doc)
        assert doc.format == fmt
        assert doc.blocks or doc.records


# --- mutations -------------------------------------------------------------------------------

PDF_TOKENS = [
    b"obj", b"endobj", b"stream", b"endstream", b"<<", b">>", b"[", b"]", b"(", b")",
    b" R ", b"/Length 999999999", b"/Filter /FlateDecode", b"/Kids [3 0 R 3 0 R]",
    b"99999999999999999999", b"-1", b"1e308", b"BT", b"ET", b"Tj", b"TJ", b"Tf", b"cm",
    b"/Type /Page", b"/Parent 2 0 R", b"xref", b"trailer", b"startxref", b"%%EOF", b"\x00",
]  # fmt: skip
HTML_TOKENS = [
    b"<div>", b"</div>", b"<table><tr><td>", b"<h1>", b"<pre>", b"<!--", b"-->", b"<script>",
    b"<nav>", b"<br>", b"&amp;", b"&#0;", b"&#x110000;", b"<meta charset=utf-16>",
    b'<meta charset="gbk">', b"\x00", b"\xff\xfe", b"<![CDATA[", b"<?xml?>",
]  # fmt: skip
MARKDOWN_TOKENS = [
    b"#", b"# ", b"```", b"~~~", b"---\n", b"<!--", b"-->", b"[", b"](", b")", b"**", b"__",
    b"`", b"|", b"| --- |", b"> ", b"- ", b"1. ", b"\n", b"\r", b" \t", b"\\n", b"\xef\xbb\xbf",
    b"\xe7\xac\xac", b"\x00",
]  # fmt: skip
CSV_TOKENS = [
    b",", b";", b"\t", b"|", b'"', b'""', b"\n", b"\r\n", b"\r", b"id", b"summary", b"\x00",
    b"\xef\xbb\xbf", b"\xff\xfe", b"," * 50,
]  # fmt: skip
XML_TOKENS = [
    b"<", b">", b"</w:p>", b"<w:p>", b"<w:tbl>", b"<w:tr><w:tc>", b"&lol;", b"&#0;", b"]]>",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>', b'r="XFD1048576"', b'r="99999999999"',
    b'<c r="A1" t="s"><v>99999</v></c>', b't="inlineStr"', b'<v>1e999</v>', b"\x00", b"\xff",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, tokens: list[bytes]) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "repeat", "token"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[max(at, 1) :]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 512))]
        elif op == "repeat":
            piece = bytes(data[at : at + draw(st.integers(1, 64))])
            data[at:at] = piece * draw(st.integers(2, 200))
        else:
            data[at:at] = draw(st.sampled_from(tokens)) * draw(st.integers(1, 300))
    return bytes(data) or b"\x00"


def _parts(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return [(info, archive.read(info)) for info in archive.infolist()]


def _zip(parts: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():  # a duplicate part name is one of the mutations
        warnings.simplefilter("ignore", UserWarning)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for info, data in parts:
                archive.writestr(info.filename, data)
    return out.getvalue()


@st.composite
def mutated_zip(draw: st.DrawFn, seed: bytes) -> bytes:
    """A DOCX/XLSX with one part's XML mutated, its central directory corrupted, a part
    dropped or added, or its raw bytes mutated."""
    parts = _parts(seed)
    how = draw(st.sampled_from(["part", "part", "directory", "drop", "add", "raw"]))
    if how == "part":
        xml = [i for i, (info, _) in enumerate(parts) if info.filename.endswith(".xml")]
        i = draw(st.sampled_from(xml))
        parts[i] = (parts[i][0], draw(mutated(parts[i][1], XML_TOKENS)))
        return _zip(parts)
    if how == "drop":
        del parts[draw(st.integers(0, len(parts) - 1))]
        return _zip(parts)
    if how == "add":
        name = draw(st.sampled_from(["word/document.xml", "xl/workbook.xml", "pad.bin"]))
        parts.append((zipfile.ZipInfo(name), draw(st.binary(max_size=2048)) * 1000))
        return _zip(parts)
    data = bytearray(seed)
    if how == "raw":
        return draw(mutated(bytes(data), [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"]))
    records = [i for i in range(len(data)) if data[i : i + 4] == b"PK\x01\x02"]
    at = draw(st.sampled_from(records))
    field, width = draw(
        st.sampled_from([(10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (42, 4)])
    )  # method, CRC, packed size, unpacked size, name length, local header offset
    value = draw(st.sampled_from([0, 1, 8, 12, 14, 99, 2**16 - 1, 2**31, 2**32 - 1]))
    data[at + field : at + field + width] = (value % 2 ** (8 * width)).to_bytes(width, "little")
    return bytes(data)


# --- the property ----------------------------------------------------------------------------


class _Hang(BaseException):
    """Not an Exception, so no loader's ``except Exception`` can swallow it."""


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise _Hang(f"still loading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


_WORK: list[Path] = []


def _workdir() -> Path:
    if not _WORK:
        _WORK.append(Path(tempfile.mkdtemp(prefix="anquan-fuzz-")))
        atexit.register(shutil.rmtree, _WORK[0], True)
    return _WORK[0]


def load_bytes(
    ext: str, data: bytes, loader: Callable[[Path], LoadedDocument] = load
) -> LoadedDocument | IngestError:
    """Write ``data`` as ``sample<ext>`` and load it: the document or the IngestError."""
    path = _workdir() / f"sample{ext}"
    path.write_bytes(data)
    try:
        with _alarm(HANG_S):
            return loader(path)
    except IngestError as exc:
        return exc


def check(ext: str, data: bytes, loader: Callable[[Path], LoadedDocument] = load) -> None:
    check_outcome(ext, load_bytes(ext, data, loader))


def check_outcome(ext: str, outcome: LoadedDocument | IngestError) -> None:
    """The property: a document with text, or an IngestError with a code and a message."""
    if isinstance(outcome, IngestError):
        assert isinstance(outcome.code, str) and outcome.code, repr(outcome)
        assert f"sample{ext}" in str(outcome), f"the message does not name the file: {outcome}"
        return
    assert isinstance(outcome, LoadedDocument)
    assert outcome.blocks or outcome.records
    assert all(isinstance(b.text, str) and b.text for b in outcome.blocks)
    assert all(isinstance(r.text, str) and r.text and r.id for r in outcome.records)


SEEDS: list[tuple[str, Callable[[], bytes], str]] = [
    (".pdf", seed_pdf, "pdf"),
    (".html", seed_html, "html"),
    (".md", seed_markdown, "markdown"),
    (".txt", seed_text, "text"),
    (".csv", seed_csv, "csv"),
    (".docx", seed_docx, "docx"),
    (".xlsx", seed_xlsx, "xlsx"),
]


# --- unit fuzzing: in-process, bounded --------------------------------------------------------

MAGIC = {
    ".pdf": (b"%PDF-1.7\n", b"\n%%EOF\n"),
    ".docx": (b"PK\x03\x04", b""),
    ".xlsx": (b"PK\x03\x04", b""),
}


@pytest.mark.parametrize("ext", [".pdf", ".html", ".md", ".txt", ".csv", ".docx", ".xlsx"])
@UNIT
@given(body=st.binary(min_size=1, max_size=4096), framed=st.booleans())
def test_random_bytes(ext: str, body: bytes, framed: bool) -> None:
    head, tail = MAGIC.get(ext, (b"", b"")) if framed else (b"", b"")
    check(ext, head + body + tail)


@UNIT
@given(data=st.data())
def test_mutated_pdf(data: st.DataObject) -> None:
    check(".pdf", data.draw(mutated(seed_pdf(), PDF_TOKENS)))


@UNIT
@given(data=st.data())
def test_mutated_html(data: st.DataObject) -> None:
    check(".html", data.draw(mutated(seed_html(), HTML_TOKENS)))


@UNIT
@given(data=st.data())
def test_mutated_markdown(data: st.DataObject) -> None:
    check(".md", data.draw(mutated(seed_markdown(), MARKDOWN_TOKENS)))


@UNIT
@given(data=st.data())
def test_mutated_text(data: st.DataObject) -> None:
    check(".txt", data.draw(mutated(seed_text(), MARKDOWN_TOKENS)))


@UNIT
@given(data=st.data())
def test_mutated_csv(data: st.DataObject) -> None:
    check(".csv", data.draw(mutated(seed_csv(), CSV_TOKENS)))


@UNIT
@given(data=st.data())
def test_mutated_docx(data: st.DataObject) -> None:
    check(".docx", data.draw(mutated_zip(seed_docx())))


@UNIT
@given(data=st.data())
def test_mutated_xlsx(data: st.DataObject) -> None:
    check(".xlsx", data.draw(mutated_zip(seed_xlsx())))


@settings(UNIT, max_examples=15)
@given(depth=st.integers(1, 3000), tag=st.sampled_from(["div", "span", "table", "li", "b"]))
def test_deep_nesting_html(depth: int, tag: str) -> None:
    """(5,000 levels: test_bad_input.py; the loaders no longer recurse over depth.)"""
    check(".html", (f"<html><body><{tag}>" * depth + "Deep text." + f"</{tag}>" * depth).encode())


# --- slow: many more examples, through the sandbox --------------------------------------------


@pytest.fixture(scope="module")
def sandbox():
    box = ParseSandbox(timeout_s=20, max_memory_mb=1024)
    yield box
    box.close()


def _mutant(ext: str) -> st.SearchStrategy[bytes]:
    seed = dict((e, s) for e, s, _ in SEEDS)[ext]()
    if ext in (".docx", ".xlsx"):
        return mutated_zip(seed)
    tokens = {".pdf": PDF_TOKENS, ".html": HTML_TOKENS, ".csv": CSV_TOKENS}
    return mutated(seed, tokens.get(ext, MARKDOWN_TOKENS))


@pytest.mark.slow
@pytest.mark.parametrize("ext", [e for e, _, _ in SEEDS])
def test_mutated_files_through_the_sandbox(sandbox: ParseSandbox, ext: str) -> None:
    """500 mutants a format: every outcome a document or a reported failure; a limit hit
    (``parse_timeout``/``parse_memory``) would be reported too, and is counted as a find."""
    limits_hit: list[str] = []

    @settings(
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=_mutant(ext))
    def run(data: bytes) -> None:
        outcome = load_bytes(ext, data, sandbox.load)
        if isinstance(outcome, (ParseTimeout, ParseMemoryExceeded)):
            limits_hit.append(outcome.code)
        check_outcome(ext, outcome)

    run()
    assert limits_hit == [], f"mutants that needed the sandbox's limits: {limits_hit}"
