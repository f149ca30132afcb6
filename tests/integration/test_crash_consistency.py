"""``kill -9`` during ingest, at random points and repeatedly: the next run finishes the job.

Runs the real command line in a subprocess on real corpus folders (hashing embedder, so the
test measures consistency rather than model speed).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.settings import Settings
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(data: Path, corpus: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANQUAN_DATA_DIR=str(data),
        ANQUAN_CORPUS=str(corpus),
        ANQUAN_EMBEDDER="hashing",
        ANQUAN_EMBED_BATCH_SIZE="8",
        PYTHONPATH=str(REPO),
    )
    return env


def _ingest(data: Path, corpus: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "ingest", "--json"],
        env=_env(data, corpus),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )


def _snapshot(data: Path, corpus: Path) -> tuple[dict[str, str], set[str], int]:
    kb = open_kb(
        Settings(data_dir=data, corpus=[corpus], embedder="hashing"), embedder=HashingEmbedder()
    )
    chunks = kb.registry.chunks([cid for cid, _ in kb.registry.all_meta()])
    vectors = set(kb.vectors.all_ids())
    pending = kb.registry.pending_count()
    kb.close()
    return {cid: c.text for cid, c in chunks.items()}, vectors, pending


def test_repeated_kill_9_then_rerun_gives_exactly_the_clean_result(tmp_path, shared_corpus):
    corpus = tmp_path / "corpus"
    for rel in ("regulations/cn-coal", "regulations/cn-local", "regulations/us/29cfr1910"):
        shutil.copytree(shared_corpus / rel, corpus / rel)
    shutil.copy(shared_corpus / "manifest.csv", corpus / "manifest.csv")

    clean = tmp_path / "clean"
    assert (
        subprocess.run(
            [sys.executable, "-m", "api.cli", "ingest"],
            env=_env(clean, corpus),
            cwd=REPO,
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    want_chunks, want_vectors, _ = _snapshot(clean, corpus)
    assert want_chunks and set(want_chunks) == want_vectors

    crashed = tmp_path / "crashed"
    rng = random.Random(20261130)
    kills = 0
    for _ in range(5):
        proc = _ingest(crashed, corpus)
        time.sleep(rng.uniform(0.5, 5.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        # between crashes no document is half-registered (checked in _snapshot); vectors may lag
        # or outlive their chunks until the next run settles them
        _snapshot(crashed, corpus)
    assert kills >= 3, "the runs finished before they could be killed; lengthen the corpus"

    final = _ingest(crashed, corpus)
    assert final.wait(timeout=600) == 0
    got, vectors, pending = _snapshot(crashed, corpus)
    assert got == want_chunks
    assert vectors == set(got), "orphan or missing vectors after the re-run"
    assert pending == 0
