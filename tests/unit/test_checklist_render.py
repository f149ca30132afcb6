"""Checklist formats: Markdown, JSON, CSV and the printable A4 HTML page (排查清单 for Chinese)."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest

from assistant.checklist import Basis, Checklist, ChecklistItem, Lesson
from assistant.checklist_render import cite_label, render
from ingest.errors import ConfigError

CHEM = "regulations/cn/危险化学品安全管理条例(2013-12-07).md"


def zh_checklist() -> Checklist:
    return Checklist(
        title="危险化学品储存隐患排查清单",
        industry="chemical",
        topic="危险化学品储存",
        jurisdiction="CN",
        language="zh",
        items=[
            ChecklistItem(
                "1",
                "危险化学品是否储存在专用仓库内，并由专人负责管理？",
                "储存场所与标志",
                True,
                [
                    Basis(
                        CHEM,
                        "第二十四条",
                        None,
                        "危险化学品应当储存在专用仓库、专用场地或者专用储存室内，并由专人负责管理",
                    )
                ],
            ),
            ChecklistItem(
                "2",
                "储存危险化学品的单位是否建立危险化学品出入库核查、登记制度？",
                "出入库与台账",
                True,
                [
                    Basis(
                        CHEM,
                        "第二十五条",
                        None,
                        "储存危险化学品的单位应当建立危险化学品出入库核查、登记制度。",
                    )
                ],
            ),
        ],
    )


def en_checklist() -> Checklist:
    src = "regulations/us/29cfr1926/29cfr1926-subpart-L-scaffolds.pdf"
    return Checklist(
        title="Inspection checklist: scaffolds (construction, US)",
        industry="construction",
        topic="scaffolds",
        jurisdiction="US",
        language="en",
        items=[
            ChecklistItem(
                "1",
                'Are guardrails installed along all open sides, "and" ends, of platforms?',
                "Guardrails and fall protection",
                True,
                [
                    Basis(
                        src,
                        "1926.451(g)(4)",
                        7,
                        "Guardrail systems shall be installed along all open sides and ends of platforms.",
                    )
                ],
                [
                    Lesson(
                        "accidents/us/cases/osha-201129640.md",
                        "osha-201129640",
                        "Painter Falls From Scaffold And Fractures Skull And Wrist",
                        "On …",
                    )
                ],
            ),
            ChecklistItem(
                "2",
                "Should <toeboards> be fitted?",
                "Falling object protection",
                False,
                [Basis(src, "1926.451(h)(4)", 8, "Toeboards should be fitted.")],
            ),
        ],
    )


class _Cells(HTMLParser):
    """Collects the text of th/td cells and the data-field attributes of the header."""

    def __init__(self) -> None:
        super().__init__()
        self.th: list[str] = []
        self.fields: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "th":
            self._in = "th"
            self.th.append("")
        for key, value in attrs:
            if key == "data-field":
                self.fields.append(value)

    def handle_endtag(self, tag):
        if tag == "th":
            self._in = None

    def handle_data(self, data):
        if self._in == "th":
            self.th[-1] += data


def test_csv_parses_with_the_pai_cha_columns_and_keeps_commas_and_quotes():
    rows = list(csv.reader(io.StringIO(render(zh_checklist(), "csv"))))
    assert rows[0][:6] == ["序号", "检查项目", "检查内容", "检查依据", "检查结果", "备注"]
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    assert rows[1][3] == "《危险化学品安全管理条例》第二十四条"
    assert rows[1][rows[0].index("条款")] == "第二十四条"
    en = list(csv.DictReader(io.StringIO(render(en_checklist(), "csv"))))
    assert (
        en[0]["Check"] == 'Are guardrails installed along all open sides, "and" ends, of platforms?'
    )
    assert (
        en[0]["Locator"] == "1926.451(g)(4)" and en[0]["Page"] == "7" and en[1]["Mandatory"] == "N"
    )


def test_html_is_a4_with_header_fields_signature_line_and_zh_columns():
    page = render(zh_checklist(), "html", header={"site": "某化工厂", "inspector": "王工"})
    parser = _Cells()
    parser.feed(page)
    assert parser.th == ["序号", "检查项目", "检查内容", "检查依据", "检查结果", "备注"]
    assert parser.fields == ["site", "area", "date", "inspector"]
    assert "size: A4" in page and 'lang="zh-CN"' in page
    assert "某化工厂" in page and "王工" in page
    assert "检查人（签字）" in page and "受检单位负责人（签字）" in page
    assert "《危险化学品安全管理条例》第二十四条" in page


def test_html_escapes_text_and_marks_recommended_items():
    page = render(en_checklist(), "html")
    parser = _Cells()
    parser.feed(page)
    assert parser.th == ["No.", "Item", "Check", "Basis", "Result", "Notes"]
    assert "&lt;toeboards&gt;" in page and "<toeboards>" not in page
    assert "recommended" in page and "Inspector&#x27;s signature" in page
    assert "29 CFR 1926.451(g)(4)" in page and "Lesson: Painter Falls From Scaffold" in page


def test_markdown_has_the_table_the_quotes_and_the_signature_line():
    md = render(zh_checklist(), "md", header={"site": "某化工厂"})
    assert "| 序号 | 检查项目 | 检查内容 | 检查依据 | 检查结果 | 备注 |" in md
    assert "**受检单位/场所**: 某化工厂" in md and "**检查人**: ________" in md
    assert f"`{CHEM}` · 第二十五条" in md
    assert "检查人（签字）" in md


def test_filled_in_record_shows_results_hazards_and_signature():
    results = {
        "1": {
            "result": "fail",
            "grade": "major",
            "note": "混存",
            "action": "分库存放",
            "owner": "仓库主管",
            "due": "2025-04-01",
        },
        "2": {"result": "pass", "note": ""},
    }
    signature = {"name": "王工", "at": "2025-03-01T08:00:00Z", "hash": "ab" * 32, "version": 1}
    page = render(zh_checklist(), "html", results=results, signature=signature)
    assert "不符合（重大隐患）" in page and "符合" in page
    assert "整改责任人: 仓库主管" in page and "ab" * 32 in page
    rows = list(csv.reader(io.StringIO(render(zh_checklist(), "csv", results=results))))
    assert rows[1][4] == "不符合（重大隐患）" and "整改期限: 2025-04-01" in rows[1][5]


def test_json_round_trips_and_unknown_formats_list_the_options():
    data = json.loads(render(en_checklist(), "json"))
    assert data == en_checklist().to_dict()
    with pytest.raises(ConfigError, match="md, json, csv, html"):
        render(en_checklist(), "pdf")


def test_citation_labels():
    assert cite_label(
        Basis("regulations/cn-coal/20-中华人民共和国矿山安全法实施条例.txt", "第十八条", None, "")
    ) == ("《中华人民共和国矿山安全法实施条例》第十八条")
    assert (
        cite_label(Basis("regulations/us/osh-act-1970.md", "SEC. 5(a)", None, ""))
        == "OSH Act SEC. 5(a)"
    )
    assert cite_label(Basis("regulations/us/29cfr1910/1910.157.html", "1910.157(c)", None, "")) == (
        "29 CFR 1910.157(c)"
    )
