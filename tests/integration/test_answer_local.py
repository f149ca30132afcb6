"""The ``local`` backend with a real model: llama.cpp on the packaged Qwen2.5-Coder-0.5B GGUF
(the fast fixture; the 1.5B is the default for users), answering real corpus questions.

Kept short on purpose (two questions, 96 new tokens, a 2048-token context): on 2 cores each
answer takes some seconds. The model is assembled once into the shared test cache.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from assistant import gate
from assistant.answer import Assistant
from assistant.llm.assemble import QWEN_0_5B, assemble
from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.conftest import MODEL_CACHE
from tests.integration.test_answer_corpus import LAW, SUBPART_M, copy_corpus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gguf():
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (make install)")
    if importlib.util.find_spec(f"{QWEN_0_5B.module_prefix}1") is None:
        pytest.skip("the 0.5B model parts are not installed (make install)")
    return assemble(QWEN_0_5B, MODEL_CACHE / "models")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, gguf):
    tmp = tmp_path_factory.mktemp("answer-local")
    copy_corpus(tmp / "corpus", (LAW, SUBPART_M))
    settings = Settings(
        data_dir=tmp / "data",
        corpus=[tmp / "corpus"],
        embedder="hashing",
        embed_cache=tmp / "cache.sqlite",
        llm_gguf=gguf,
        llm_ctx=2048,
        llm_max_tokens=96,
        llm_temperature=0.0,
        answer_context_tokens=450,
        answer_passages=3,
    )
    kb = open_kb(settings, embedder=HashingEmbedder())
    run_ingest(kb)
    yield Assistant(kb, settings)
    kb.close()


QUESTIONS = [
    (
        "At what height above a lower level must workers on an unprotected side or edge be "
        "protected from falling?",
        SUBPART_M,
        "1926.501(b)",
        "6",
    ),
    ("从业人员超过多少人的生产经营单位应当设置安全生产管理机构？", LAW, "第二十四条", "一百"),
]


@pytest.fixture(scope="module")
def runs(assistant):
    """Each question streamed once through the real model: (events, final answer)."""
    out = []
    for question, *_ in QUESTIONS:
        events = list(assistant.ask_stream(question, llm="local"))
        out.append((events, events[-1]["answer"]))
    return out


def test_the_model_streams_after_the_evidence(runs):
    for events, final in runs:
        kinds = [e["type"] for e in events]
        assert kinds[0] == "evidence" and kinds[-1] == "answer"
        assert "token" in kinds
        assert final["timings"]["first_token_ms"] > 0  # the model was really called
        assert not final["refused"]


def test_answers_cite_the_right_clause_and_keep_its_figures(runs):
    local_answers = 0
    for (question, source, locator, figure), (_, final) in zip(QUESTIONS, runs, strict=True):
        cited = [(c["source"], c["locator"]) for c in final["citations"]]
        assert any(s == source and loc.startswith(locator) for s, loc in cited), (question, cited)
        if final["backend"] != "local":
            assert final["fallback"]  # replaced, and it says why
            continue
        local_answers += 1
        # the gate let it through: every figure in the text is in a cited passage
        quotes = " ".join(c["quote"] for c in final["citations"])
        assert figure in quotes
        assert re.search(r"\[\d\]", final["answer"]) or final["citations"]
    assert local_answers >= 1, [f["fallback"] for _, f in runs]


def _model_part(answer: str) -> str:
    """What the model wrote: the clause words and related accidents that follow are quoted."""
    for heading in ("The clauses, as written:", "条文原文：", "Related accidents", "相关事故"):
        answer = answer.split("\n\n" + heading)[0]
    return answer


def test_unsupported_figures_never_survive(runs):
    for (question, *_), (_, final) in zip(QUESTIONS, runs, strict=True):
        if final["backend"] == "local":
            text = _model_part(final["answer"])
            figures = gate.numbers_in(gate.strip_clause_refs(text))
            support = " ".join(c["quote"] + " " + c["title"] for c in final["citations"])
            allowed = gate.numbers_in(gate.strip_clause_refs(support)) | gate.numbers_in(question)
            assert figures <= allowed


def test_a_model_answer_is_followed_by_its_clauses_as_written(runs):
    for _, final in runs:
        if final["backend"] == "local":
            model = _model_part(final["answer"])
            words = final["answer"][len(model) :]
            assert words.lstrip().startswith(("The clauses, as written:", "条文原文："))
            for c in final["citations"]:
                assert f"[{c['n']}]" in words  # every cited clause is quoted under the answer
