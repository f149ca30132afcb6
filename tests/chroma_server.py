"""A real Chroma server for tests: ``chroma run`` on a free loopback port.

The session fixture ``chroma_server`` (tests/conftest.py) shares one server among the
knowledge-base contract tests, each on its own collection; fault tests start their own
:class:`ChromaServer` so they can stop and restart it on the same port and path.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

#: the ``chroma`` command installed with chromadb, next to the interpreter running the tests
CHROMA_CLI = Path(sys.executable).parent / "chroma"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """``chroma run --path <path> --port <port>`` as a child process, stoppable and restartable."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        if not CHROMA_CLI.exists():
            pytest.skip(f"no chroma command at {CHROMA_CLI}")
        self.path = path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = path.with_name(path.name + ".log")
        self.proc: subprocess.Popen | None = None

    def start(self) -> ChromaServer:
        self.path.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(CHROMA_CLI), "run", "--path", str(self.path)]
                + ["--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        self.wait_ready()
        return self

    def alive(self) -> bool:
        try:
            return httpx.get(self.url + "/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited ({self.proc.returncode}); see {self.log}")
            if self.alive():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer in {START_TIMEOUT_S:.0f}s; see {self.log}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def chroma_server_fixture(tmp_path_factory: pytest.TempPathFactory):
    """One server for the session; yields its URL."""
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db") as server:
        yield server.url


def kb_worker(conn, settings: dict) -> None:
    """A knowledge base in a process of its own, driven through a pipe: ``(op, arg)`` in,
    ``("ok", result)`` or ``("error", repr)`` out. Ops: search ``(query, mode)`` (the
    ``(source, locator)`` of the top hits), ingest ``[paths]``, remove ``doc_id``, stop."""
    from ingest.embedders import HashingEmbedder
    from ingest.kb import open_kb
    from ingest.pipeline import run_ingest
    from ingest.settings import Settings

    kb = open_kb(Settings(**settings), embedder=HashingEmbedder())
    try:
        while True:
            op, arg = conn.recv()
            if op == "stop":
                return
            try:
                if op == "search":
                    query, mode = arg
                    result: object = [
                        (h.chunk.source, h.chunk.locator) for h in kb.search(query, k=5, mode=mode)
                    ]
                elif op == "ingest":
                    report = run_ingest(kb, [Path(p) for p in arg])
                    result = {
                        "added": report.added,
                        "failed": [f.source for f in report.failed],
                        "pending": kb.registry.pending_count(),
                    }
                elif op == "remove":
                    result = kb.remove_document(arg)
                    kb.sync_vectors()
                else:
                    raise ValueError(f"unknown op {op!r}")
                conn.send(("ok", result))
            except Exception as exc:  # sent back to the test, which fails with it
                conn.send(("error", repr(exc)))
    finally:
        kb.close()
        conn.close()
