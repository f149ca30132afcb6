"""An embedder probe: which model ranks the right clause first, and how fast is it here?

Built from the dev set and the real corpus: for every answerable question, its gold chunks
(found by the same matching rule as the evals) go into a pool with a fixed random sample of
other chunks; each embedder ranks the pool for each question. Cheap enough to run for every
candidate on 2 cores, unlike a full-corpus ingest per model.

    python -m evals.probe --data-dir data --dataset evals/datasets/dev.jsonl --out evals/out/probe.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from evals.metrics import chunk_matches_gold
from evals.runner import load_dataset
from ingest.embedders import make_embedder
from ingest.kb import embed_text, open_kb
from ingest.settings import Settings


def build_pool(kb, items, distractors: int, seed: int = 7):
    metas = kb.registry.all_meta()
    by_source: dict[str, list[str]] = {}
    for cid, meta in metas:
        base = meta["source"].split("#")[0]
        by_source.setdefault(base, []).append(cid)
    gold_ids: dict[str, set[str]] = {}
    wanted: set[str] = set()
    for item in items:
        ids: set[str] = set()
        for gold in item["gold"]:
            base = gold["source"].split("#")[0]
            cands = kb.registry.chunks(by_source.get(base, []))
            for cid, chunk in cands.items():
                d = {"source": chunk.source, "locator": chunk.locator, "text": chunk.text}
                if chunk_matches_gold(d, gold, item.get("evidence", [])):
                    ids.add(cid)
        if ids:
            gold_ids[item["id"]] = ids
            wanted |= ids
    rng = random.Random(seed)
    others = [cid for cid, _ in metas if cid not in wanted]
    pool = sorted(wanted) + rng.sample(others, min(distractors, len(others)))
    return pool, gold_ids


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", type=Path, required=True, help="an ingested knowledge base")
    p.add_argument("--dataset", type=Path, default=Path("evals/datasets/dev.jsonl"))
    p.add_argument("--embedders", default="e5-small-q4,minilm,use-m3")
    p.add_argument("--distractors", type=int, default=600)
    p.add_argument("--out", type=Path, default=Path("evals/out/probe.json"))
    args = p.parse_args(argv)

    settings = Settings(data_dir=args.data_dir, embedder="hashing")
    kb = open_kb(settings)
    items = [i for i in load_dataset(args.dataset) if i["answerable"]]
    pool, gold_ids = build_pool(kb, items, args.distractors)
    chunks = kb.registry.chunks(pool)
    defaults = Settings()
    texts = [
        embed_text(chunks[c], defaults.embed_max_chars, defaults.embed_record_chars) for c in pool
    ]
    items = [i for i in items if i["id"] in gold_ids]
    results: dict[str, dict] = {}
    fused_ranks: dict[str, list[list[int]]] = {}
    for name in [n.strip() for n in args.embedders.split(",") if n.strip()]:
        emb = make_embedder(name)
        emb.embed_passages(texts[:4])
        t0 = time.perf_counter()
        P = np.vstack([emb.embed_passages(texts[i : i + 32]) for i in range(0, len(texts), 32)])
        secs = time.perf_counter() - t0
        Q = emb.embed_queries([i["question"] for i in items])
        order = np.argsort(-(Q @ P.T), axis=1)
        fused_ranks[name] = order.tolist()
        results[name] = _score(items, order, pool, gold_ids) | {
            "passages_per_second": round(len(texts) / secs, 2),
            "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        }
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    names = list(fused_ranks)
    for a_i, a in enumerate(names):
        for b in names[a_i + 1 :]:
            order = _rrf(fused_ranks[a], fused_ranks[b], len(pool))
            results[f"{a}+{b}"] = _score(items, order, pool, gold_ids)
    out = {"pool": len(pool), "questions": len(items), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _rrf(a: list[list[int]], b: list[list[int]], n: int) -> np.ndarray:
    out = []
    for ra, rb in zip(a, b, strict=True):
        score = np.zeros(n)
        for ranks in (ra, rb):
            score[np.asarray(ranks)] += 1.0 / (60 + np.arange(1, n + 1))
        out.append(np.argsort(-score))
    return np.asarray(out)


def _score(items, order, pool, gold_ids) -> dict:
    by: dict[str, list[float]] = {}
    hits1 = []
    rr = []
    for row, item in zip(order, items, strict=True):
        ranked = [pool[j] for j in row[:50]]
        first = next((r for r, cid in enumerate(ranked, 1) if cid in gold_ids[item["id"]]), None)
        hits1.append(1.0 if first == 1 else 0.0)
        rr.append(1.0 / first if first else 0.0)
        group = "cross_lingual" if item["category"] == "cross_lingual" else item["lang"]
        by.setdefault(group, []).append(1.0 if first == 1 else 0.0)
    return {
        "hit@1": round(float(np.mean(hits1)), 3),
        "mrr": round(float(np.mean(rr)), 3),
        **{f"hit@1_{g}": round(float(np.mean(v)), 3) for g, v in sorted(by.items())},
    }


if __name__ == "__main__":
    sys.exit(main())
