"""The human side of an eval run: ``report.md`` (tables and failed questions) and ``chart.png``.

The report is meant to be read next to a change: the headline says where the primary system
stands, the ablation table says what each part buys, and the failed questions show the gold
clause next to what was retrieved instead, which is usually enough to see why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import group_summary

RETRIEVAL_COLUMNS = (
    ("recall@1", "R@1"),
    ("recall@5", "R@5"),
    ("recall@10", "R@10"),
    ("mrr", "MRR"),
    ("ndcg@10", "nDCG@10"),
)
ANSWER_COLUMNS = (
    ("refusal_accuracy", "refusal acc."),
    ("false_refusal_rate", "false refusals"),
    ("citation_precision", "cit. precision"),
    ("citation_recall", "cit. recall"),
    ("fact_recall", "fact recall"),
    ("language_match", "language match"),
)
LATENCY_COLUMNS = (("latency_p50_ms", "p50 ms"), ("latency_p95_ms", "p95 ms"))
HEADLINE_GROUPS = ("overall", "zh", "en", "cross_lingual")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cell(text: Any) -> str:
    return " ".join(str(text if text is not None else "").split()).replace("|", "\\|")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _summary_cells(summary: Mapping[str, Any], columns: Sequence[tuple[str, str]]) -> list[str]:
    cells = [_fmt(summary.get(key)) for key, _ in columns]
    cells += [_fmt(summary.get(key), 1) for key, _ in LATENCY_COLUMNS]
    return cells


def _group_table(agg: Mapping[str, Any], groups: Sequence[str], columns) -> list[str]:
    rows = []
    for group in groups:
        summary = group_summary(dict(agg), group)
        if summary is not None:
            counts = [str(summary.get("n", 0)), str(summary.get("n_answerable", 0))]
            rows.append([group, *counts, *_summary_cells(summary, columns)])
    header = [
        "group",
        "questions",
        "answerable",
        *(label for _, label in columns),
        *(label for _, label in LATENCY_COLUMNS),
    ]
    return _table(header, rows)


def _ablation_table(systems: Mapping[str, Mapping[str, Any]], primary: str | None) -> list[str]:
    header = [
        "system",
        *(label for _, label in RETRIEVAL_COLUMNS),
        "R@10 zh",
        "R@10 en",
        "R@10 cross-lingual",
        *(label for _, label in LATENCY_COLUMNS),
    ]
    rows = []
    for name, agg in systems.items():
        overall = agg.get("overall") or {}
        per_group = [
            _fmt((group_summary(dict(agg), g) or {}).get("recall@10"))
            for g in ("zh", "en", "cross_lingual")
        ]
        label = f"**{name}**" if name == primary else name
        rows.append(
            [
                label,
                *(_fmt(overall.get(k)) for k, _ in RETRIEVAL_COLUMNS),
                *per_group,
                *(_fmt(overall.get(k), 1) for k, _ in LATENCY_COLUMNS),
            ]
        )
    return _table(header, rows)


def _failed_questions(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    failed = [
        r
        for r in rows
        if r.get("answerable", True)
        and (r.get("metrics") or {}).get("recall@10") is not None
        and r["metrics"]["recall@10"] < 1.0
    ]
    if not failed:
        return ["Every answerable question had all its gold clauses in the top 10."]
    lines = [f"{len(failed)} answerable question(s) with recall@10 below 1.", ""]
    for row in failed:
        m = row["metrics"]
        lines += [
            f"### {row['id']} ({row.get('lang')}, {row.get('category')}): "
            f"recall@10 {_fmt(m.get('recall@10'), 2)}, MRR {_fmt(m.get('mrr'), 2)}",
            "",
            f"> {_cell(row.get('question'))}",
            "",
            "Gold:",
        ]
        retrieved = row.get("retrieved") or []
        for g, gold in enumerate(row.get("gold") or []):
            ranks = [str(r["rank"]) for r in retrieved if g in (r.get("match") or [])]
            found = f"found at rank {', '.join(ranks)}" if ranks else "**not retrieved**"
            lines.append(f"- `{gold.get('source')}` · `{gold.get('locator')}`: {found}")
        lines += ["", "Retrieved:", ""]
        if retrieved:
            lines += _table(
                ["rank", "source", "locator", "match", "snippet"],
                [
                    [
                        str(r["rank"]),
                        _cell(r.get("source")),
                        _cell(r.get("locator")),
                        "✓" if r.get("match") else "",
                        _cell(r.get("snippet")),
                    ]
                    for r in retrieved
                ],
            )
        else:
            lines.append("(nothing)")
        lines.append("")
    return lines


def _wrong_refusals(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    wrong = [r for r in rows if (r.get("metrics") or {}).get("refusal_correct") == 0.0]
    if not wrong:
        return []
    lines = ["", "Wrongly refused or wrongly answered:", ""]
    for r in wrong:
        what = (
            "refused an answerable question" if r.get("refused") else "answered an unanswerable one"
        )
        lines.append(f"- {r['id']} ({r.get('lang')}): {what}: {_cell(r.get('question'))}")
    return lines


def write_chart(metrics: Mapping[str, Any], path: Path) -> Path:
    """Grouped bars of Recall@10 and MRR: one group per system, one bar per language (and for
    all questions, and the cross-lingual ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems: Mapping[str, Any] = metrics.get("systems") or {}
    langs = sorted({lang for agg in systems.values() for lang in (agg.get("by_lang") or {})})
    groups = ["overall", *langs]
    if any("cross_lingual" in (agg.get("by_category") or {}) for agg in systems.values()):
        groups.append("cross_lingual")
    names = list(systems)
    fig, axes = plt.subplots(1, 2, figsize=(max(7.0, 2.0 * len(names) + 3), 4.2), squeeze=False)
    width = 0.8 / max(1, len(groups))
    for ax, (key, title) in zip(axes[0], (("recall@10", "Recall@10"), ("mrr", "MRR")), strict=True):
        for i, group in enumerate(groups):
            values = [(group_summary(dict(systems[n]), group) or {}).get(key) or 0.0 for n in names]
            xs = [j + (i - (len(groups) - 1) / 2) * width for j in range(len(names))]
            bars = ax.bar(xs, values, width, label=group)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.set_title(title)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=20, ha="right")
        ax.set_ylim(0, 1.1)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(groups), fontsize="small")
    fig.suptitle(f"Retrieval on {Path(str(metrics.get('dataset') or '')).name}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(
    metrics: Mapping[str, Any],
    rows_by_system: Mapping[str, Sequence[Mapping[str, Any]]],
    out_dir: str | Path,
    answer_rows: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write ``report.md`` and ``chart.png`` into ``out_dir``; returns the report's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    systems: Mapping[str, Any] = metrics.get("systems") or {}
    primary = str(metrics.get("primary") or "")
    lines = [
        "# Anquan eval report",
        "",
        f"Dataset `{metrics.get('dataset')}`, {metrics.get('n_items', '?')} questions, "
        f"generated {metrics.get('generated_at')}. A retrieved chunk counts when its source equals "
        "the gold source and its locator starts with the gold clause (or its text holds an "
        "evidence phrase). Retrieval metrics cover answerable questions only.",
        "",
        "![Recall@10 and MRR per system and language](chart.png)",
        "",
    ]
    if primary in systems:
        lines += [f"## Headline: `{primary}`", ""]
        lines += _group_table(systems[primary], HEADLINE_GROUPS, RETRIEVAL_COLUMNS)
        lines += ["", "## Systems (ablation)", ""]
        lines += _ablation_table(systems, primary)
        categories = list(systems[primary].get("by_category") or {})
        lines += ["", f"## Per category: `{primary}`", ""]
        lines += _group_table(systems[primary], categories, RETRIEVAL_COLUMNS)
        lines.append("")
    answers = metrics.get("answers")
    if answers:
        groups = ["overall", *(answers.get("by_lang") or {}), *(answers.get("by_category") or {})]
        lines += ["## Answers", ""]
        lines += _group_table(answers, groups, ANSWER_COLUMNS)
        lines += _wrong_refusals(answer_rows or [])
        lines.append("")
    if primary in rows_by_system:
        lines += [f"## Failed questions: `{primary}`", ""]
        lines += _failed_questions(rows_by_system[primary])
    path = out / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    write_chart(metrics, out / "chart.png")
    return path
