"""Bad input fails with the right exception and a message that says what to do next;
awkward but valid input loads.

The PDFs are made here: a minimal one-page PDF written byte by byte, then truncated, filled
with garbage, or encrypted by pypdf; a blank page stands in for a scanned, image-only PDF.

Unreadable files: these tests run as root, who reads a ``chmod 000`` file anyway. So the
permission case loads the file in a forked child that drops root's capabilities (it keeps
uid 0 but file modes now apply to it), which makes the real open() fail. Other unreadable
inputs that fail for root too: a FIFO named like a text file (reading it would block forever;
the loader refuses it from its ``stat``), a directory named like a PDF, and a symlink loop.
"""

from __future__ import annotations

import ctypes
import io
import os
import random
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.errors import (
    EncryptedPDF,
    FileTooLarge,
    IngestError,
    NoExtractableText,
    NoTextColumn,
    UnreadableDocument,
    UnsupportedFormat,
)
from ingest.loaders import load

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
SAFETY_LAW = "regulations/cn/安全生产法(2021-06-10).md"


def minimal_pdf(text: str = "Guardrails shall be 42 inches high.") -> bytes:
    """A valid one-page PDF with one line of Helvetica text."""
    content = b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pypdf_bytes(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def law_paragraph() -> str:
    path = CORPUS / SAFETY_LAW
    if not path.exists():
        pytest.skip(f"starter corpus file not found: {path}")
    text = path.read_text(encoding="utf-8")
    return next(line for line in text.split("\n") if line.startswith("第四十一条"))


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_the_minimal_pdf_used_below_is_itself_valid(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "ok.pdf", minimal_pdf()))
    assert [(b.text, b.page) for b in doc.blocks] == [("Guardrails shall be 42 inches high.", 1)]


# --- PDF ------------------------------------------------------------------------------------


def test_truncated_pdf(tmp_path: Path) -> None:
    data = minimal_pdf()
    path = write(tmp_path, "cut.pdf", data[: len(data) // 2])
    with pytest.raises(UnreadableDocument) as err:
        load(path)
    assert type(err.value) is UnreadableDocument
    assert "truncated" in str(err.value)
    assert "export it again" in str(err.value)


def test_corrupt_pdf(tmp_path: Path) -> None:
    garbage = random.Random(7).randbytes(5000)
    path = write(tmp_path, "corrupt.pdf", b"%PDF-1.7\n" + garbage + b"\n%%EOF\n")
    with pytest.raises(UnreadableDocument) as err:
        load(path)
    assert type(err.value) is UnreadableDocument
    assert "damaged" in str(err.value)
    assert "qpdf" in str(err.value)


def test_password_protected_pdf(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf())))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    path = write(tmp_path, "locked.pdf", pypdf_bytes(writer))
    with pytest.raises(EncryptedPDF) as err:
        load(path)
    assert "password-protected" in str(err.value)
    assert "qpdf --decrypt" in str(err.value)
    assert err.value.code == "encrypted_pdf"


def test_pdf_encrypted_with_an_empty_password_is_opened(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf())))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    doc = load(write(tmp_path, "no-print.pdf", pypdf_bytes(writer)))
    assert doc.blocks[0].text == "Guardrails shall be 42 inches high."


def test_image_only_pdf(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    path = write(tmp_path, "scan.pdf", pypdf_bytes(writer))
    with pytest.raises(NoExtractableText) as err:
        load(path)
    assert "no extractable text: scanned? run OCR first" in str(err.value)


def test_text_file_named_pdf(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.pdf", "These are plain notes, not a PDF.\n")
    with pytest.raises(UnsupportedFormat) as err:
        load(path)
    assert "not a PDF" in str(err.value)
    assert "plain text" in str(err.value)


# --- empty, binary, misnamed, unknown -------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.csv", "empty.docx"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, b"")
    with pytest.raises(NoExtractableText) as err:
        load(path)
    assert "is empty (0 bytes)" in str(err.value)


def test_whitespace_only_text(tmp_path: Path) -> None:
    with pytest.raises(NoExtractableText, match="only whitespace"):
        load(write(tmp_path, "blank.txt", "\n \n\t\n"))


def test_random_bytes_as_txt(tmp_path: Path) -> None:
    path = write(tmp_path, "data.txt", random.Random(1).randbytes(4096))
    with pytest.raises(UnreadableDocument) as err:
        load(path)
    assert type(err.value) is UnreadableDocument
    assert "binary data, not text" in str(err.value)


def test_pdf_named_txt_says_what_it_is(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormat, match="is a PDF file: give it the .pdf extension"):
        load(write(tmp_path, "report.txt", minimal_pdf()))


def test_text_file_renamed_docx(tmp_path: Path) -> None:
    path = write(tmp_path, "procedure.docx", "Lockout procedure\n\nStep 1: isolate.\n")
    with pytest.raises(UnsupportedFormat) as err:
        load(path)
    message = str(err.value)
    assert "not a DOCX (zip) file" in message
    assert "looks like plain text" in message
    assert "rename it" in message


def test_docx_renamed_xlsx(tmp_path: Path) -> None:
    path = write(tmp_path, "sheet.xlsx", zip_bytes({"word/document.xml": b"<w:document/>"}))
    with pytest.raises(UnsupportedFormat, match="not an Excel workbook"):
        load(path)


def test_damaged_docx(tmp_path: Path) -> None:
    data = zip_bytes({"word/document.xml": b"<w:document/>" * 500})
    path = write(tmp_path, "cut.docx", data[: len(data) // 2])
    with pytest.raises(UnreadableDocument, match="damaged DOCX"):
        load(path)


@pytest.mark.parametrize("name", ["drawing.dwg", "slides.pptx", "README"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, "something")
    with pytest.raises(UnsupportedFormat) as err:
        load(path)
    message = str(err.value)
    assert "cannot read" in message
    assert ".csv, .docx, .htm, .html, .markdown, .md, .pdf, .txt, .xlsx" in message


# --- records --------------------------------------------------------------------------------


def test_csv_without_text_column(tmp_path: Path) -> None:
    path = write(tmp_path, "codes.csv", "id,code,value\n1,A,3\n2,B,4\n")
    with pytest.raises(NoTextColumn) as err:
        load(path)
    message = str(err.value)
    assert "no text column found: columns are id, code, value" in message
    assert "text_column" in message


def test_csv_named_text_column_that_does_not_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "codes.csv", "id,code\n1,A\n")
    with pytest.raises(NoTextColumn, match="no column 'narrative': its columns are id, code"):
        load(path, text_column="narrative")


def test_csv_with_header_only(tmp_path: Path) -> None:
    with pytest.raises(NoExtractableText, match="no data rows"):
        load(write(tmp_path, "head.csv", "case_id,summary\n"))


# --- size, permissions, special files -------------------------------------------------------


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "x" * 2048)
    with pytest.raises(FileTooLarge) as err:
        load(path, max_bytes=1000)
    assert "is 2.0 KB, over the 1000 bytes limit" in str(err.value)
    assert "max_file_mb" in str(err.value)


def test_docx_zip_bomb(tmp_path: Path) -> None:
    data = zip_bytes(
        {"word/document.xml": b"<w:document/>", "word/media/pad.bin": bytes(30 * 1024 * 1024)}
    )
    assert len(data) < 1024 * 1024
    path = write(tmp_path, "bomb.docx", data)
    with pytest.raises(UnreadableDocument) as err:
        load(path, max_bytes=1024 * 1024)
    assert "looks like a zip bomb" in str(err.value)


def test_xlsx_zip_bomb(tmp_path: Path) -> None:
    data = zip_bytes(
        {"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": bytes(30 * 1024 * 1024)}
    )
    with pytest.raises(UnreadableDocument, match="looks like a zip bomb"):
        load(write(tmp_path, "bomb.xlsx", data), max_bytes=1024 * 1024)


def _load_without_root_powers(path: Path) -> tuple[str, str]:
    """Load ``path`` in a forked child that has dropped every capability (root keeps uid 0
    but loses CAP_DAC_OVERRIDE, so file permissions apply to it); returns (error class, message).
    """

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.close(read_end)
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
                result = "capset failed\n"
            else:
                try:
                    load(path)
                    result = "loaded\n"
                except Exception as exc:
                    result = f"{type(exc).__name__}\n{exc}"
            os.write(write_end, result.encode("utf-8"))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read().decode("utf-8")
    os.waitpid(pid, 0)
    kind, _, message = output.partition("\n")
    return kind, message


def test_unreadable_permissions(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.txt", "confidential")
    path.chmod(0)
    try:
        if not os.access(path, os.R_OK):
            with pytest.raises(UnreadableDocument) as err:
                load(path)
            kind, message = type(err.value).__name__, str(err.value)
        else:  # root: check it in a child process without root's override powers
            kind, message = _load_without_root_powers(path)
            if kind == "capset failed":
                pytest.skip("cannot drop root's capabilities here")
    finally:
        path.chmod(0o644)
    assert kind == "UnreadableDocument"
    assert "is not readable (permission denied)" in message
    assert "chmod a+r" in message


def test_fifo_named_like_a_text_file_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    outcome: list[BaseException] = []

    def attempt() -> None:
        try:
            load(path)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the loader blocked opening a FIFO"
    assert len(outcome) == 1
    assert type(outcome[0]) is UnreadableDocument
    assert "not a regular file (it is a FIFO (named pipe))" in str(outcome[0])


def test_directory_given_as_a_file(tmp_path: Path) -> None:
    path = tmp_path / "subpart.pdf"
    path.mkdir()
    with pytest.raises(UnreadableDocument, match="is a directory, not a file"):
        load(path)


def test_symlink_loop(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(UnreadableDocument) as err:
        load(a)
    assert "symlink loop" in str(err.value)
    assert "fix or remove the link" in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="does not exist"):
        load(tmp_path / "gone.md")


def test_every_error_is_an_ingest_error_with_a_code(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as err:
        load(write(tmp_path, "x.txt", b""))
    assert err.value.code == "no_text"


# --- awkward but valid ----------------------------------------------------------------------


def test_gbk_chinese_text(tmp_path: Path) -> None:
    paragraph = law_paragraph()
    doc = load(write(tmp_path, "第四十一条.txt", paragraph.encode("gbk")))
    assert doc.encoding == "gb18030"
    assert doc.blocks[0].text == paragraph


def test_utf16_with_bom(tmp_path: Path) -> None:
    paragraph = law_paragraph()
    doc = load(write(tmp_path, "law.txt", paragraph.encode("utf-16")))
    assert doc.encoding == "utf-16-le"
    assert doc.blocks[0].text == paragraph


def test_html_full_of_scripts_and_navigation(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><title>Ladders</title>
    <script>var menu = "Home | Products";</script><style>.x{}</style></head>
    <body>
    <header><div class="logo">SafetyCorp</div><ul class="main-menu"><li>Home</li></ul></header>
    <nav><a href="/">Site navigation home</a></nav>
    <div id="cookie-banner">We use cookies to improve your experience.</div>
    <div role="navigation">Jump to section</div>
    <ol class="breadcrumbs"><li>Standards</li><li>Ladders</li></ol>
    <main>
      <script>trackPageView();</script>
      <h1>Portable ladders</h1>
      <p>Ladders shall be inspected by a competent person before each use.</p>
      <noscript>Enable JavaScript for the full experience.</noscript>
      <aside>Related: scaffolds</aside>
      <form><label>Search</label><input name="q"></form>
    </main>
    <div class="site-footer">Copyright SafetyCorp</div>
    <footer>Contact us</footer>
    </body></html>"""
    doc = load(write(tmp_path, "ladders.html", html))
    text = doc.text
    assert [b.text for b in doc.blocks] == [
        "Portable ladders",
        "Ladders shall be inspected by a competent person before each use.",
    ]
    for gone in ("Home", "navigation", "cookies", "Jump", "Standards", "trackPageView",
                 "JavaScript", "Related", "Search", "Copyright", "Contact"):  # fmt: skip
        assert gone not in text


def test_file_thirty_folders_deep(tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*[f"level{n:02d}" for n in range(30)])
    folder.mkdir(parents=True)
    doc = load(write(folder, "deep.md", "# Deep\n\nStill found.\n"))
    assert doc.title == "Deep"
    assert doc.blocks[-1].text == "Still found."


# --- hostile input: bounded time and memory -------------------------------------------------
# Files built to make a parser loop or fill memory. Those a loader can refuse or read in linear
# time are checked here in-process; the rest (a PDF that costs pypdf seconds per page, a
# decompression bomb within pypdf's limits) are stopped by the sandbox: tests/unit/test_sandbox.py.


def pdf_of_pages(streams: list[bytes], pages: list[list[int]]) -> bytes:
    """A PDF whose pages draw the given content streams (FlateDecode), by index.

    One stream drawn on many pages is parsed again for every page, so a 10 KB file can cost
    a parser minutes; a stream of zeros compresses about 1000:1.
    """
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    number = 4
    stream_ids = []
    for raw in streams:
        packed = zlib.compress(raw, 6)
        objects[number] = (
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed)
            + packed
            + b"\nendstream"
        )
        stream_ids.append(number)
        number += 1
    kids = []
    for refs in pages:
        contents = b" ".join(b"%d 0 R" % stream_ids[r] for r in refs)
        objects[number] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents [" + contents + b"] >>"
        )
        kids.append(number)
        number += 1
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % number
    for num in range(1, number):
        out += b"%010d 00000 n \n" % offsets[num]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (number, xref)
    return bytes(out)


def slow_pdf(pages: int = 200, stream_mb: int = 10) -> bytes:
    """About 40 KB whose every page draws one 10 MB stream of zeros (PDF whitespace): pypdf
    reads each page's stream byte by byte, about a second a page, minutes in all."""
    return pdf_of_pages([bytes(stream_mb * 1_000_000)], [[0]] * pages)


def zero_bomb_pdf(stream_mb: int = 70) -> bytes:
    """One page, one stream of zeros just under pypdf's 75 MB output limit (70 KB packed):
    pypdf holds about three copies, ~250 MB, and takes seconds."""
    return pdf_of_pages([bytes(stream_mb * 1_000_000)], [[0]])


def test_flate_bomb_pdf_past_pypdfs_limit_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    data = pdf_of_pages([bytes(100_000_000)], [[0]])
    assert len(data) < 100_000
    with pytest.raises(UnreadableDocument) as err:
        load(write(tmp_path, "bomb.pdf", data))
    assert "safety limits" in str(err.value)
    assert "decompression bomb" in str(err.value)


def test_pdf_drawing_one_stream_on_many_pages_is_refused_past_the_output_limit(
    tmp_path: Path,
) -> None:
    data = pdf_of_pages([bytes(30_000_000)], [[0, 0, 0]])  # 90 MB in one page's contents
    with pytest.raises(UnreadableDocument, match="safety limits"):
        load(write(tmp_path, "triple.pdf", data))


def test_deeply_nested_html_loads_without_recursion(tmp_path: Path) -> None:
    depth = 5000
    page = "<html><body>" + "<div><span>" * depth + "Deep inside." + "</span></div>" * depth
    doc = load(write(tmp_path, "deep.html", page))
    assert [b.text for b in doc.blocks] == ["Deep inside."]


def test_nested_tables_come_out_as_their_cells_text(tmp_path: Path) -> None:
    page = "<table><tr><td>outer</td><td>" * 300 + "inner" + "</td></tr></table>" * 300
    doc = load(write(tmp_path, "tables.html", page))
    assert len(doc.blocks) == 1
    assert doc.blocks[0].kind == "table_row"
    assert doc.blocks[0].text.startswith("outer | outer outer")
    assert doc.blocks[0].text.endswith("outer inner")


@pytest.mark.parametrize(
    ("line", "first_block"),
    [
        ("# Heading" + " " * 100_000 + "end", "Heading" + " " * 100_000 + "end"),
        ("[" * 50_000 + "x", "[" * 50_000 + "x"),
        ("__a " * 25_000, ("__a " * 25_000).strip()),
        ("**a " * 25_000, ("**a " * 25_000).strip()),
        ("<!--" * 25_000 + "kept", "<!--" * 25_000 + "kept"),
        ("[a](" * 25_000, ("[a](" * 25_000).strip()),
    ],
    ids=["heading-spaces", "brackets", "underscores", "stars", "comment-openers", "link-openers"],
)
def test_markdown_lines_that_made_regexes_quadratic(
    tmp_path: Path, line: str, first_block: str
) -> None:
    """Each took minutes with the earlier patterns (a lazy match before trailing whitespace,
    a bracket class that restarted at every '['); now linear."""
    started = time.monotonic()
    doc = load(write(tmp_path, "hostile.md", line + "\n\nAfter.\n"))
    assert time.monotonic() - started < 10
    assert doc.blocks[0].text == first_block
    assert doc.blocks[-1].text == "After."


def test_markdown_heading_closing_hashes_are_dropped(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "h.md", "# Scaffolds ##   \n\n## C#\n\n#\tTabbed #\n"))
    assert [b.text for b in doc.blocks] == ["Scaffolds", "C#", "Tabbed"]


def test_csv_header_of_many_duplicate_names_is_named_in_linear_time(tmp_path: Path) -> None:
    width = 16_000
    header = ",".join(["a"] * width + ["summary"])
    row = ",".join(["x"] * width + ["A worker fell from a scaffold."])
    started = time.monotonic()
    doc = load(write(tmp_path, "dups.csv", f"{header}\n{row}\n"))
    assert time.monotonic() - started < 10
    fields = doc.records[0].fields
    assert doc.records[0].text == "A worker fell from a scaffold."
    assert list(fields)[:3] == ["a_2", "a_3", "a_4"]  # 'a' itself became the id
    assert doc.records[0].id == "x"
    assert f"a_{width}" in fields


def test_csv_wider_than_a_spreadsheet_is_refused(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(16_385))
    with pytest.raises(UnreadableDocument) as err:
        load(write(tmp_path, "wide.csv", f"{header}\n{header}\n"))
    assert "16385 columns, more than the 16384" in str(err.value)


def test_csv_wide_header_over_short_rows_is_not_padded(tmp_path: Path) -> None:
    """16,000 columns over 3,000 one-field rows: padded, 48 million cells; as read, 3,000."""
    header = "summary," + ",".join(f"c{i}" for i in range(16_000))
    rows = "\n".join(f"Worker {n} was struck by a falling load." for n in range(3000))
    doc = load(write(tmp_path, "short.csv", f"{header}\n{rows}\n"))
    assert len(doc.records) == 3000
    assert doc.records[5].text == "Worker 5 was struck by a falling load."
    assert doc.records[5].id == "6"
    assert doc.records[5].fields == {}


def small_xlsx(extra_rows: str = "") -> bytes:
    """A two-record workbook written by openpyxl; ``extra_rows`` is sheet XML spliced in
    before ``</sheetData>``."""
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["id", "summary"])
    sheet.append(["a-1", "An employee fell from a ladder while painting a wall."])
    sheet.append(["a-2", "A trench wall collapsed on a pipe layer."])
    out = io.BytesIO()
    workbook.save(out)
    if not extra_rows:
        return out.getvalue()
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    parts = {name: source.read(name) for name in source.namelist()}
    name = "xl/worksheets/sheet1.xml"
    parts[name] = parts[name].replace(b"</sheetData>", extra_rows.encode() + b"</sheetData>")
    return zip_bytes(parts)


def test_xlsx_with_a_cell_far_away_reads_its_cells_not_its_dimension(tmp_path: Path) -> None:
    far = '<row r="900000"><c r="XFD900000" t="inlineStr"><is><t>far</t></is></c></row>'
    data = small_xlsx(far).replace(b'<dimension ref="A1:B3"/>', b'<dimension ref="A1:XFD900000"/>')
    started = time.monotonic()
    doc = load(write(tmp_path, "far.xlsx", data))
    assert time.monotonic() - started < 20
    assert [r.id for r in doc.records] == ["a-1", "a-2"]


def test_xlsx_row_numbered_past_any_sheet_is_refused(tmp_path: Path) -> None:
    data = small_xlsx('<row r="999999999999"><c r="A999999999999"><v>1</v></c></row>')
    with pytest.raises(UnreadableDocument) as err:
        load(write(tmp_path, "rows.xlsx", data))
    assert "millions of empty rows or columns" in str(err.value)


_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY l0 "lol">'
    + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)


def test_xlsx_billion_laughs_is_a_damaged_workbook(tmp_path: Path) -> None:
    data = small_xlsx()
    source = zipfile.ZipFile(io.BytesIO(data))
    parts = {name: source.read(name) for name in source.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    start = sheet.index("<worksheet")
    parts["xl/worksheets/sheet1.xml"] = (
        sheet[:start] + _LAUGHS + sheet[start:].replace("An employee", "&l9; An employee")
    ).encode()
    with pytest.raises(UnreadableDocument) as err:
        load(write(tmp_path, "laughs.xlsx", zip_bytes(parts)))
    assert "damaged workbook" in str(err.value)
    assert "amplification" in str(err.value)


def small_docx() -> bytes:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Fall protection", 1)
    document.add_paragraph("Guardrails shall be 42 inches high.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.mark.parametrize("attack", ["laughs", "depth"])
def test_docx_xml_bombs_are_damaged_documents(tmp_path: Path, attack: str) -> None:
    source = zipfile.ZipFile(io.BytesIO(small_docx()))
    parts = {name: source.read(name) for name in source.namelist()}
    xml = parts["word/document.xml"].decode()
    if attack == "laughs":
        start = xml.index("<w:document")
        xml = xml[:start] + _LAUGHS + xml[start:].replace("Guardrails", "&l9; Guardrails")
    else:
        body = xml.index("<w:body>") + len("<w:body>")
        nest = "<w:tbl><w:tr><w:tc>" * 3000
        xml = xml[:body] + nest + "<w:p/>" + "</w:tc></w:tr></w:tbl>" * 3000 + xml[body:]
    parts["word/document.xml"] = xml.encode()
    with pytest.raises(UnreadableDocument) as err:
        load(write(tmp_path, f"{attack}.docx", zip_bytes(parts)))
    assert "damaged Word document" in str(err.value)


def test_zip_whose_directory_understates_a_size_is_read_no_further(tmp_path: Path) -> None:
    """The bomb check trusts the central directory's sizes; zipfile stops unpacking an entry
    at its stated size (then fails its CRC), so understating cannot smuggle a bomb in."""
    data = bytearray(
        zip_bytes({"word/document.xml": b"<w:document/>", "word/pad.xml": bytes(50_000_000)})
    )
    at = data.rindex(b"PK\x01\x02")  # the last entry's central directory record
    data[at + 24 : at + 28] = (100).to_bytes(4, "little")  # uncompressed size: 100 bytes
    with pytest.raises(UnreadableDocument) as err:
        load(write(tmp_path, "liar.docx", bytes(data)), max_bytes=1024 * 1024)
    assert "damaged Word document" in str(err.value)
