"""Loaders on small files made in the test, and on real text taken from the starter corpus."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from ingest.loaders import SUPPORTED_EXTENSIONS, load
from ingest.loaders.text import join_lines, split_paragraphs

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
SAFETY_LAW = "regulations/cn/安全生产法(2021-06-10).md"
SUBPART_M = "regulations/us/29cfr1926/29cfr1926-subpart-M-fall-protection.pdf"


def corpus(rel: str) -> Path:
    path = CORPUS / rel
    if not path.exists():
        pytest.skip(f"starter corpus file not found: {path}")
    return path


def law_paragraphs() -> list[str]:
    """Real paragraphs of the PRC Work Safety Law (第三条, three 款)."""
    text = corpus(SAFETY_LAW).read_text(encoding="utf-8")
    start = text.index("第三条")
    return [p for p in text[start : text.index("第四条")].split("\n") if p.strip()]


def pdf_pages(rel: str, pages: list[int]) -> bytes:
    """Some pages (0-based) of a corpus PDF, written out by pypdf."""
    reader = PdfReader(corpus(rel))
    writer = PdfWriter()
    for n in pages:
        writer.add_page(reader.pages[n])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def test_supported_extensions() -> None:
    expected = {".pdf", ".html", ".htm", ".md", ".markdown", ".txt", ".docx", ".csv", ".xlsx"}
    assert isinstance(SUPPORTED_EXTENSIONS, frozenset)
    assert set(SUPPORTED_EXTENSIONS) == expected


# --- plain text and decoding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16-le"),  # Python writes a little-endian BOM
        ("utf-16-be-bom", "utf-16-be"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
    ],
)
def test_real_chinese_text_decodes_the_same_in_every_encoding(
    tmp_path: Path, encoding: str, expected: str
) -> None:
    paragraphs = law_paragraphs()
    text = "\n\n".join(paragraphs)
    if encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    doc = load(write(tmp_path, "law.txt", data))
    assert doc.encoding == expected
    assert [b.text for b in doc.blocks] == paragraphs
    assert doc.blocks[0].text.startswith("第三条 安全生产工作坚持中国共产党的领导")


def test_latin1_text_is_not_mistaken_for_gb18030(tmp_path: Path) -> None:
    text = "Gerüste müssen vor der Benutzung geprüft werden. Die Größe der Öffnungen zählt."
    doc = load(write(tmp_path, "de.txt", text.encode("cp1252")))
    assert doc.encoding != "gb18030"
    assert doc.blocks[0].text == text


def test_text_without_blank_lines_has_one_paragraph_per_line_and_literal_newline_markers(
    tmp_path: Path,
) -> None:
    # the shape of the CN coal files: literal "\n" at paragraph ends, no blank lines
    text = (
        "煤矿防治水规定\n"
        "第一章总则\n"
        "第一条为加强煤矿的防治水工作，制定本规定。\\n\n"
        "第二条煤矿企业的防治水工作，适用本规定。\n"
        "现行煤矿安全规程与本规定不一致的，依照本规定执行。\\n\n"
        "第三条探放水。\\n观测点应当布置在下列地段。\\n\n"
    )
    doc = load(write(tmp_path, "coal.txt", text))
    assert [b.text for b in doc.blocks] == [
        "煤矿防治水规定",
        "第一章总则",
        "第一条为加强煤矿的防治水工作，制定本规定。",
        "第二条煤矿企业的防治水工作，适用本规定。",
        "现行煤矿安全规程与本规定不一致的，依照本规定执行。",
        "第三条探放水。",
        "观测点应当布置在下列地段。",
    ]
    assert [(b.kind, b.level) for b in doc.blocks[:3]] == [
        ("paragraph", 0),
        ("heading", 2),
        ("paragraph", 0),
    ]
    assert doc.title == "煤矿防治水规定"
    assert "\\n" not in doc.text


def test_code_like_backslash_n_in_english_text_is_left_alone(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "note.txt", 'Use printf("done\\n") to log the result.'))
    assert doc.blocks[0].text == 'Use printf("done\\n") to log the result.'


def test_blank_line_paragraphs_rejoin_wrapped_lines_and_mark_title_case_headings(
    tmp_path: Path,
) -> None:
    # the shape of the OSHA FOM files: blank-line paragraphs, links on their own lines
    text = (
        "Field Operations Manual\n\nChapter 3\n\nINSPECTION PROCEDURES\n\n"
        "Inspection Preparation and Planning.\n\n"
        "It is important that the CSHO adequately prepare for each inspection.\n\n"
        "However, the State Plan citation\ncannot\nbe used to support a repeat violation.\n\n"
        "Hazard Assessment.\n\n"
        "If the employer has a written certification pursuant to\n§1910.132(d)\n"
        ", then the CSHO shall request a copy (\n§1910.134\nand\nCPL 02-02-054\n).\n"
    )
    doc = load(write(tmp_path, "fom.txt", text))
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Field Operations Manual"),
        ("heading", "Chapter 3"),
        ("heading", "INSPECTION PROCEDURES"),
        ("heading", "Inspection Preparation and Planning"),
        ("paragraph", "It is important that the CSHO adequately prepare for each inspection."),
        (
            "paragraph",
            "However, the State Plan citation cannot be used to support a repeat violation.",
        ),
        ("heading", "Hazard Assessment"),
        (
            "paragraph",
            "If the employer has a written certification pursuant to §1910.132(d), then the "
            "CSHO shall request a copy (§1910.134 and CPL 02-02-054).",
        ),
    ]


def test_sentences_and_articles_are_not_headings(tmp_path: Path) -> None:
    text = (
        "If there are any other concerns about the program.\n\n"
        "CSHOs must notify their supervisor:\n\n"
        "第一条为了加强安全生产工作，制定本法。\n\n"
        "第一章 总则\n\n"
        "第二节 一般规定\n\n"
        "The end."
    )
    doc = load(write(tmp_path, "mixed.txt", text))
    assert [(b.kind, b.level) for b in doc.blocks] == [
        ("paragraph", 0),
        ("paragraph", 0),
        ("paragraph", 0),
        ("heading", 2),
        ("heading", 3),
        ("paragraph", 0),
    ]


def test_join_lines_spacing_rules() -> None:
    assert join_lines(["fall protection on low-", "sloped roofs"]) == (
        "fall protection on low-sloped roofs"
    )
    assert join_lines(["natural- and", "synthetic-fiber rope"]) == (
        "natural- and synthetic-fiber rope"
    )
    assert join_lines(["1,2-", "Dichloroethylene"]) == "1,2-Dichloroethylene"
    assert join_lines(["生产经营单位应当", "建立安全风险分级管控制度。"]) == (
        "生产经营单位应当建立安全风险分级管控制度。"
    )
    assert join_lines(["guardrail sys\u00ad", "tems"]) == "guardrail systems"
    assert join_lines(["see (", "§1910.134", ")."]) == "see (§1910.134)."


def test_split_paragraphs_keeps_lines_when_most_lines_end_sentences() -> None:
    text = "第一条甲。\n第二条乙。\n\n第三条丙。\n第四条丁。\n"
    assert split_paragraphs(text) == ["第一条甲。", "第二条乙。", "第三条丙。", "第四条丁。"]


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_headings_paragraphs_comments_and_lists(tmp_path: Path) -> None:
    text = (
        "# 中华人民共和国安全生产法\n\n"
        "2021年6月10日 第三次修正\n\n"
        "<!-- INFO END -->\n\n"
        "## 第一章 总则\n\n"
        "第一条 为了加强安全生产工作，\n制定本法。\n\n"
        "- OSHA accident summary number: 200054039\n"
        "- Event date: 2011-09-19\n"
        "  continued on the next line\n\n"
        "1. first numbered item\n\n"
        "| Substance | ppm |\n|---|---|\n| Acetone | 1000 |\n\n"
        "### Summary ###\n\n"
        "Text with **bold** and a [link](https://example.com).\n"
    )
    doc = load(write(tmp_path, "law.md", text))
    assert doc.format == "markdown"
    assert doc.title == "中华人民共和国安全生产法"
    assert [(b.kind, b.level, b.text) for b in doc.blocks] == [
        ("heading", 1, "中华人民共和国安全生产法"),
        ("paragraph", 0, "2021年6月10日 第三次修正"),
        ("heading", 2, "第一章 总则"),
        ("paragraph", 0, "第一条 为了加强安全生产工作，制定本法。"),
        ("paragraph", 0, "OSHA accident summary number: 200054039"),
        ("paragraph", 0, "Event date: 2011-09-19 continued on the next line"),
        ("paragraph", 0, "1. first numbered item"),
        ("table_row", 0, "Substance | ppm"),
        ("table_row", 0, "Acetone | 1000"),
        ("heading", 3, "Summary"),
        ("paragraph", 0, "Text with bold and a link."),
    ]
    assert "INFO END" not in doc.text


def test_real_markdown_law_keeps_articles_as_paragraphs() -> None:
    doc = load(corpus(SAFETY_LAW))
    assert doc.title == "中华人民共和国安全生产法"
    headings = [b.text for b in doc.blocks if b.kind == "heading" and b.level == 2]
    assert headings[0] == "第一章 总则"
    article = next(b for b in doc.blocks if b.text.startswith("第四十一条"))
    assert article.kind == "paragraph"
    assert article.text.startswith("第四十一条 生产经营单位应当建立安全风险分级管控制度")


# --- HTML -----------------------------------------------------------------------------------


def test_html_structure_tables_and_title(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><title>29 CFR 1910.146 — Permit spaces</title>
    <style>p { color: red }</style></head><body>
    <p class="breadcrumb">Title 29 — Labor · Part 1910</p>
    <h1>§ 1910.146 Permit-required confined spaces.</h1>
    <p>(a) Scope and <b>application</b>. This section applies.</p>
    <h2>Table</h2>
    <table><tr><th>Substance</th><th>ppm</th></tr><tr><td>Acetone</td><td>1000</td></tr></table>
    <ul><li>First item</li><li>Second <a href="#">item</a></li></ul>
    <div>Loose text in a div<br>with a line break</div>
    <pre>line one
line two</pre>
    </body></html>"""
    doc = load(write(tmp_path, "1910.146.html", html))
    assert doc.title == "29 CFR 1910.146 — Permit spaces"
    assert [(b.kind, b.level, b.text) for b in doc.blocks] == [
        ("heading", 1, "§ 1910.146 Permit-required confined spaces."),
        ("paragraph", 0, "(a) Scope and application. This section applies."),
        ("heading", 2, "Table"),
        ("table_row", 0, "Substance | ppm"),
        ("table_row", 0, "Acetone | 1000"),
        ("paragraph", 0, "First item"),
        ("paragraph", 0, "Second item"),
        ("paragraph", 0, "Loose text in a div with a line break"),
        ("paragraph", 0, "line one\nline two"),
    ]


def test_html_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "page.htm", "<body><h1>Lockout</h1><p>Text.</p></body>"))
    assert doc.title == "Lockout"


def test_html_declared_charset_is_used(tmp_path: Path) -> None:
    paragraph = law_paragraphs()[0]
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        f"<title>安全生产法</title></head><body><p>{paragraph}</p></body></html>"
    )
    doc = load(write(tmp_path, "law.html", html.encode("gbk")))
    assert doc.encoding == "gb18030"
    assert doc.title == "安全生产法"
    assert doc.blocks[0].text == paragraph


def test_html_without_declared_charset_is_detected(tmp_path: Path) -> None:
    paragraph = law_paragraphs()[1]
    doc = load(write(tmp_path, "law.html", f"<p>{paragraph}</p>".encode("gb18030")))
    assert doc.blocks[0].text == paragraph


# --- DOCX -----------------------------------------------------------------------------------


def test_docx_headings_paragraphs_and_tables_in_document_order(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Confined Space Entry Procedure", style="Title")
    document.add_heading("1 Scope", level=1)
    document.add_paragraph("This procedure applies to all permit spaces.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Hazard"
    table.cell(0, 1).text = "Control"
    table.cell(1, 0).text = "Oxygen deficiency"
    table.cell(1, 1).text = "Ventilate and test"
    document.add_heading("1.1 Testing", level=2)
    document.add_paragraph("")
    document.add_paragraph("Test the atmosphere before entry.")
    path = tmp_path / "procedure.docx"
    document.save(str(path))

    doc = load(path)
    assert doc.format == "docx"
    assert doc.title == "Confined Space Entry Procedure"
    assert [(b.kind, b.level, b.text) for b in doc.blocks] == [
        ("heading", 1, "Confined Space Entry Procedure"),
        ("heading", 1, "1 Scope"),
        ("paragraph", 0, "This procedure applies to all permit spaces."),
        ("table_row", 0, "Hazard | Control"),
        ("table_row", 0, "Oxygen deficiency | Ventilate and test"),
        ("heading", 2, "1.1 Testing"),
        ("paragraph", 0, "Test the atmosphere before entry."),
    ]


# --- CSV / XLSX -----------------------------------------------------------------------------

ACCIDENTS_CSV = (
    "case_id,event_date,title,summary,fall_distance_ft\n"
    "200361855,2013-08-27,Two Workers Are Struck By Motor Vehicle,"
    '"On August 27 2013 Employees #1 and #2 were working along a highway, marking a line.",\n'
    "200361856,,Worker Falls From Roof,Employee #1 fell 20 feet from an unprotected roof edge.,20\n"
    "200361857,2013-09-01,Empty Summary,,\n"
)


def test_csv_records_guess_id_text_and_title(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "accidents.csv", ACCIDENTS_CSV))
    assert doc.format == "csv"
    assert doc.blocks == []
    assert [r.id for r in doc.records] == ["200361855", "200361856"]  # empty summary skipped
    first, second = doc.records
    assert first.text.startswith("On August 27 2013 Employees #1 and #2")
    assert first.title == "Two Workers Are Struck By Motor Vehicle"
    assert first.fields == {"event_date": "2013-08-27"}
    assert second.fields == {"fall_distance_ft": "20"}


def test_csv_explicit_columns_win(tmp_path: Path) -> None:
    doc = load(
        write(tmp_path, "accidents.csv", ACCIDENTS_CSV), id_column="title", text_column="SUMMARY"
    )
    assert doc.records[0].id == "Two Workers Are Struck By Motor Vehicle"
    assert doc.records[1].text == "Employee #1 fell 20 feet from an unprotected roof edge."


def test_csv_falls_back_to_long_column_and_row_numbers(tmp_path: Path) -> None:
    text = (
        "site;remarks\n"
        "A;Scaffold planks were not secured and a worker slipped on the second lift.\n"
        "A;Guardrail missing on the east side of the third floor slab edge opening.\n"
    )
    doc = load(write(tmp_path, "notes.csv", text))
    assert [r.id for r in doc.records] == ["1", "2"]  # 'site' is not unique
    assert doc.records[1].text.startswith("Guardrail missing")
    assert doc.records[1].fields == {"site": "A"}


def test_csv_in_gbk_with_chinese_columns(tmp_path: Path) -> None:
    paragraph = law_paragraphs()[1]
    text = f"编号,事故名称,事故经过\nA-1,某矿透水事故,{paragraph}\nA-2,某厂爆炸事故,{paragraph}\n"
    doc = load(write(tmp_path, "事故.csv", text.encode("gbk")))
    assert doc.encoding == "gb18030"
    assert [(r.id, r.title, r.text) for r in doc.records] == [
        ("A-1", "某矿透水事故", paragraph),
        ("A-2", "某厂爆炸事故", paragraph),
    ]


def test_xlsx_records_with_numbers_and_dates(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["record_id", "accident_date", "days_lost", "narrative"])
    sheet.append([1001, dt.datetime(2012, 3, 14), 3.0, "Employee was cleaning up at the crusher."])
    sheet.append([1002, dt.datetime(2012, 3, 15, 9, 45), None, "EE strained back lifting a bag."])
    path = tmp_path / "msha.xlsx"
    workbook.save(path)

    doc = load(path)
    assert doc.format == "xlsx"
    assert [(r.id, r.text) for r in doc.records] == [
        ("1001", "Employee was cleaning up at the crusher."),
        ("1002", "EE strained back lifting a bag."),
    ]
    assert doc.records[0].fields == {"accident_date": "2012-03-14", "days_lost": "3"}
    assert doc.records[1].fields == {"accident_date": "2012-03-15 09:45:00"}


# --- PDF ------------------------------------------------------------------------------------


def test_pdf_first_page_headings_paragraphs_and_page_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "m.pdf", pdf_pages(SUBPART_M, [0]))
    doc = load(path)
    assert doc.format == "pdf"
    headings = [(b.level, b.text) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        (1, "Subpart M—Fall Protection"),
        (2, "§ 1926.500 Scope, application, and definitions applicable to this subpart."),
    ]
    paragraphs = [b for b in doc.blocks if b.kind == "paragraph"]
    assert {b.page for b in doc.blocks} == {1}
    labelled = [b.text for b in paragraphs if b.text.startswith("(")]
    assert labelled[0].startswith("(a) Scope and application. (1) This subpart sets forth")
    # a wrapped paragraph comes back as one line of text
    assert labelled[0].endswith("after all construction work has been completed.")
    assert [t.split(" ", 1)[0] for t in labelled[1:9]] == [
        "(2)", "(i)", "(ii)", "(iii)", "(iv)", "(v)", "(vi)", "(vii)"
    ]  # fmt: skip


def test_pdf_paragraph_continues_across_a_page_break_and_headers_are_dropped(
    tmp_path: Path,
) -> None:
    # pages 4 and 5 of Subpart M: § 1926.501(b)(2)(i) runs over the page break
    path = write(tmp_path, "m.pdf", pdf_pages(SUBPART_M, [3, 4]))
    doc = load(path)
    block = next(b for b in doc.blocks if b.text.startswith("(2) Leading edges."))
    assert block.page == 1
    assert "infeasible or creates a greater hazard to use these systems, the employer" in block.text
    assert not any(b.page == 2 and b.text.startswith("systems, the employer") for b in doc.blocks)
    assert not any("Page " in b.text and " of " in b.text for b in doc.blocks)
    assert not any(b.text.startswith("29 CFR Part 1926 — Subpart M") for b in doc.blocks)


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_pages(SUBPART_M, [0]))))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    doc = load(write(tmp_path, "locked.pdf", out.getvalue()))
    assert any(b.text.startswith("§ 1926.500") for b in doc.blocks)
