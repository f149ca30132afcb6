"""Search, the clause behind a citation, and the values the filters can take."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import CurrentUser, KBDep
from api.errors import ApiError
from ingest.clauses import locator_matches
from ingest.errors import ConfigError
from ingest.kb import KnowledgeBase, parse_where

router = APIRouter(prefix="/v1", tags=["search"])

MODES = ("hybrid", "lexical", "dense")


@router.get("/search", summary="Hybrid search with clause references")
def search(
    kb: KBDep,
    user: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="the query")],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    where: Annotated[
        list[str] | None,
        Query(
            description="filters key=value: jurisdiction, doc_type, language, industries, "
            "source, normative (repeatable)"
        ),
    ] = None,
    mode: str = "hybrid",
) -> dict[str, Any]:
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}. Available: {', '.join(MODES)}")
    hits = kb.search(q, k=k, where=parse_where(where), mode=mode)  # type: ignore[arg-type]
    return {"query": q, "results": [h.to_dict() for h in hits]}


@router.get("/clause", summary="The full text of a cited clause")
def clause(
    kb: KBDep,
    user: CurrentUser,
    source: Annotated[str, Query(min_length=1, max_length=1000)],
    locator: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, Any]:
    """Every chunk of ``source`` inside ``locator`` (``1926.501`` gives all its paragraphs;
    ``第四十一条`` its 款), in document order; a record (``…csv#id``) is its one chunk."""
    doc = kb.registry.document(source) or kb.registry.document(source.split("#", 1)[0])
    if doc is None:
        raise ApiError(404, f"no document {source!r} in the knowledge base", "not_found")
    chunks = kb.registry.document_chunks(doc.doc_id)
    if "#" in source:
        chunks = [c for c in chunks if c.source == source]
    if locator:
        inside = [c for c in chunks if locator_matches(c.locator, locator)]
        chunks = inside or [c for c in chunks if c.locator == locator]
    if not chunks:
        raise ApiError(
            404,
            f"{doc.title} has no clause {locator!r}",
            "not_found",
            details={"source": doc.source, "locator": locator},
        )
    first = chunks[0]
    return {
        "source": source,
        "title": doc.title,
        "locator": locator or first.locator,
        "page": first.page,
        "doc_type": doc.doc_type,
        "jurisdiction": doc.jurisdiction,
        "language": doc.language,
        "heading_path": first.heading_path,
        "text": "\n\n".join(c.text for c in chunks),
        "chunks": [{"locator": c.locator, "page": c.page, "text": c.text} for c in chunks],
    }


def facets(kb: KnowledgeBase, cache: dict[str, Any]) -> dict[str, Any]:
    """Counts of chunks by jurisdiction, doc_type, language and industry, per registry state."""
    gen = kb.registry.generation
    if cache.get("generation") == gen:
        return cache["facets"]
    counts: dict[str, dict[str, int]] = {
        "jurisdiction": {},
        "doc_type": {},
        "language": {},
        "industries": {},
    }
    for _, meta in kb.registry.all_meta():
        for key in ("jurisdiction", "doc_type", "language"):
            value = str(meta.get(key) or "")
            if value:
                counts[key][value] = counts[key].get(value, 0) + 1
        inds = meta.get("industries") or ""
        for ind in inds if isinstance(inds, list) else str(inds).split(";"):
            if ind:
                counts["industries"][ind] = counts["industries"].get(ind, 0) + 1
    out = {key: dict(sorted(v.items())) for key, v in counts.items()}
    cache.update(generation=gen, facets=out)
    return out


@router.get("/facets", summary="Values the filters can take, with chunk counts")
def get_facets(request: Request, kb: KBDep, user: CurrentUser) -> dict[str, Any]:
    return facets(kb, request.app.state.facet_cache)


@router.get("/stats", summary="Documents and chunks by type, language and jurisdiction")
def stats(kb: KBDep, user: CurrentUser) -> dict[str, Any]:
    return kb.stats()
