"""The sizing run (``python -m evals.sizing``) on tiny sizes: real corpus variants, the real
write path, one process per size, and a report whose figures hang together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.sizing import (
    SEARCH_MODES,
    VariantMaker,
    load_seed,
    main,
    text_units,
)

pytestmark = pytest.mark.integration

SEED_FILES = [
    "regulations/cn/安全生产法(2021-06-10).md",
    "regulations/us/29cfr1910/1910.146.html",
    "accidents/us/osha-accident-abstracts-2016-2017.csv",
]


@pytest.fixture(scope="module")
def seed(request):
    corpus = (Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus").resolve()
    if not corpus.is_dir():
        pytest.skip(f"starter corpus not found at {corpus}")
    docs, failed = load_seed(corpus, SEED_FILES)
    assert not failed
    return corpus, docs


def test_variants_are_deterministic_new_texts_of_the_same_kind(seed):
    _, docs = seed
    maker = VariantMaker(docs, seed=7)
    meta, fmt, chunks = maker.document(12, 1000)
    again = VariantMaker(docs, seed=7).document(12, 1000)[2]
    assert [c.text for c in chunks] == [c.text for c in again]
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in again]
    assert 50 <= len(chunks) <= 200
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert meta.source.startswith("synthetic/0000012/")
    assert all(c.doc_id == meta.doc_id and c.source.startswith(meta.source) for c in chunks)
    template = next(d for d in docs if meta.source.endswith(d.meta.source))
    assert fmt == template.fmt and meta.language == template.meta.language
    originals = {c.text for c in template.chunks}
    assert sum(c.text not in originals for c in chunks) >= 0.9 * len(chunks)
    by_locator = {c.locator: c for c in template.chunks}
    for c in chunks:  # the clause header stays, the length stays near the original's
        orig = by_locator[c.locator]
        assert c.text.startswith(text_units(orig.text)[0].split("\n")[0])
        assert c.language == orig.language and c.doc_type == orig.doc_type
    ratio = sum(len(c.text) for c in chunks) / sum(len(by_locator[c.locator].text) for c in chunks)
    assert 0.8 <= ratio <= 1.3
    other = VariantMaker(docs, seed=8).document(12, 1000)[2]
    assert [c.text for c in other] != [c.text for c in chunks]


def test_document_size_is_capped_by_what_is_left(seed):
    _, docs = seed
    assert len(VariantMaker(docs).document(3, 17)[2]) == 17


@pytest.mark.slow
def test_tiny_sizes_report_consistent_figures(seed, tmp_path):
    corpus, _ = seed
    out = tmp_path / "sizing.json"
    rc = main(
        ["--sizes", "500,1500", "--out", str(out), "--workdir", str(tmp_path / "work"),
         "--corpus", str(corpus), "--no-e5", "--files", *SEED_FILES]
    )  # fmt: skip
    assert rc == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["stopped"] is None
    assert report["completed_sizes"] == [500, 1500]
    method = report["method"]
    assert method["seed_chunks"] > 500 and set(method["seed_by_language"]) == {"en", "zh"}
    sizes = report["sizes"]
    assert [s["chunks"] for s in sizes] == [500, 1500]
    assert [s["write"]["chunks"] for s in sizes] == [500, 1000]
    assert sizes[0]["documents"] < sizes[1]["documents"]
    for s in sizes:
        assert s["stage"] == "done"
        assert s["vectors"]["collection_count"] == s["chunks"] == s["lexical"]["chunks"]
        assert s["vectors"]["written"] == s["write"]["chunks"]
        assert s["write"]["chunks_per_second"] > 0 and s["vectors"]["chunks_per_second"] > 0
        assert s["generated"]["duplicate_texts"] <= s["write"]["chunks"] // 100
        for mode in SEARCH_MODES:
            q = s["search"][mode]
            assert q["queries"] == 100
            assert 0 < q["p50_ms"] <= q["p95_ms"] <= q["max_ms"]
            assert q["mean_hits"] > 0
        mem = s["memory"]
        assert 0 < mem["after_search"]["rss_mib"] <= mem["peak_rss_mib"]
        assert s["disk"]["chroma_bytes"] > 0 and s["disk"]["registry_bytes"] > 0
        assert s["disk"]["lexical_bytes"] > 0
        cold = s["cold_open"]
        assert cold["first_search_hits"] == 10
        assert 0 < cold["open_and_first_search_seconds"] < cold["process_wall_seconds"]
    assert sizes[0]["disk"]["total_bytes"] < sizes[1]["disk"]["total_bytes"]
    languages = {lang for s in sizes for lang in s["generated"]["by_language"]}
    assert languages == {"en", "zh"}  # the seed's mix carries into the variants
    assert not (tmp_path / "work" / "kb").exists()  # large; removed unless --keep-data


def test_a_size_over_the_memory_limit_is_stopped_and_named(seed, tmp_path):
    corpus, _ = seed
    out = tmp_path / "sizing.json"
    rc = main(
        ["--sizes", "500", "--out", str(out), "--workdir", str(tmp_path / "work"),
         "--corpus", str(corpus), "--no-e5", "--max-rss-gib", "0.03", "--files", SEED_FILES[0]]
    )  # fmt: skip
    assert rc == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["sizes"] == [] and report["completed_sizes"] == []
    assert report["stopped"]["size"] == 500
    assert "RSS" in report["stopped"]["reason"]


def test_help_names_the_sizes_and_the_output(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--sizes" in text and "--out" in text and "--quick" in text and "--max-rss-gib" in text


@pytest.mark.slow
def test_keep_grows_the_same_knowledge_base_and_extends_the_report(seed, tmp_path):
    corpus, _ = seed
    out, work = tmp_path / "sizing.json", tmp_path / "work"
    common = ["--out", str(out), "--workdir", str(work), "--corpus", str(corpus), "--no-e5"]
    common += ["--files", SEED_FILES[0]]
    assert main(["--sizes", "300", "--keep-data", *common]) == 0
    assert main(["--sizes", "300,700", "--keep", *common]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["completed_sizes"] == [300, 700]
    assert report["continues"]["argv"][:2] == ["--sizes", "300"]
    second = report["sizes"][1]
    assert second["start_chunks"] == 300 and second["write"]["chunks"] == 400
    assert second["vectors"]["collection_count"] == 700
