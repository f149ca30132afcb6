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
import os
import re
import shutil
import threading
import time
import uuid
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

#: seconds to wait for another process to finish swapping its index in
SWAP_LOCK_S = 120
#: reads of a folder that is being swapped before giving up and rebuilding
LOAD_ATTEMPTS = 4
#: a temporary folder older than this belongs to a save that died
LEFTOVER_AGE_S = 3600
log = logging.getLogger(__name__)

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
        """Write the index beside ``folder`` and swap it in: readers see the old one or the new.

        Several processes (API workers on one data dir) may save at once: each writes its own
        temporary folder, and a file lock serialises the swap. An index already in place from a
        later generation wins; one from the same generation is replaced (it may be damaged).
        """
        from filelock import FileLock

        folder.parent.mkdir(parents=True, exist_ok=True)
        build = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        tmp = folder.with_name(f"{folder.name}.tmp-{build}")
        old = folder.with_name(f"{folder.name}.old-{build}")
        try:
            tmp.mkdir()
            self._retriever.save(str(tmp), show_progress=False)
            (tmp / "ids.json").write_text(json.dumps(self.ids, ensure_ascii=False), "utf-8")
            stamp = {"generation": generation, "build": build}
            (tmp / "stamp.json").write_text(json.dumps(stamp), encoding="utf-8")
            with FileLock(str(folder.with_name(folder.name + ".lock")), timeout=SWAP_LOCK_S):
                current = _read_stamp(folder)
                if current is not None and current.get("generation", -1) > generation:
                    return
                if folder.exists():
                    folder.rename(old)
                tmp.rename(folder)
                _sweep_leftovers(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, generation: int) -> LexicalIndex | None:
        """The saved index if it was built from ``generation``; None when missing, stale or corrupt.

        Another process may swap the folder while we read it, so a read counts only when the
        stamp names the same build before and after; a swapped one is read again.
        """
        for _ in range(LOAD_ATTEMPTS):
            stamp = _read_stamp(folder)
            if stamp is None or stamp.get("generation") != generation:
                return None
            try:
                index = cls._read(folder)
            except Exception as exc:  # any damage means: rebuild from the registry
                if _read_stamp(folder) not in (None, stamp):
                    continue
                log.info("lexical index at %s is not usable (%s); rebuilding", folder, exc)
                return None
            if _read_stamp(folder) == stamp:
                return index
        return None

    @classmethod
    def _read(cls, folder: Path) -> LexicalIndex:
        import bm25s

        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        retriever = bm25s.BM25.load(str(folder), show_progress=False)
        _check_matrix(retriever, len(ids))
        return cls(ids, retriever)


def _read_stamp(folder: Path) -> dict | None:
    try:
        stamp = json.loads((folder / "stamp.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _check_matrix(retriever, n_ids: int) -> None:
    """A truncated or mixed-up file can still load: check the matrix fits its vocabulary."""
    scores = retriever.scores
    indptr, indices, data = scores["indptr"], scores["indices"], scores["data"]
    if scores["num_docs"] != max(1, n_ids):
        raise ValueError(f"index has {scores['num_docs']} documents, ids.json {n_ids}")
    # bm25s keeps one more vocabulary entry ("") than the matrix has columns
    if len(indptr) > len(retriever.vocab_dict) + 1 or len(indices) != len(data):
        raise ValueError("index matrix does not fit its vocabulary")
    if len(indices) != int(indptr[-1]) or (len(indices) and int(indices.max()) >= max(1, n_ids)):
        raise ValueError("index matrix is truncated")


def _sweep_leftovers(folder: Path) -> None:
    """Temporary folders of saves killed midway (kill -9, a full disk), once they are old."""
    cutoff = time.time() - LEFTOVER_AGE_S
    for path in folder.parent.glob(folder.name + ".*-*"):
        try:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
