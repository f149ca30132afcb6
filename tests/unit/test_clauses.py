"""Clause references in questions, Chinese numerals, and the locator matching rule."""

from __future__ import annotations

import pytest

from ingest.clauses import (
    ClauseRef,
    cn_to_int,
    find_clause_refs,
    int_to_cn,
    locator_matches,
    normalise_locator,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1, "一"),
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (21, "二十一"),
        (41, "四十一"),
        (100, "一百"),
        (102, "一百零二"),
        (110, "一百一十"),
        (119, "一百一十九"),
        (999, "九百九十九"),
        (1001, "一千零一"),
        (1010, "一千零一十"),
    ],
)
def test_chinese_numerals_both_ways(n: int, text: str) -> None:
    assert int_to_cn(n) == text
    assert cn_to_int(text) == n


def test_every_numeral_up_to_999_round_trips() -> None:
    assert all(cn_to_int(int_to_cn(n)) == n for n in range(1, 1000))


def test_numeral_variants_and_errors() -> None:
    assert cn_to_int("两百") == 200
    assert cn_to_int("二〇二二") == 2022
    assert cn_to_int("41") == 41
    with pytest.raises(ValueError):
        cn_to_int("条")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1926.502(d) 是什么要求", [ClauseRef("1926.502(d)")]),
        ("What does § 1926.501(b)(1) require?", [ClauseRef("1926.501(b)(1)")]),
        ("29 CFR 1910.146 permit spaces", [ClauseRef("1910.146")]),
        (
            "see 1910.146(c)(2) and 1910.146(d)",
            [ClauseRef("1910.146(c)(2)"), ClauseRef("1910.146(d)")],
        ),
        ("安全生产法第四十一条规定了什么", [ClauseRef("第四十一条", "安全生产法")]),
        ("《安全生产法》第41条", [ClauseRef("第四十一条", "安全生产法")]),
        ("《中华人民共和国安全生产法》第102条", [ClauseRef("第一百零二条", "安全生产法")]),
        ("第二十一条第二款怎么规定", [ClauseRef("第二十一条第二款")]),
        ("第21条第2款", [ClauseRef("第二十一条第二款")]),
        ("职业病防治法第二十条第（一）项", [ClauseRef("第二十条第一项", "职业病防治法")]),
        ("根据消防法规定的第十条", [ClauseRef("第十条", "消防法")]),
        ("本法第十条", [ClauseRef("第十条")]),
        ("GB 30871-2022 动火作业", [ClauseRef("GB 30871-2022")]),
        ("GB/T 3608—2008 高处作业分级", [ClauseRef("GB/T 3608-2008")]),
        ("SEC. 5(a)(1)", [ClauseRef("SEC. 5(a)(1)")]),
        (
            "Section 5(a)(1) of the OSH Act",
            [ClauseRef("SEC. 5(a)(1)", "Occupational Safety and Health Act")],
        ),
        ("Article 41 of the Work Safety Law", [ClauseRef("第四十一条", "安全生产法")]),
        ("Article 20 of the Fire Protection Law", [ClauseRef("第二十条", "消防法")]),
        ("Article 3 of the Widget Regulations", [ClauseRef("第三条", "Widget Regulations")]),
        ("how high must guardrails be?", []),
    ],
)
def test_find_clause_refs(query: str, expected: list[ClauseRef]) -> None:
    assert find_clause_refs(query) == expected


def test_a_law_named_once_covers_a_list_of_articles() -> None:
    assert find_clause_refs("安全生产法第四十一条、第四十二条") == [
        ClauseRef("第四十一条", "安全生产法"),
        ClauseRef("第四十二条", "安全生产法"),
    ]


def test_references_come_in_order_of_appearance() -> None:
    refs = find_clause_refs("比较 1926.501(b)(1) 与《建筑法》第三十六条 及 GB 30871-2022")
    assert [r.locator for r in refs] == ["1926.501(b)(1)", "第三十六条", "GB 30871-2022"]


def test_a_cfr_section_is_not_read_as_an_act_section() -> None:
    assert find_clause_refs("Section 1910.146(c)") == [ClauseRef("1910.146(c)")]


@pytest.mark.parametrize(
    ("chunk", "gold", "matches"),
    [
        ("1926.501(b)(1)", "1926.501", True),
        ("1926.501", "1926.501", True),
        ("1926.501", "1926.50", False),
        ("1926.501(b)(1)", "1926.501(b)", True),
        ("1926.501(b)(10)", "1926.501(b)(1)", False),
        ("第二十一条第二款", "第二十一条", True),
        ("第二十一条", "第二十一条第二款", False),
        ("第十一条", "第十条", False),
        ("第十条之一", "第十条", False),
        ("第四十一条", "第41条", True),
        ("SEC. 5(a)(1)", "SEC. 5", True),
        ("SEC. 5(a)(1)", "Sec. 5(a)", True),
        ("SEC. 50", "SEC. 5", False),
        ("4.2.1", "4.2", True),
        ("4.21", "4.2", False),
        ("1926.62 Appendix A", "1926.62", True),
        ("Inspection Preparation and Planning", "Inspection Preparation and Planning.", True),
        ("Inspection", "Inspection Preparation and Planning", False),
        ("1926.501", "", False),
    ],
)
def test_locator_matches_at_label_boundaries(chunk: str, gold: str, matches: bool) -> None:
    assert locator_matches(chunk, gold) is matches


def test_normalise_locator() -> None:
    assert normalise_locator("§ 1926.501 (b)(1)") == "1926.501(b)(1)"
    assert normalise_locator("第41条 第2款") == "第四十一条第二款"
    assert normalise_locator("Section 5（a）") == "SEC. 5(a)"
