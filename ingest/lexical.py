"""The lexical side of search: a tokenizer for Chinese and English, and a BM25 index.

Chinese is segmented with jieba (search mode); English is lowercased with light
plural stripping; clause codes stay whole (``1926.501(b)(1)`` also yields its parents
``1926.501(b)`` and ``1926.501`` so a query for the section finds its paragraphs;
``GB 30871-2022``; ``第四十一条``). The index is a bm25s matrix saved next to the
vectors with the registry generation it was built from, and rebuilt when stale.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_CN_NUM = "零〇一二三四五六七八九十百千两"
_CODE = re.compile(
    r"(?P<cfr>\d{4}\.\d+[a-z]?(?:\([0-9a-zA-Z]{1,5}\))*)"
    r"|(?P<std>\b(?:GB|GBZ|AQ|JGJ|GB/T|AQ/T|JGJ/T|NFPA|ANSI|ISO)\s*/?\s*[\d.]+(?:-\d{2,4})?)"
    r"|(?P<art>第[" + _CN_NUM + r"\d]+[条章节款项编])",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_EN_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_ZH_STOP = frozenset(
    "的 了 和 与 或 及 在 是 为 对 由 等 其 之 中 上 下 以 把 被 要 吗 呢 啊 吧 么 什么 怎么 怎样 哪些 多少 如何 是否 应该 需要 可以 有 没有 一个 这个 那个 我们 你们 他们 时 后 前".split()
)
_EN_STOP = frozenset(
    (
        "a an the of to in on at for by with from as is are was were be been being it its "
        "this that these those and or but if then than so do does did can could should "
        "would will shall must may might what which who whom how when where why there "
        "here any all each every some such no not only our we you your they them their he "
        "she his her i me my have has had about into over under up out more most other "
    ).split()
)

_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba():
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _code_tokens(match: re.Match[str]) -> list[str]:
    text = match.group(0)
    if match.group("cfr"):
        text = text.lower()
        parts = re.findall(r"\([0-9a-z]+\)", text)
        base = text.split("(")[0]
        out = [base]
        for i in range(1, len(parts) + 1):
            out.append(base + "".join(parts[:i]))
        return out
    if match.group("std"):
        code = re.sub(r"\s+", "", text).lower()
        return [code, code.split("-")[0]]
    return [text]


def tokenize(text: str, *, for_query: bool = False) -> list[str]:
    """Tokens for BM25: codes whole, Chinese segmented, English lowercased and de-pluralised."""
    tokens: list[str] = []
    pos = 0
    for m in _CODE.finditer(text):
        tokens += _plain_tokens(text[pos : m.start()])
        tokens += _code_tokens(m)
        pos = m.end()
    tokens += _plain_tokens(text[pos:])
    return tokens


def _plain_tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    for m in _CJK.finditer(text):
        out += _english(text[pos : m.start()])
        out += [w for w in _jieba().lcut_for_search(m.group(0)) if w not in _ZH_STOP and w.strip()]
        pos = m.end()
    out += _english(text[pos:])
    return out


def _english(text: str) -> list[str]:
    return [_stem(w) for w in _EN_WORD.findall(text.lower()) if w not in _EN_STOP]


class LexicalIndex:
    """BM25 over every chunk, in the registry's chunk order (``ids``)."""

    def __init__(self, ids: list[str], retriever) -> None:
        self.ids = ids
        self._retriever = retriever
        self._pos = {cid: i for i, cid in enumerate(ids)}

    @classmethod
    def build(cls, ids: list[str], token_lists: Sequence[list[str]]) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25(k1=1.2, b=0.75)
        # bm25s needs at least one token per document
        retriever.index([t or ["\u2205"] for t in token_lists] or [["\u2205"]], show_progress=False)
        return cls(list(ids), retriever)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not self.ids or not query_tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        vocab = self._retriever.vocab_dict
        known = [t for t in query_tokens if t in vocab]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(known), dtype=np.float32)[: len(self.ids)]

    def position(self, chunk_id: str) -> int | None:
        return self._pos.get(chunk_id)

    def save(self, folder: Path, generation: int) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self._retriever.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids, ensure_ascii=False), encoding="utf-8")
        (tmp / "stamp.json").write_text(json.dumps({"generation": generation}), encoding="utf-8")
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, generation: int) -> LexicalIndex | None:
        """The saved index if it was built from ``generation``; None when missing, stale or corrupt."""
        import bm25s

        try:
            stamp = json.loads((folder / "stamp.json").read_text(encoding="utf-8"))
            if stamp.get("generation") != generation:
                return None
            ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
            retriever = bm25s.BM25.load(str(folder), show_progress=False)
        except Exception:  # any damage means: rebuild from the registry
            return None
        return cls(ids, retriever)
