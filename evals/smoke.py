"""The CI smoke gate: the smoke set on a knowledge base of the files it cites.

The whole corpus takes the default embedder the better part of an hour on 2 cores, so the
gate builds a smaller knowledge base: every file the smoke questions cite, with rule text
embedded and accident records left to lexical search (they are thousands of narratives; the
registry embeds rules first). The same function writes the committed baseline
(``python -m evals.smoke --write-baseline``) and runs in ``make test``, so both see the same
configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from evals.cli import ASSISTANT_SYSTEM, BASE_SYSTEMS, assistant_system, search_system
from evals.gate import check_against_baseline
from evals.runner import load_dataset, run_eval
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "evals" / "datasets" / "smoke.jsonl"
BASELINE = REPO / "evals" / "baseline.json"
SYSTEMS = ("assistant", "hybrid", "lexical", "dense")


def smoke_sources(dataset: Path = SMOKE) -> list[str]:
    return sorted({g["source"].split("#")[0] for i in load_dataset(dataset) for g in i["gold"]})


def run_smoke(
    corpus: Path, data_dir: Path, embed_cache: Path, out: Path, embedder: str = "e5-small-q4"
) -> dict[str, Any]:
    settings = Settings(
        data_dir=data_dir, corpus=[corpus], embedder=embedder, embed_cache=embed_cache
    )
    kb = open_kb(settings)
    paths = [corpus / s for s in smoke_sources()]
    report = run_ingest(kb, paths, embed=False)
    if report.failed:
        raise RuntimeError(f"smoke corpus failed to load: {report.failed}")
    rules = sum(1 for _, m in kb.registry.all_meta() if "record" not in str(m.get("doc_type")))
    kb.sync_vectors(limit=rules)
    systems = {
        name: assistant_system(kb)
        if name == ASSISTANT_SYSTEM
        else search_system(kb, *BASE_SYSTEMS[name])
        for name in SYSTEMS
    }
    metrics = run_eval(SMOKE, out, systems, primary=ASSISTANT_SYSTEM)
    kb.close()
    return metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--corpus", type=Path, default=(REPO / ".." / "shared" / "corpus").resolve())
    p.add_argument(
        "--embed-cache", type=Path, default=Path.home() / ".cache" / "anquan" / "embed_cache.sqlite"
    )
    p.add_argument("--out", type=Path, default=REPO / "evals" / "out" / "smoke")
    p.add_argument(
        "--write-baseline", action="store_true", help="store the figures as the smoke baseline"
    )
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = run_smoke(args.corpus, Path(tmp) / "data", args.embed_cache, args.out)
    if args.write_baseline:
        baseline = json.loads(BASELINE.read_text(encoding="utf-8")) if BASELINE.exists() else {}
        baseline["smoke"] = {"systems": metrics["systems"], "answers": metrics.get("answers")}
        BASELINE.write_text(
            json.dumps(baseline, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        print(f"wrote the smoke baseline to {BASELINE}")
        return 0
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))["smoke"]
    failures = check_against_baseline(metrics, baseline)
    for f in failures:
        print(f"REGRESSION {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
