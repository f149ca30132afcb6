"""The incremental ingest run on real corpus files copied into a temporary corpus root."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from tests.conftest import corpus_file

LAW = "regulations/cn/安全生产法(2021-06-10).md"
HTML = "regulations/us/29cfr1910/1910.146.html"
COAL = "regulations/cn-coal/21-中华人民共和国煤炭法.txt"


@pytest.fixture
def corpus(settings) -> Path:
    root = settings.corpus_roots()[0]
    for rel in (LAW, HTML, COAL):
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus_file(rel), dest)
    (root / "manifest.csv").write_text(
        "path,title,doc_type,jurisdiction,issuer,language,industries,effective_date\n"
        f"{LAW},中华人民共和国安全生产法,law,CN,全国人大常委会,zh,general;mining,2021-09-01\n",
        encoding="utf-8",
    )
    return root


def test_first_run_adds_every_file_and_fills_vectors(kb, corpus):
    report = run_ingest(kb)
    assert sorted(report.added) == sorted([LAW, HTML, COAL])
    assert report.failed == [] and report.exit_code == 0
    assert report.total_chunks == kb.registry.chunk_count() == kb.vectors.count()
    assert report.vectors_pending == 0


def test_manifest_row_wins_and_other_files_get_inferred_metadata(kb, corpus):
    run_ingest(kb)
    law = kb.search("安全风险分级管控", k=1, where={"source": LAW})[0].chunk
    assert (law.doc_type, law.jurisdiction, law.industries) == ("law", "CN", ["general", "mining"])
    html = kb.search("permit space", k=1, where={"source": HTML})[0].chunk
    assert html.language == "en" and html.jurisdiction == "US" and html.doc_type == "regulation"
    coal = kb.search("煤炭资源", k=1, where={"source": COAL})[0].chunk
    assert coal.language == "zh" and coal.jurisdiction == "CN"


def test_unchanged_files_are_skipped_without_embedding(kb, corpus):
    run_ingest(kb)
    misses = kb.embedder.misses
    again = run_ingest(kb)
    assert sorted(again.unchanged) == sorted([LAW, HTML, COAL])
    assert again.vectors_written == 0 and kb.embedder.misses == misses


def test_changed_file_replaces_its_chunks_and_only_new_text_is_embedded(kb, corpus):
    run_ingest(kb)
    path = corpus / LAW
    text = path.read_text(encoding="utf-8")
    assert "第四十一条 生产经营单位应当建立安全风险分级管控制度" in text
    path.write_text(
        text.replace(
            "第四十一条 生产经营单位应当建立安全风险分级管控制度",
            "第四十一条 生产经营单位必须建立安全风险分级管控制度",
        ),
        encoding="utf-8",
    )
    report = run_ingest(kb)
    assert report.updated == [LAW]
    assert report.vectors_written == 1  # only the changed article
    hit = kb.search("安全生产法第四十一条", k=1)[0].chunk
    assert "必须建立安全风险分级管控制度" in hit.text
    assert set(kb.vectors.all_ids()) == {cid for cid, _ in kb.registry.all_meta()}


def test_prune_removes_vanished_files_and_their_vectors(kb, corpus):
    run_ingest(kb)
    (corpus / HTML).unlink()
    kept = run_ingest(kb)
    assert kept.removed == [] and kb.registry.document(HTML) is not None
    report = run_ingest(kb, prune=True)
    assert report.removed == [HTML]
    assert kb.search("permit-required confined space", k=5, where={"source": HTML}) == []
    assert set(kb.vectors.all_ids()) == {cid for cid, _ in kb.registry.all_meta()}


def test_a_bad_file_is_reported_and_loses_nothing_else(kb, corpus):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n")  # truncated
    (corpus / "notes.xyz").write_text("unknown type", encoding="utf-8")
    report = run_ingest(kb)
    assert report.exit_code == 1
    failed = {f.source: f for f in report.failed}
    assert set(failed) == {"broken.pdf", "notes.xyz"}
    assert failed["notes.xyz"].code == "unsupported_format" and ".pdf" in failed["notes.xyz"].reason
    assert failed["broken.pdf"].code == "unreadable"
    assert sorted(report.added) == sorted([LAW, HTML, COAL])
    assert kb.stats()["failures"] == 2


def test_size_limit_is_a_setting(kb, corpus):
    kb.settings.max_file_mb = 0.005  # 5 KB: every file here is larger
    report = run_ingest(kb)
    assert {f.source: f.code for f in report.failed} == dict.fromkeys(
        [LAW, HTML, COAL], "too_large"
    )
    assert all("ANQUAN_MAX_FILE_MB" in f.reason for f in report.failed)
    assert kb.registry.chunk_count() == 0


def test_explicit_path_outside_roots_uses_its_folder_as_root(kb, tmp_path):
    other = tmp_path / "elsewhere" / "sub"
    other.mkdir(parents=True)
    shutil.copy(corpus_file(HTML), other / "1910.146.html")
    report = run_ingest(kb, [other / "1910.146.html"])
    assert report.added == ["1910.146.html"]


def test_no_embed_leaves_vectors_pending_and_lexical_ready(settings, corpus):
    kb = open_kb(settings, embedder=HashingEmbedder())
    report = run_ingest(kb, embed=False)
    assert report.vectors_pending == report.total_chunks > 0
    assert kb.search("permit-required confined space entry", k=3, mode="lexical")
    assert kb.search("permit-required confined space entry", k=3)  # hybrid degrades to lexical
    kb.sync_vectors()
    assert kb.registry.pending_count() == 0
    kb.close()
