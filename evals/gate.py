"""The regression gate: headline metrics must not fall more than a tolerance below the baseline.

The baseline is a committed ``metrics.json`` (or any subset of one): whatever it names is
checked, whatever it leaves out is not, so a baseline can start with one system and grow.
Latency is not gated; it depends on the machine more than on the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evals.metrics import group_summary

#: (system, group, metric, higher_is_better). ``system`` is a retrieval system's name, ``"*"``
#: for every system both files hold, or ``"answers"`` for the assistant's answer metrics;
#: ``group`` is ``overall``, a language or a category.
HEADLINE: list[tuple[str, str, str, bool]] = [
    ("*", "overall", "recall@10", True),
    ("*", "overall", "mrr", True),
    ("*", "overall", "ndcg@10", True),
    ("*", "zh", "recall@10", True),
    ("*", "en", "recall@10", True),
    ("*", "cross_lingual", "recall@10", True),
    ("answers", "overall", "refusal_accuracy", True),
    ("answers", "overall", "false_refusal_rate", False),
    ("answers", "overall", "citation_precision", True),
    ("answers", "overall", "fact_recall", True),
    ("answers", "overall", "language_match", True),
]


def _value(agg: Mapping[str, Any] | None, group: str, metric: str) -> float | None:
    if not agg:
        return None
    summary = group_summary(dict(agg), group)
    value = (summary or {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _pairs(metrics: Mapping[str, Any], baseline: Mapping[str, Any], system: str):
    """(label, current aggregate, baseline aggregate) for one HEADLINE system entry."""
    if system == "answers":
        yield "answers", metrics.get("answers"), baseline.get("answers")
        return
    current = metrics.get("systems") or {}
    base = baseline.get("systems") or {}
    names = list(base) if system == "*" else [system]
    for name in names:
        if name in base:
            yield name, current.get(name), base[name]


def check_against_baseline(
    metrics: Mapping[str, Any], baseline: Mapping[str, Any], tolerance: float = 0.05
) -> list[str]:
    """Human-readable failures, one per headline metric beyond ``tolerance``; empty means pass.

    A metric the baseline lacks is skipped, and so is a system (or the answers block) this run
    did not include: a retrieval-only run is not failed for want of answers. But a metric the
    baseline has inside a block this run does hold must be there: a gate that passes because a
    language or category silently vanished would hide breakage.
    """
    failures: list[str] = []
    for system, group, metric, higher_is_better in HEADLINE:
        for label, current_agg, base_agg in _pairs(metrics, baseline, system):
            base = _value(base_agg, group, metric)
            if base is None:
                continue
            if not current_agg:
                continue
            where = f"{label} {group} {metric}"
            current = _value(current_agg, group, metric)
            if current is None:
                failures.append(f"{where} is missing from this run; the baseline has {base:.2f}")
            elif higher_is_better and current < base - tolerance:
                failures.append(
                    f"{where} {current:.2f} is more than {tolerance:.2f} below the baseline "
                    f"{base:.2f}"
                )
            elif not higher_is_better and current > base + tolerance:
                failures.append(
                    f"{where} {current:.2f} is more than {tolerance:.2f} above the baseline "
                    f"{base:.2f}"
                )
    return failures
