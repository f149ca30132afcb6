"""Parsing in a child process: same documents and errors as in-process, a file that runs past
the time limit or the memory ceiling is stopped and reported, the child is replaced, and the
ingest run goes on with the next file.

The hostile inputs are real files, made in tests/unit/test_bad_input.py: a 40 KB PDF whose
200 pages each draw one 10 MB stream of zeros (pypdf reads it byte by byte, about a second a
page) and a one-page PDF whose 70 MB stream of zeros (70 KB packed) pypdf holds three times.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.errors import (
    IngestError,
    NoExtractableText,
    ParseMemoryExceeded,
    ParserCrashed,
    ParseTimeout,
    UnreadableDocument,
    UnsupportedFormat,
)
from ingest.loaders import load
from ingest.loaders import sandbox as sandbox_module
from ingest.loaders.sandbox import ParseSandbox
from ingest.pipeline import run_ingest
from tests.conftest import corpus_file
from tests.unit.test_bad_input import minimal_pdf, slow_pdf, write, zero_bomb_pdf

HTML = "regulations/us/29cfr1910/1910.138.html"
LAW = "regulations/cn/安全生产法(2021-06-10).md"
CSV = "accidents/us/osha-accident-abstracts-2016-2017.csv"


@pytest.fixture(scope="module")
def box():
    """One child for the module's quick tests (a start costs the imports, ~0.5 s)."""
    sandbox = ParseSandbox(timeout_s=30, max_memory_mb=1024)
    yield sandbox
    sandbox.close()


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` exits within ``within`` seconds (a zombie nobody reaps counts)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("rel", [HTML, LAW, CSV])
def test_sandbox_returns_what_load_returns(box: ParseSandbox, rel: str) -> None:
    path = corpus_file(rel)
    assert box.load(path) == load(path)


def test_sandbox_returns_a_pdf_and_keeps_one_child(box: ParseSandbox, tmp_path: Path) -> None:
    box.load(write(tmp_path, "warm.md", "# Warm\n\nup.\n"))
    starts, pid = box.starts, box.pid
    doc = box.load(write(tmp_path, "ok.pdf", minimal_pdf()))
    assert [(b.text, b.page) for b in doc.blocks] == [("Guardrails shall be 42 inches high.", 1)]
    assert (box.starts, box.pid) == (starts, pid)


def test_loader_errors_come_back_as_themselves(box: ParseSandbox, tmp_path: Path) -> None:
    missing = tmp_path / "gone.md"
    with pytest.raises(UnreadableDocument) as err:
        box.load(missing)
    assert type(err.value) is UnreadableDocument
    assert str(err.value) == f"{missing} does not exist: check the path"
    with pytest.raises(UnsupportedFormat) as err2:
        box.load(write(tmp_path, "notes.docx", "plain notes\n"))
    assert err2.value.code == "unsupported_format"
    assert "not a DOCX (zip) file" in str(err2.value)


def test_a_slow_pdf_is_stopped_at_the_time_limit_and_the_child_replaced(tmp_path: Path) -> None:
    box = ParseSandbox(timeout_s=1.5, max_memory_mb=1024)
    try:
        slow = write(tmp_path, "slow.pdf", slow_pdf())
        assert slow.stat().st_size < 50_000
        box.load(write(tmp_path, "warm.md", "# Warm\n\nup.\n"))
        first = box.pid
        assert first is not None
        started = time.monotonic()
        with pytest.raises(ParseTimeout) as err:
            box.load(slow)
        assert 1.5 <= time.monotonic() - started < 10
        assert err.value.code == "parse_timeout"
        assert "took longer than 1.5 s to parse and was stopped" in str(err.value)
        assert "ANQUAN_PARSE_TIMEOUT_S" in str(err.value)
        assert _gone(first), "the timed-out child is still running"
        doc = box.load(write(tmp_path, "next.md", "# Next\n\nStill parsed.\n"))
        assert doc.blocks[-1].text == "Still parsed."
        assert box.starts == 2 and box.pid != first
    finally:
        box.close()


def test_a_decompression_bomb_is_stopped_at_the_memory_ceiling(tmp_path: Path) -> None:
    box = ParseSandbox(timeout_s=60, max_memory_mb=48)
    try:
        bomb = write(tmp_path, "bomb.pdf", zero_bomb_pdf())
        assert bomb.stat().st_size < 100_000
        with pytest.raises(ParseMemoryExceeded) as err:
            box.load(bomb)
        assert err.value.code == "parse_memory"
        assert "needed more than 48 MB of memory to parse and was stopped" in str(err.value)
        assert "ANQUAN_PARSE_MAX_MEMORY_MB" in str(err.value)
        assert box.pid is None  # replaced on the next file, with a fresh heap
        doc = box.load(write(tmp_path, "next.md", "# Next\n\nStill parsed.\n"))
        assert doc.title == "Next"
        assert box.starts == 2
    finally:
        box.close()


@pytest.mark.slow
def test_the_same_bomb_parses_under_the_default_ceiling(tmp_path: Path) -> None:
    """The ceiling stops what multiplies past it, not heavy parsing: with the default 2048 MB
    the 70 MB stream is read to its end (zeros: no text)."""
    box = ParseSandbox(timeout_s=300, max_memory_mb=2048)
    try:
        with pytest.raises(NoExtractableText, match="no extractable text"):
            box.load(write(tmp_path, "bomb.pdf", zero_bomb_pdf()))
    finally:
        box.close()


def test_a_killed_parser_is_reported_and_replaced(tmp_path: Path) -> None:
    box = ParseSandbox(timeout_s=60, max_memory_mb=1024)
    try:
        slow = write(tmp_path, "slow.pdf", slow_pdf())
        box.load(write(tmp_path, "warm.md", "# Warm\n\nup.\n"))
        pid = box.pid
        assert pid is not None
        threading.Timer(0.5, os.kill, (pid, 9)).start()
        with pytest.raises(ParserCrashed) as err:
            box.load(slow)
        assert err.value.code == "parser_crashed"
        assert "crashed the parser (killed by SIGKILL)" in str(err.value)
        assert box.load(write(tmp_path, "next.md", "# Next\n\ntext\n")).title == "Next"
        assert box.starts == 2
    finally:
        box.close()


def test_an_idle_child_leaves_and_the_next_file_starts_another(tmp_path: Path) -> None:
    box = ParseSandbox(timeout_s=30, max_memory_mb=1024, idle_exit_s=0.5)
    try:
        box.load(write(tmp_path, "a.md", "# A\n\ntext\n"))
        assert box.pid is not None
        end = time.monotonic() + 10
        while box.pid is not None and time.monotonic() < end:
            time.sleep(0.05)
        assert box.pid is None, "the idle child did not exit"
        assert box.load(write(tmp_path, "b.md", "# B\n\ntext\n")).title == "B"
        assert box.starts == 2
    finally:
        box.close()


def test_the_child_leaves_mid_parse_when_its_parent_is_killed(tmp_path: Path) -> None:
    """``kill -9`` of an ingest must not leave its parser grinding a slow file for nobody."""
    slow = write(tmp_path, "slow.pdf", slow_pdf())
    script = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from ingest.loaders.sandbox import ParseSandbox\n"
        "box = ParseSandbox(timeout_s=600)\n"
        "box.load(Path(sys.argv[1]))\n"
        "print(box.pid, flush=True)\n"
        "box.load(Path(sys.argv[2]))\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(write(tmp_path, "a.md", "# A\n\nx\n")), str(slow)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(1.0)  # well into the slow file
        assert not _gone(child, within=0.1)
        parent.kill()
        parent.wait()
        assert _gone(child, within=10), "the orphaned parser is still running"
    finally:
        parent.kill()
        parent.wait()


def test_threads_take_turns_on_one_child(box: ParseSandbox, tmp_path: Path) -> None:
    starts = box.starts
    paths = [write(tmp_path, f"t{i}.md", f"# Title {i}\n\nBody {i}.\n") for i in range(8)]
    titles: dict[int, str | None] = {}

    def work(i: int) -> None:
        titles[i] = box.load(paths[i]).title

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert titles == {i: f"Title {i}" for i in range(8)}
    assert box.starts == starts


def test_ingest_reports_a_timeout_and_goes_on_with_the_next_file(kb, settings) -> None:
    settings.parse_timeout_s = 1.25  # a limit of its own: a child of its own
    root = settings.corpus_roots()[0]
    (root / "us").mkdir(parents=True)
    (root / "us" / "slow.pdf").write_bytes(slow_pdf())
    shutil.copy(corpus_file(HTML), root / "us" / "1910.138.html")
    (root / "notes.md").write_text("# Site notes\n\nWear a harness above 6 feet.\n")
    report = run_ingest(kb, embed=False)
    assert sorted(report.added) == ["notes.md", "us/1910.138.html"]
    assert [(f.source, f.code) for f in report.failed] == [("us/slow.pdf", "parse_timeout")]
    assert "took longer than 1.25 s to parse" in report.failed[0].reason
    assert kb.registry.document("us/slow.pdf") is None
    assert {d.source for d in kb.registry.documents()} == {"notes.md", "us/1910.138.html"}
    box = sandbox_module.shared_sandbox(1.25, settings.parse_max_memory_mb)
    assert box.starts == 1  # one child for the run's three files
    assert box.pid is None  # the slow file (walked last) had it stopped


def test_isolation_off_parses_in_process(kb, settings) -> None:
    settings.parse_isolation = False
    settings.parse_timeout_s = 7.75  # would key a sandbox of its own, were one used
    root = settings.corpus_roots()[0]
    root.mkdir(parents=True)
    (root / "notes.md").write_text("# Site notes\n\nWear a harness above 6 feet.\n")
    report = run_ingest(kb, embed=False)
    assert report.added == ["notes.md"]
    assert (7.75, settings.parse_max_memory_mb) not in sandbox_module._shared


def test_every_sandbox_error_is_an_ingest_error() -> None:
    for cls in (ParseTimeout, ParseMemoryExceeded, ParserCrashed):
        assert issubclass(cls, IngestError)
    codes = {ParseTimeout.code, ParseMemoryExceeded.code, ParserCrashed.code}
    assert codes == {"parse_timeout", "parse_memory", "parser_crashed"}
