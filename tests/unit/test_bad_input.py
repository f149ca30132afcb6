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
import zipfile
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
