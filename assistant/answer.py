"""The assistant: a question in, a grounded answer out (or an honest refusal).

    question ─▶ standalone query (follow-ups) ─▶ retrieve ─▶ gate ─┬─▶ refuse, nearest clauses
                                                                  └─▶ generate ─▶ check ─▶ answer
                                                                       (model or extractive)

Citations belong to the application: passages are numbered, the model marks which it used,
and the answer carries those passages as citations. A model answer with a figure or clause
reference that its cited passages do not hold, with no marks at all, or a model that fails,
is replaced by the extractive answer (``fallback`` says why). Related accidents are added by
the application too, so every backend ends its answer with the same lessons.

``ask_stream`` yields events as they happen (evidence first, so a person sees the clauses at
once, then answer tokens, then the final answer); ``ask`` is the same run, collected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

from assistant import extractive, gate
from assistant.accidents import record_id, related_accidents
from assistant.followup import standalone_query
from assistant.llm import LLMUnavailable, check_backend, get_chat_model
from assistant.prompts import build_messages
from assistant.retrieve import Evidence, Passage, coverage, is_accident, retrieve
from ingest.errors import AnquanError
from ingest.kb import KnowledgeBase
from ingest.language import detect_language
from ingest.lexical import tokenize
from ingest.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Answer:
    """ARCHITECTURE.md "Answer", plus how it was made."""

    answer: str
    refused: bool
    reason: str | None
    citations: list[dict[str, Any]]
    related_accidents: list[dict[str, Any]]
    language: str
    timings: dict[str, float]
    #: the backend that wrote ``answer`` (``extractive`` after a fallback)
    backend: str = "extractive"
    #: why a requested model did not write the answer, when it did not
    fallback: str | None = None
    #: the question as searched (a follow-up rewritten to stand alone)
    query: str = ""
    #: for refusals: the closest clauses found
    nearest: list[dict[str, Any]] = field(default_factory=list)
    #: evidence strength (0..1) the gate measured
    strength: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Assistant:
    """Answers questions from one knowledge base. Thread-safe for concurrent ``ask`` calls
    (a local model serialises its own generations)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        settings: Settings | None = None,
        chat_models: dict[str, BaseChatModel] | None = None,
    ) -> None:
        self.kb = kb
        self.settings = settings or kb.settings
        #: backend name → chat model; given ones (tests, a hosted model) win over settings
        self._models: dict[str, BaseChatModel] = dict(chat_models or {})

    # -- models ----------------------------------------------------------------------
    def chat_model(self, name: str) -> BaseChatModel | None:
        if name == "extractive":
            return None
        if name not in self._models:
            model = get_chat_model(self.settings, name)
            assert model is not None
            self._models[name] = model
        return self._models[name]

    def _budget(self, backend: str) -> int:
        if backend == "openai":
            return self.settings.answer_context_tokens_remote
        return self.settings.answer_context_tokens

    # -- answering -------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        filters: dict[str, str] | None = None,
        llm: str | None = None,
    ) -> Answer:
        final: Answer | None = None
        for event in self._events(question, history, filters, llm):
            if event["type"] == "answer":
                final = event["answer_obj"]
        assert final is not None
        return final

    def ask_stream(
        self,
        question: str,
        history: Sequence[Any] | None = None,
        filters: dict[str, str] | None = None,
        llm: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """JSON-ready events: ``{"type": "evidence", "query", "language", "passages",
        "refused"}``; then ``{"type": "token", "text"}`` pieces of the answer as they are
        written; ``{"type": "reset", "reason"}`` when a model's text is withdrawn and the
        extractive answer follows; finally ``{"type": "answer", "answer": Answer dict}``."""
        for event in self._events(question, history, filters, llm):
            if event["type"] == "answer":
                event = {"type": "answer", "answer": event["answer"]}
            yield event

    def _events(
        self,
        question: str,
        history: Sequence[Any] | None,
        filters: dict[str, str] | None,
        llm: str | None,
    ) -> Iterator[dict[str, Any]]:
        backend = check_backend(llm, self.settings)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        language = detect_language(question)
        query = standalone_query(question, history)
        evidence = retrieve(
            self.kb,
            query,
            filters=filters,
            budget_tokens=self._budget(backend),
            max_passages=self.settings.answer_passages,
            language=language,
        )
        decision = gate.assess(self.kb, query, evidence, self.settings.refusal_threshold)
        timings["retrieve_ms"] = _ms(t0)
        yield {
            "type": "evidence",
            "query": query,
            "language": language,
            "passages": [p.citation() for p in evidence.passages],
            "refused": not decision.ok,
        }

        if not decision.ok:
            nearest = gate.nearest(evidence.ranked)
            text = extractive.refusal_text(
                language, decision.reason or "", decision.missing, nearest
            )
            yield from _tokens(text)
            timings["total_ms"] = _ms(t0)
            answer = Answer(
                answer=text,
                refused=True,
                reason=_reason(decision, language),
                citations=[],
                related_accidents=[],
                language=language,
                timings=timings,
                backend=backend,
                query=query,
                nearest=nearest,
                strength=round(decision.strength, 3),
            )
            yield _final(answer)
            return

        t1 = time.perf_counter()
        exclude = {record_id(p.chunk) for p in evidence.passages if is_accident(p.chunk)}
        related = related_accidents(
            self.kb,
            query,
            language,
            n=self.settings.related_accidents,
            exclude=exclude,
            candidates=evidence.accident_hits,
        )
        timings["accidents_ms"] = _ms(t1)

        used_backend, fallback = backend, None
        text = ""
        cited: list[Passage] = []
        quotes: dict[int, str] = {}
        if backend != "extractive":
            t2 = time.perf_counter()
            try:
                model = self.chat_model(backend)
                assert model is not None
                pieces: list[str] = []
                for piece in self._generate(model, query, language, evidence):
                    if not pieces:
                        timings["first_token_ms"] = _ms(t0)
                    pieces.append(piece)
                    yield {"type": "token", "text": piece}
                raw = "".join(pieces).strip()
                timings["generate_ms"] = _ms(t2)
                cited, problem = check_model_answer(raw, evidence, query)
                if problem:
                    fallback = problem
                else:
                    # the clauses the model used, and the best evidence even if it did not
                    best = extractive.choose_citations(evidence.passages)
                    cited = sorted({p.n: p for p in [*cited, *best]}.values(), key=lambda p: p.n)
                    words = extractive.clause_words(
                        query, language, cited, evidence.weights, evidence.alternatives
                    )
                    yield from _tokens(words)
                    text = raw + words + _related_block(related, language)
                    quotes = {p.n: p.text for p in cited}
            except (LLMUnavailable, AnquanError) as exc:
                fallback = str(exc)
            except Exception as exc:  # a broken model must not break the answer
                log.exception("the %s backend failed", backend)
                fallback = f"{backend} backend failed: {type(exc).__name__}: {exc}"
            if fallback:
                used_backend = "extractive"
                yield {"type": "reset", "reason": fallback}

        if not text:
            cited = extractive.choose_citations(evidence.passages)
            text, quotes = extractive.compose(
                query, language, cited, evidence.weights, related, evidence.alternatives
            )
            yield from _tokens(text)
        timings["total_ms"] = _ms(t0)
        answer = Answer(
            answer=text,
            refused=False,
            reason=None,
            citations=[p.citation(quote=quotes.get(p.n)) for p in cited],
            related_accidents=related,
            language=language,
            timings=timings,
            backend=used_backend,
            fallback=fallback,
            query=query,
            strength=round(decision.strength, 3),
        )
        yield _final(answer)

    def _generate(
        self, model: BaseChatModel, question: str, language: str, evidence: Evidence
    ) -> Iterator[str]:
        messages = build_messages(question, language, evidence.passages)
        for chunk in model.stream(messages):
            piece = chunk.content if isinstance(chunk.content, str) else str(chunk.content)
            if piece:
                yield piece


def check_model_answer(
    raw: str, evidence: Evidence, question: str
) -> tuple[list[Passage], str | None]:
    """The passages a model answer cites, or why the answer cannot stand."""
    if not raw:
        return [], "the model returned nothing"
    by_n = {p.n: p for p in evidence.passages}
    marked = [n for n in gate.cited_numbers(raw) if n in by_n]
    cited = [by_n[n] for n in marked] or attribute(raw, evidence.passages)
    if not cited:
        return [], "the model marked no passage it used, and its text matches none"
    relevance = coverage(evidence.weights, evidence.alternatives, set(tokenize(raw)))
    if evidence.weights and relevance < MIN_ANSWER_RELEVANCE:
        return (
            cited,
            f"the model's answer does not address the question (relevance {relevance:.2f})",
        )
    novel = set(tokenize(gate.strip_markers(raw))) - set(tokenize(question))
    new_figures = gate.numbers_in(raw) - gate.numbers_in(question)
    if len(novel) < MIN_NEW_WORDS and not new_figures:  # "超过一百人的…" adds just the figure
        return cited, "the model's answer only restates the question"
    problems = gate.unsupported_claims(raw, cited, question)
    if problems:
        return cited, "figures or clauses not in the cited passages: " + ", ".join(problems)
    if _declines(raw):
        return cited, "the model said the passages do not answer the question"
    return cited, None


#: an unmarked answer is attributed to the passages sharing this share of its words
ATTRIBUTION_OVERLAP = 0.5
ATTRIBUTION_MIN_WORDS = 4
#: a model answer must cover this share of the question's (weighted) words
MIN_ANSWER_RELEVANCE = 0.15
#: and add at least this many words of its own (small models sometimes echo the question)
MIN_NEW_WORDS = 2


def attribute(text: str, passages: Sequence[Passage]) -> list[Passage]:
    """The passages an unmarked model answer was written from, judged by shared words.

    Small models often forget the [n] marks; the application, which owns citations, can still
    tell which passage the words came from. The figures are checked against these passages
    afterwards like any others.
    """
    words = set(tokenize(text))
    if len(words) < ATTRIBUTION_MIN_WORDS:
        return []
    shares = []
    for p in passages:
        shared = len(words & set(tokenize(p.text)))
        if shared >= ATTRIBUTION_MIN_WORDS:
            shares.append((shared / len(words), p))
    best = max((share for share, _ in shares), default=0.0)
    if best < ATTRIBUTION_OVERLAP:
        return []
    return [p for share, p in shares if share >= 0.85 * best][:2]


def _declines(text: str) -> bool:
    return "do not answer this" in text or "不能回答这个问题" in text


def _related_block(related: Sequence[dict[str, Any]], language: str) -> str:
    lines = extractive.related_lines(related, language == "zh")
    return ("\n\n" + "\n".join(lines)) if lines else ""


def _reason(decision: gate.Decision, language: str) -> str:
    zh = language == "zh"
    if decision.reason == "missing":
        names = ", ".join(decision.missing)
        return f"知识库中没有：{names}" if zh else f"not in the knowledge base: {names}"
    if decision.reason == "unmentioned":
        names = ", ".join(decision.missing)
        return f"条文中没有提到：{names}" if zh else f"no clause found mentions: {names}"
    if decision.reason == "nothing_found":
        return "没有检索到任何条文" if zh else "no clause found"
    return (
        f"证据不足（覆盖度 {decision.strength:.2f}）"
        if zh
        else f"evidence too weak (coverage {decision.strength:.2f})"
    )


def _tokens(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines(keepends=True):
        yield {"type": "token", "text": line}


def _final(answer: Answer) -> dict[str, Any]:
    return {"type": "answer", "answer": answer.to_dict(), "answer_obj": answer}


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000.0, 1)
