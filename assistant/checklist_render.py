"""Checklists (and filled-in inspections) as Markdown, JSON, CSV and a printable A4 HTML page.

Chinese checklists follow the familiar 排查清单 layout: 序号, 检查项目, 检查内容, 检查依据,
检查结果, 备注. English ones use the same six columns: No., Item, Check, Basis, Result, Notes.
A citation label is made from the source path and locator: ``《危险化学品安全管理条例》第二十四条``,
``29 CFR 1926.451(b)``, ``OSH Act SEC. 5(a)``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Literal

from assistant.checklist import Basis, Checklist

Format = Literal["md", "json", "csv", "html"]
FORMATS = ("md", "json", "csv", "html")

COLUMNS = {
    "zh": ("序号", "检查项目", "检查内容", "检查依据", "检查结果", "备注"),
    "en": ("No.", "Item", "Check", "Basis", "Result", "Notes"),
}
HEADER_FIELDS = {
    "zh": (
        ("site", "受检单位/场所"),
        ("area", "检查区域"),
        ("date", "检查日期"),
        ("inspector", "检查人"),
    ),
    "en": (("site", "Site"), ("area", "Area"), ("date", "Date"), ("inspector", "Inspector")),
}
WORDS = {
    "zh": {
        "mandatory": "强制", "recommended": "推荐", "lesson": "事故教训", "yes": "是", "no": "否",
        "na": "不适用", "signature": "检查人（签字）", "responsible": "受检单位负责人（签字）",
        "date": "日期", "pass": "符合", "fail": "不符合", "hazard": "隐患",
        "major": "重大", "general": "一般", "owner": "整改责任人", "due": "整改期限",
        "signed": "已签署", "hash": "记录哈希", "version": "版本",
    },
    "en": {
        "mandatory": "mandatory", "recommended": "recommended", "lesson": "Lesson", "yes": "Yes",
        "no": "No", "na": "N/A", "signature": "Inspector's signature",
        "responsible": "Site manager's signature", "date": "Date", "pass": "pass", "fail": "fail",
        "hazard": "Hazard", "major": "major", "general": "general", "owner": "Owner",
        "due": "Due", "signed": "Signed", "hash": "Record hash", "version": "Version",
    },
}  # fmt: skip


def _lang(checklist: Checklist) -> str:
    return "zh" if checklist.language == "zh" else "en"


def cite_label(basis: Basis, language: str = "en") -> str:
    """A citation a reader recognises: the document's name and the clause."""
    name = PurePosixPath(basis.source.split("#", 1)[0]).stem
    name = re.sub(r"^\d+-", "", name)  # "20-中华人民共和国矿山安全法实施条例"
    name = re.sub(r"[(（]\d{4}-\d{2}-\d{2}[)）]$", "", name)
    loc = basis.locator
    if re.search(r"[\u4e00-\u9fff]", name):
        return f"《{name}》{loc}"
    if re.match(r"^19\d\d\.\d", loc):
        return f"29 CFR {loc}"
    if loc.startswith("SEC."):
        return f"OSH Act {loc}"
    page = f", p.{basis.page}" if basis.page else ""
    return f"{name} {loc}{page}".strip()


def basis_text(item_basis: list[Basis], language: str) -> str:
    sep = "；" if language == "zh" else "; "
    return sep.join(cite_label(b, language) for b in item_basis)


def render(
    checklist: Checklist,
    fmt: str,
    header: Mapping[str, str] | None = None,
    results: Mapping[str, Mapping[str, Any]] | None = None,
    signature: Mapping[str, Any] | None = None,
) -> str:
    """``fmt`` is one of :data:`FORMATS`. ``results`` (item id → result/note/hazard…) and
    ``signature`` fill in an inspection record; without them it is a blank checklist."""
    if fmt == "json":
        return to_json(checklist)
    if fmt == "md":
        return to_markdown(checklist, header, results, signature)
    if fmt == "csv":
        return to_csv(checklist, results)
    if fmt == "html":
        return to_html(checklist, header, results, signature)
    from ingest.errors import ConfigError

    raise ConfigError(f"unknown format {fmt!r}. Available: {', '.join(FORMATS)}")


def to_json(checklist: Checklist) -> str:
    return json.dumps(checklist.to_dict(), ensure_ascii=False, indent=2)


def _result_text(res: Mapping[str, Any] | None, lang: str) -> str:
    if not res:
        return ""
    w = WORDS[lang]
    r = str(res.get("result", ""))
    text = {"pass": w["pass"], "fail": w["fail"], "na": w["na"]}.get(r, r)
    if r == "fail" and res.get("grade"):
        text += (
            f"（{w[res['grade']]}{w['hazard']}）"
            if lang == "zh"
            else f" ({w[res['grade']]} hazard)"
        )
    return text


def _note_text(res: Mapping[str, Any] | None, lang: str) -> str:
    if not res:
        return ""
    w = WORDS[lang]
    parts = [str(res.get("note") or "")]
    if res.get("action"):
        parts.append(str(res["action"]))
    if res.get("owner"):
        parts.append(f"{w['owner']}: {res['owner']}")
    if res.get("due"):
        parts.append(f"{w['due']}: {res['due']}")
    return "；".join(p for p in parts if p) if lang == "zh" else "; ".join(p for p in parts if p)


def to_markdown(
    checklist: Checklist,
    header: Mapping[str, str] | None = None,
    results: Mapping[str, Mapping[str, Any]] | None = None,
    signature: Mapping[str, Any] | None = None,
) -> str:
    lang = _lang(checklist)
    w = WORDS[lang]
    out = [f"# {checklist.title}", ""]
    fields = [
        f"**{label}**: {(header or {}).get(key, '') or '________'}"
        for key, label in HEADER_FIELDS[lang]
    ]
    out += ["  \n".join(fields), ""]
    cols = COLUMNS[lang]
    out.append("| " + " | ".join(cols) + " |")
    out.append("|" + "---|" * len(cols))
    for it in checklist.items:
        res = (results or {}).get(it.id)
        force = w["mandatory"] if it.mandatory else w["recommended"]
        check = it.question
        if not it.mandatory:
            check += f" *({force})*"
        for le in it.lessons[:1]:
            check += f"<br>*{w['lesson']}: {_md(le.title)}*"
        result = _result_text(res, lang) or (f"☐{w['yes']} ☐{w['no']} ☐{w['na']}")
        out.append(
            "| "
            + " | ".join(
                _md(x)
                for x in (
                    it.id,
                    it.category,
                    check,
                    basis_text(it.basis, lang),
                    result,
                    _note_text(res, lang),
                )
            )
            + " |"
        )
    out.append("")
    out.append("## " + ("检查依据原文" if lang == "zh" else "Basis, quoted"))
    for it in checklist.items:
        for b in it.basis:
            out.append(
                f"- **{it.id}** {cite_label(b, lang)} (`{b.source}` · {b.locator}): “{b.quote}”"
            )
    out.append("")
    out.append(_signature_line(lang, signature, plain=True))
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _signature_line(lang: str, signature: Mapping[str, Any] | None, plain: bool) -> str:
    w = WORDS[lang]
    if signature:
        return (
            f"{w['signature']}: {signature.get('name')}    {w['date']}: {signature.get('at')}    "
            f"{w['hash']}: {signature.get('hash')}"
        )
    return f"{w['signature']}: ________________    {w['date']}: ____________    {w['responsible']}: ________________"


def to_csv(checklist: Checklist, results: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """One row per item: the six 排查清单 columns, then force, source, locator, page and quote."""
    lang = _lang(checklist)
    extra = (
        ("是否强制", "来源", "条款", "页码", "原文", "事故教训")
        if lang == "zh"
        else ("Mandatory", "Source", "Locator", "Page", "Quote", "Lessons")
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow((*COLUMNS[lang], *extra))
    for it in checklist.items:
        res = (results or {}).get(it.id)
        first = it.basis[0] if it.basis else Basis("", "", None, "")
        writer.writerow(
            (
                it.id,
                it.category,
                it.question,
                basis_text(it.basis, lang),
                _result_text(res, lang),
                _note_text(res, lang),
                "Y" if it.mandatory else "N",
                first.source,
                first.locator,
                first.page or "",
                first.quote,
                " | ".join(f"{le.source} {le.title}" for le in it.lessons),
            )
        )
    return buf.getvalue()


_CSS = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "Helvetica Neue", Arial, sans-serif;
       font-size: 10pt; color: #111; margin: 0; }
h1 { font-size: 15pt; text-align: center; margin: 0 0 8pt; }
table.header { width: 100%; border-collapse: collapse; margin-bottom: 8pt; }
table.header td { padding: 3pt 4pt; border: none; }
table.header .value { border-bottom: 1px solid #000; min-width: 40mm; }
table.items { width: 100%; border-collapse: collapse; }
table.items th, table.items td { border: 1px solid #000; padding: 3pt 4pt; vertical-align: top; }
table.items th { background: #eee; }
table.items thead { display: table-header-group; }
table.items tr { page-break-inside: avoid; }
td.no { width: 8mm; text-align: center; } td.cat { width: 24mm; } td.basis { width: 38mm; font-size: 8.5pt; }
td.result { width: 24mm; white-space: nowrap; } td.note { width: 28mm; }
.quote, .lesson { font-size: 8pt; color: #444; margin-top: 2pt; }
.tag { font-size: 8pt; color: #555; }
.signature { margin-top: 16pt; display: flex; justify-content: space-between; gap: 12mm; }
.signature div { flex: 1; border-top: 1px solid #000; padding-top: 3pt; }
.meta { font-size: 8pt; color: #555; margin-top: 8pt; word-break: break-all; }
@media screen { body { max-width: 190mm; margin: 10mm auto; } }
"""


def to_html(
    checklist: Checklist,
    header: Mapping[str, str] | None = None,
    results: Mapping[str, Mapping[str, Any]] | None = None,
    signature: Mapping[str, Any] | None = None,
) -> str:
    """A printable A4 page: header fields (site, area, date, inspector), the item table, and
    signature lines (filled in with name, time and record hash once signed)."""
    lang = _lang(checklist)
    w = WORDS[lang]
    e = html.escape
    head_cells = []
    for key, label in HEADER_FIELDS[lang]:
        value = (header or {}).get(key, "") or ""
        head_cells.append(
            f'<td class="label">{e(label)}：</td><td class="value" data-field="{key}">{e(str(value))}</td>'
            if lang == "zh"
            else f'<td class="label">{e(label)}:</td><td class="value" data-field="{key}">{e(str(value))}</td>'
        )
    header_rows = f"<tr>{head_cells[0]}{head_cells[1]}</tr><tr>{head_cells[2]}{head_cells[3]}</tr>"
    rows = []
    for it in checklist.items:
        res = (results or {}).get(it.id)
        tag = f'<div class="tag">{e(w["mandatory"] if it.mandatory else w["recommended"])}</div>'
        lessons = "".join(
            f'<div class="lesson">{e(w["lesson"])}: {e(le.title)}</div>' for le in it.lessons[:1]
        )
        quotes = "".join(
            f'<div class="quote">“{e(b.quote[:240])}{"…" if len(b.quote) > 240 else ""}”</div>'
            for b in it.basis[:1]
        )
        result = (
            e(_result_text(res, lang))
            if res
            else (f"☐ {e(w['yes'])}<br>☐ {e(w['no'])}<br>☐ {e(w['na'])}")
        )
        rows.append(
            f'<tr data-item="{e(it.id)}"><td class="no">{e(it.id)}</td><td class="cat">{e(it.category)}</td>'
            f"<td>{e(it.question)}{tag}{lessons}</td>"
            f'<td class="basis">{e(basis_text(it.basis, lang))}{quotes}</td>'
            f'<td class="result">{result}</td><td class="note">{e(_note_text(res, lang))}</td></tr>'
        )
    cols = "".join(f"<th>{e(c)}</th>" for c in COLUMNS[lang])
    if signature:
        sign = (
            f"<div>{e(w['signature'])}: {e(str(signature.get('name', '')))}</div>"
            f"<div>{e(w['date'])}: {e(str(signature.get('at', '')))}</div>"
        )
        meta = (
            f'<p class="meta">{e(w["signed"])} · {e(w["version"])} {e(str(signature.get("version", "")))} · '
            f"{e(w['hash'])} sha256: {e(str(signature.get('hash', '')))}</p>"
        )
    else:
        sign = (
            f"<div>{e(w['signature'])}</div><div>{e(w['responsible'])}</div>"
            f"<div>{e(w['date'])}</div>"
        )
        meta = ""
    lang_attr = "zh-CN" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang_attr}"><head><meta charset="utf-8">'
        f"<title>{e(checklist.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(checklist.title)}</h1>"
        f'<table class="header">{header_rows}</table>'
        f'<table class="items"><thead><tr>{cols}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f'<div class="signature">{sign}</div>{meta}'
        "</body></html>\n"
    )
