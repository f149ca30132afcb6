"""Structure detection and chunking on small, hand-made documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import chunk_document, normative_of, split_sentences
from ingest.language import detect_language
from ingest.models import Block, Chunk, DocMeta, LoadedDocument, Record, doc_id_for
from ingest.structure import LabelTracker, label_tokens


def markdown(text: str, fmt: str = "markdown") -> LoadedDocument:
    """A tiny Markdown splitter: "#" lines are headings, blank lines separate paragraphs."""
    blocks: list[Block] = []
    for part in text.strip().split("\n\n"):
        part = part.strip()
        if not part:
            continue
        if part.startswith("#"):
            level = len(part) - len(part.lstrip("#"))
            blocks.append(Block(part[level:].strip(), "heading", level))
        else:
            blocks.append(Block(part))
    return LoadedDocument(path=Path("doc.md"), format=fmt, blocks=blocks)


def pdf(pages: list[list[str]], headings: tuple[str, ...] = ()) -> LoadedDocument:
    blocks = [
        Block(t, "heading" if t in headings else "paragraph", 2 if t in headings else 0, n)
        for n, page in enumerate(pages, start=1)
        for t in page
    ]
    return LoadedDocument(path=Path("doc.pdf"), format="pdf", blocks=blocks)


def meta(source: str = "regulations/cn/测试法.md", language: str = "zh", **kw: object) -> DocMeta:
    return DocMeta(source=source, title=str(kw.pop("title", "测试法")), language=language, **kw)  # type: ignore[arg-type]


def by_locator(chunks: list[Chunk]) -> dict[str, Chunk]:
    return {c.locator: c for c in chunks}


CN_LAW = """
# 中华人民共和国测试法

2021年6月10日第十三届全国人民代表大会常务委员会第二十九次会议通过

<!-- INFO END -->

## 第一章 总则

第一条 为了加强安全生产工作，制定本法。

第二条 生产经营单位必须遵守本法。

本法所称生产经营单位，包括个体工商户。

## 第三章 从业人员的安全生产权利义务

### 第一节 一般规定

第三条 生产经营单位应当建立安全风险分级管控制度。

第四条 从业人员有权了解其作业场所存在的危险因素。

第一百三十四条规定的情形，依照刑法追究责任。

第五条 生产经营单位不得有下列行为：

（一）未经培训上岗作业；

（二）拆除安全设施。
"""


def test_each_chinese_article_is_one_chunk_starting_with_its_own_text() -> None:
    chunks = chunk_document(markdown(CN_LAW), meta())
    assert [c.locator for c in chunks] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    first = by_locator(chunks)
    assert first["第三条"].text == "第三条 生产经营单位应当建立安全风险分级管控制度。"
    # the 款 of one article stay together, and a paragraph quoting another article's number
    # ("第一百三十四条规定的…") does not open a new article
    assert first["第二条"].text.endswith("本法所称生产经营单位，包括个体工商户。")
    assert first["第四条"].text.endswith("依照刑法追究责任。")
    assert first["第五条"].text.endswith("（二）拆除安全设施。")
    # the title and promulgation history are metadata, not a chunk
    assert not any("第二十九次会议" in c.text for c in chunks)


def test_chinese_heading_path_follows_chapters_and_sections() -> None:
    chunks = by_locator(chunk_document(markdown(CN_LAW), meta()))
    assert chunks["第一条"].heading_path == "第一章 总则"
    assert chunks["第三条"].heading_path == "第三章 从业人员的安全生产权利义务 > 第一节 一般规定"


def test_chunk_fields_come_from_the_metadata() -> None:
    m = meta(doc_type="law", jurisdiction="CN", industries=["general"])
    chunk = chunk_document(markdown(CN_LAW), m)[2]
    assert chunk.doc_id == doc_id_for("regulations/cn/测试法.md") == m.doc_id
    assert chunk.chunk_id == f"{m.doc_id}:第三条:0"
    assert (chunk.source, chunk.title, chunk.language) == (
        "regulations/cn/测试法.md",
        "测试法",
        "zh",
    )
    assert (chunk.doc_type, chunk.jurisdiction, chunk.industries) == ("law", "CN", ["general"])
    assert chunk.normative == "mandatory"
    assert chunk.page is None


LONG_ARTICLE = """
第一条 为了加强管理，制定本法。

第二条 生产经营单位应当建立健全全员安全生产责任制。{a}

生产经营单位应当建立健全安全生产规章制度。{b}

生产经营单位应当组织制定并实施本单位安全生产教育和培训计划。{c}

第三条 本法自公布之日起施行。
"""


def test_a_long_article_splits_by_paragraph_with_its_header_repeated() -> None:
    text = LONG_ARTICLE.format(a="甲" * 150, b="乙" * 150, c="丙" * 150)
    chunks = chunk_document(markdown(text), meta(), max_chars=250)
    assert [c.locator for c in chunks] == [
        "第一条",
        "第二条",
        "第二条第二款",
        "第二条第三款",
        "第三条",
    ]
    split = by_locator(chunks)
    assert split["第二条"].text.startswith("第二条 生产经营单位应当建立健全全员")
    assert split["第二条第二款"].text.startswith("第二条\n生产经营单位应当建立健全安全生产规章制度")
    assert split["第二条第三款"].text.startswith("第二条\n生产经营单位应当组织制定")
    assert all(len(c.text) <= 250 for c in chunks)


def test_articles_that_fit_keep_all_their_paragraphs_in_one_chunk() -> None:
    text = LONG_ARTICLE.format(a="", b="", c="")
    chunks = chunk_document(markdown(text), meta(), max_chars=700)
    assert [c.locator for c in chunks] == ["第一条", "第二条", "第三条"]
    assert chunks[1].text.count("\n") == 2


def test_items_of_a_single_paragraph_article_are_located_without_a_paragraph_number() -> None:
    items = "\n\n".join(f"（{n}）第{n}项内容{'事' * 100}；" for n in "一二三四")
    text = f"第一条 总则。\n\n第二条 生产经营单位不得有下列行为：\n\n{items}"
    chunks = chunk_document(markdown(text), meta(), max_chars=260)
    locators = [c.locator for c in chunks]
    assert locators[0:2] == ["第一条", "第二条"]
    assert "第二条第三项" in locators
    assert all("款" not in loc for loc in locators)


def test_coal_mine_text_with_literal_newline_markers() -> None:
    raw = (
        "中华人民共和国矿山安全法(2009修正)\n中华人民共和国矿山安全法\n第一章总 则\n"
        "第一条为了保障矿山生产安全，制定本法。\\n\n"
        "第二条在中华人民共和国领域从事矿产资源开采活动，必须遵守本法。\\n\n"
        "县级以上地方各级人民政府劳动行政主管部门实施监督。\\n\n"
        "第二章矿山建设的安全保障\n"
        "第三条矿山建设工程的安全设施必须和主体工程同时设计。\\n\n"
    )
    doc = LoadedDocument(path=Path("19.txt"), format="text", blocks=[Block(raw)])
    chunks = chunk_document(doc, meta(source="regulations/cn-coal/19.txt"))
    assert [c.locator for c in chunks] == ["第一条", "第二条", "第三条"]
    assert chunks[0].text == "第一条为了保障矿山生产安全，制定本法。"
    assert chunks[1].text.endswith(
        "必须遵守本法。\n县级以上地方各级人民政府劳动行政主管部门实施监督。"
    )
    assert chunks[0].heading_path == "第一章 总则"
    assert chunks[2].heading_path == "第二章 矿山建设的安全保障"
    assert "\\n" not in "".join(c.text for c in chunks)


def test_a_preamble_with_content_is_kept_and_an_appendix_is_its_own_chunk() -> None:
    text = """
# 关于办理案件适用法律若干问题的解释

为依法惩治危害生产安全犯罪，根据刑法有关规定，现就办理此类刑事案件适用法律的若干问题解释如下：

第一条 刑法第一百三十四条第一款规定的犯罪主体，包括负责人。

第二条 本解释自公布之日起施行。

附录：

（一）矿山井下作业；
"""
    chunks = chunk_document(markdown(text), meta())
    assert [c.locator for c in chunks] == ["序言", "第一条", "第二条", "附录"]
    assert chunks[0].text.startswith("为依法惩治危害生产安全犯罪")
    assert chunks[3].text == "附录\n（一）矿山井下作业；"


# ---------------------------------------------------------------------------------------------
# US CFR


def test_labels_of_one_paragraph_include_an_embedded_first_child() -> None:
    assert label_tokens("(a) Basic requirement. (1) If your company had 10") == ["a", "1"]
    assert label_tokens("(b) Implementation —(1) Is the partial exemption") == ["b", "1"]
    assert label_tokens("(h) Methods —(1) Engineering controls. (i) The employer") == [
        "h",
        "1",
        "i",
    ]
    assert label_tokens("(6)(A) Any employer may apply") == ["6", "A"]
    assert label_tokens("(a) Each employer shall comply with paragraph (b)(1).") == ["a"]
    assert label_tokens("Anchorage means a secure point.") == []


def feed_all(labels: list[str]) -> list[str]:
    tracker = LabelTracker()
    paths = []
    for i, label in enumerate(labels):
        following = labels[i + 1] if i + 1 < len(labels) else None
        path, _ = tracker.feed([label], following)
        paths.append(path)
    return paths


def test_label_paths_follow_the_cfr_outline() -> None:
    labels = ["a", "1", "i", "A", "1", "2", "B", "ii", "2", "b"]
    assert feed_all(labels) == [
        "(a)",
        "(a)(1)",
        "(a)(1)(i)",
        "(a)(1)(i)(A)",
        "(a)(1)(i)(A)(1)",
        "(a)(1)(i)(A)(2)",
        "(a)(1)(i)(B)",
        "(a)(1)(ii)",
        "(a)(2)",
        "(b)",
    ]


def test_i_after_h_is_a_letter_and_under_a_number_a_roman_numeral() -> None:
    assert feed_all(["g", "h", "i", "j"])[2] == "(i)"
    assert feed_all(["h", "1", "i", "j"])[2] == "(i)"  # the next label (j) settles it
    assert feed_all(["h", "1", "i", "ii"])[2:] == ["(h)(1)(i)", "(h)(1)(ii)"]
    assert feed_all(["a", "1", "i", "ii", "iii", "iv", "v"])[-1] == "(a)(1)(v)"
    assert feed_all(["t", "u", "v"])[-1] == "(v)"


SUBPART_M = [
    [
        "29 CFR Part 1926 — Subpart M—Fall Protection",
        "Page 1 of 2",
        "Title 29 — Labor",
        "Subpart M—Fall Protection",
        "§ 1926.501 Duty to have fall protection.",
        "(a) General. (1) This section sets forth requirements for employers.",
        "(2) The employer shall determine if the walking/working surfaces have the strength.",
        "(b)(1) Unprotected sides and edges. Each employee shall be protected from falling.",
    ],
    [
        "29 CFR Part 1926 — Subpart M—Fall Protection",
        "Page 2 of 2",
        "(2) Leading edges. (i) Each employee who is constructing a leading edge shall be protected.",
        "(ii) Each employee on a walking/working surface shall be protected.",
        "§ 1926.502 Fall protection systems criteria and practices.",
        "(a) General. (1) Fall protection systems shall be provided before employees begin work.",
        "(d) Personal fall arrest systems. Personal fall arrest systems shall comply.",
        "[59 FR 40730, Aug. 9, 1994]",
    ],
]
SUBPART_M_HEADINGS = (
    "Subpart M—Fall Protection",
    "§ 1926.501 Duty to have fall protection.",
    "§ 1926.502 Fall protection systems criteria and practices.",
)


def cfr_meta(
    title: str = "29 CFR Part 1926, Subpart M—Fall Protection (§§ 1926.500–1926.503)",
) -> DocMeta:
    return DocMeta(source="regulations/us/29cfr1926/m.pdf", title=title, language="en")


def test_cfr_sections_become_chunks_with_label_locators_and_pages() -> None:
    chunks = chunk_document(pdf(SUBPART_M, SUBPART_M_HEADINGS), cfr_meta())
    assert [(c.locator, c.page) for c in chunks] == [("1926.501(a)", 1), ("1926.502(a)", 2)]
    first = chunks[0]
    assert first.heading_path == "Subpart M > § 1926.501 Duty to have fall protection."
    assert first.text.startswith("§ 1926.501 Duty to have fall protection.\n(a) General.")
    assert "(ii) Each employee on a walking/working surface" in first.text
    assert not any(
        "Page 1 of" in c.text or "Title 29" in c.text or "59 FR" in c.text for c in chunks
    )


def test_cfr_grouping_never_crosses_a_section_and_prefers_top_level_breaks() -> None:
    chunks = chunk_document(pdf(SUBPART_M, SUBPART_M_HEADINGS), cfr_meta(), max_chars=260)
    locators = [c.locator for c in chunks]
    # (b) is too long for one chunk, so it splits at its (1)/(2); (a) stays whole; the small
    # (a) and (d) of § 1926.502 share one chunk
    assert locators == ["1926.501(a)", "1926.501(b)", "1926.501(b)(2)", "1926.502(a)"]
    assert "(d) Personal fall arrest systems." in chunks[-1].text
    for c in chunks:
        section = c.locator.split("(")[0]
        assert c.text.startswith(f"§ {section} ")
        other = {"1926.501": "1926.502", "1926.502": "1926.501"}[section]
        assert f"§ {other}" not in c.text
    assert all(len(c.text) <= 260 for c in chunks)


def test_a_section_without_labels_is_located_at_the_section() -> None:
    text = """
### § 1904.0 Purpose.

The purpose of this rule (part 1904) is to require employers to record and report work-related fatalities.

### § 1904.1 Partial exemption for employers with 10 or fewer employees.

(a) Basic requirement. (1) If your company had 10 or fewer employees at all times, you do not need to keep records.

(2) If your company had more than ten (10) employees, you must keep records.

(b) Implementation —(1) Is the partial exemption for size based on the size of my entire company?

(2) How do I determine the size of my company?
"""
    chunks = chunk_document(markdown(text), cfr_meta(title="29 CFR Part 1904"), max_chars=300)
    assert [c.locator for c in chunks] == ["1904.0", "1904.1(a)", "1904.1(b)"]


def test_definitions_items_are_not_outline_labels() -> None:
    text = """
# § 1910.146 Permit-required confined spaces.

(a) Scope and application. This section contains requirements.

(b) Definitions.

Confined space means a space that:

(1) Is large enough and so configured that an employee can bodily enter; and

(2) Has limited or restricted means for entry or exit.

Entry means the action by which a person passes through an opening.

(c) General requirements. (1) The employer shall evaluate the workplace.
"""
    chunks = chunk_document(
        markdown(text, "html"), cfr_meta(title="29 CFR 1910.146"), max_chars=200
    )
    assert [c.locator for c in chunks] == [
        "1910.146(a)",
        "1910.146(b)",
        "1910.146(b)",
        "1910.146(c)",
    ]
    assert len({c.chunk_id for c in chunks}) == 4


def test_osh_act_sections_use_us_code_label_order() -> None:
    text = """
# Occupational Safety and Health Act of 1970

An Act to assure safe and healthful working conditions for working men and women.

## SEC. 5. Duties

(a) Each employer --

(1) shall furnish to each of his employees employment and a place of employment free from recognized hazards;

(2) shall comply with occupational safety and health standards promulgated under this Act.

## SEC. 6. Occupational Safety and Health Standards

(b) The Secretary may by rule promulgate any standard in the following manner:

(6)(A) Any employer may apply to the Secretary for a temporary order granting a variance.

(i) he is unable to comply with a standard by its effective date;

(B) An application for temporary order under this paragraph (6) shall contain:
"""
    chunks = chunk_document(markdown(text), cfr_meta(title="OSH Act"), max_chars=170)
    locators = [c.locator for c in chunks]
    assert locators[0] == "Occupational Safety and Health Act of 1970"
    assert "SEC. 5(a)" in locators and "SEC. 5(a)(2)" in locators
    # "(6)(A) Any employer …" is located at its first label, (6); (i) sits under (A), not (6)
    assert locators[-3:] == ["SEC. 6(b)(6)", "SEC. 6(b)(6)(A)(i)", "SEC. 6(b)(6)(B)"]


# ---------------------------------------------------------------------------------------------
# Standards, headings, plain text


def test_numbered_standard_clauses() -> None:
    text = """
4 基本要求

4.1 作业前应进行危险辨识，{a}

4.2 作业单位应制定作业方案，{a}

4.2.1 方案应包括安全措施。

5 作业管理

5.1 动火作业应办理作业许可。
""".format(a="并采取相应的控制措施" * 5)
    chunks = chunk_document(markdown(text), meta(title="GB 30871-2022"), max_chars=120)
    assert [c.locator for c in chunks] == ["4.1", "4.2", "5.1"]
    assert "4.2.1 方案应包括安全措施。" in chunks[1].text


def test_heading_sections_are_located_by_their_heading_text() -> None:
    text = """
# Field Operations Manual

## Inspection Preparation and Planning.

It is important that the CSHO adequately prepare for each inspection.

## Hazard Assessment

If the employer has a written certification, the CSHO shall request a copy.
"""
    chunks = chunk_document(
        markdown(text, "text"), meta(source="guidance/fom.txt", language="en", title="FOM")
    )
    assert [c.locator for c in chunks] == [
        "Inspection Preparation and Planning",
        "Hazard Assessment",
    ]
    assert chunks[1].heading_path == "Hazard Assessment"
    assert chunks[1].text.startswith("Hazard Assessment\nIf the employer")
    assert chunks[1].normative == "mandatory"


def test_plain_text_headings_are_recognised_by_title_case() -> None:
    text = """
Review of Inspection History.

Compliance Officers will carefully review data available at the Area Office.

If there are any other concerns about the program.
"""
    chunks = chunk_document(markdown(text, "text"), meta(language="en", title="FOM"))
    assert [c.locator for c in chunks] == ["Review of Inspection History"]
    assert chunks[0].text.endswith("If there are any other concerns about the program.")


def test_fallback_splitter_cuts_chinese_at_sentence_ends_with_overlap() -> None:
    sentences = [f"第{n}句说明作业要求和注意事项{'内容' * 5}。" for n in range(1, 17)]
    doc = LoadedDocument(
        path=Path("note.txt"),
        format="text",
        blocks=[Block("".join(sentences[:8])), Block("".join(sentences[8:]))],
    )
    chunks = chunk_document(doc, meta(source="note.txt", title="说明"), max_chars=200)
    assert len(chunks) >= 3
    for c in chunks:
        assert c.text.endswith("。")
        assert len(c.text) <= 200
    assert chunks[0].locator == "¶1"
    assert chunks[-1].locator == "¶2"
    # a small overlap: each chunk after the first repeats the previous chunk's last sentence
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        last = prev.text.split("。")[-2] + "。"
        assert nxt.text.startswith(last.lstrip("\n"))


def test_fallback_splitter_locates_pdf_chunks_by_page() -> None:
    page1 = " ".join(f"Sentence {n} explains the work procedure in some detail." for n in range(12))
    page2 = " ".join(
        f"Statement {n} describes the inspection step by step here." for n in range(12)
    )
    chunks = chunk_document(
        pdf([[page1], [page2]]), meta(source="x.pdf", language="en", title="X"), max_chars=300
    )
    assert chunks[0].locator == "p.1" and chunks[0].page == 1
    assert chunks[-1].locator == "p.2" and chunks[-1].page == 2


def test_split_sentences() -> None:
    assert split_sentences("应当培训。不得上岗！是否合格？检查；完毕") == [
        "应当培训。",
        "不得上岗！",
        "是否合格？",
        "检查；",
        "完毕",
    ]
    english = "Use PPE, e.g. gloves. The U.S. Department of Labor enforces it. See § 1926.501 now."
    assert split_sentences(english) == [
        "Use PPE, e.g. gloves. ",
        "The U.S. Department of Labor enforces it. ",
        "See § 1926.501 now.",
    ]


def test_no_empty_chunks_and_whitespace_is_collapsed() -> None:
    doc = markdown("## Heading\n\n   \n\nSome    text\twith   gaps.\n\n## Empty\n\n", "markdown")
    chunks = chunk_document(doc, meta(language="en", title="t"))
    assert [c.text for c in chunks] == ["Heading\nSome text with gaps."]


# ---------------------------------------------------------------------------------------------
# Records


def test_one_record_one_chunk() -> None:
    records = [
        Record(
            id="200361855",
            text="Employee #1 was struck by a vehicle.",
            title="Worker Is Struck By Vehicle",
            fields={
                "event_keywords": "struck by, vehicle",
                "occupation": "Occupation not reported",
            },
        ),
        Record(id="msha-0001", text="EE slipped and fell.", fields={"mine_type": "Coal"}),
        Record(id="empty", text="   "),
    ]
    doc = LoadedDocument(path=Path("acc.csv"), format="csv", records=records)
    m = DocMeta(
        source="accidents/us/acc.csv", title="Accidents", language="en", doc_type="accident_records"
    )
    chunks = chunk_document(doc, m)
    assert [c.locator for c in chunks] == ["200361855", "msha-0001"]
    first, second = chunks
    assert first.source == "accidents/us/acc.csv#200361855"
    assert first.doc_id == m.doc_id and first.chunk_id == f"{m.doc_id}:200361855:0"
    assert first.title == "Worker Is Struck By Vehicle"
    assert first.text == (
        "Worker Is Struck By Vehicle\nEmployee #1 was struck by a vehicle.\n"
        "event_keywords: struck by, vehicle"
    )
    assert second.title == "Accidents"
    assert second.text == "EE slipped and fell.\nmine_type: Coal"
    assert first.normative == second.normative == "none"


# ---------------------------------------------------------------------------------------------
# Normative force and language


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("生产经营单位应当建立安全风险分级管控制度。", "zh", "mandatory"),
        ("必须持证上岗。", "zh", "mandatory"),
        ("严禁烟火。", "zh", "mandatory"),
        ("不得拆除安全设施。", "zh", "mandatory"),
        ("禁止使用淘汰设备。", "zh", "mandatory"),
        ("作业人员应佩戴安全帽。", "zh", "mandatory"),
        ("国家鼓励生产经营单位投保安全生产责任保险。", "zh", "recommended"),
        ("宜设置警示标志。", "zh", "recommended"),
        ("从业人员可以拒绝违章指挥。", "zh", "recommended"),
        ("县级以上人民政府应急管理部门负责相应的监督管理。", "zh", "none"),
        ("本法自2021年9月1日起施行。", "zh", "none"),
        ("Each employee shall be protected from falling.", "en", "mandatory"),
        ("The employer must provide training.", "en", "mandatory"),
        ("Compressed air shall not be used.", "en", "mandatory"),
        ("Employers are required to keep records.", "en", "mandatory"),
        ("CSHOs should be aware of this information.", "en", "recommended"),
        ("The employer may use a safety monitor.", "en", "recommended"),
        ("Body harness means straps secured about the employee.", "en", "none"),
    ],
)
def test_normative_of(text: str, language: str, expected: str) -> None:
    assert normative_of(text, language) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("生产经营单位应当建立安全风险分级管控制度", "zh"),
        ("1926.501 是什么", "zh"),
        ("什么是 lockout/tagout", "zh"),
        ("What does 安全生产法 say about training and workers?", "en"),
        ("How high must guardrails be?", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected
