"""Site words → the rule's words (assistant.jargon), and their use in retrieval."""

from __future__ import annotations

import pytest

from assistant import jargon


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("Do we need hard hats?", "hard hat"),
        ("is a hard-hat enough", "hard hat"),
        ("Our FORKLIFTS are old", "forklift"),
        ("GFCI on every outlet?", "gfci"),
        ("叉车司机要持证吗", "叉车"),
    ],
)
def test_site_words_are_found_in_any_spelling(question, term):
    assert term in [t for t, _ in jargon.site_terms(question)]


def test_the_longest_site_word_wins_and_is_not_matched_twice():
    terms = [t for t, _ in jargon.site_terms("keep the spoil pile back from the trench")]
    assert terms == ["spoil pile"]


@pytest.mark.parametrize(
    "question",
    ["define the finest dust", "the outletting pipe", "toiletry", "Is it fine to stand on a pail?"],
)
def test_words_inside_other_words_are_not_site_words(question):
    assert jargon.site_terms(question) == []


def test_question_in_rule_words_keeps_the_rest_of_the_question():
    assert (
        jargon.in_rule_words("Are steel toe boots required for my guys?")
        == "Are foot protection protective footwear boots required for employees?"
    )
    assert jargon.in_rule_words("叉车司机要持上岗证吗") == (
        "场（厂）内专用机动车辆 司机要持 特种作业操作资格证书 持证上岗 吗"
    )
    assert jargon.in_rule_words("What is a permit-required confined space?") is None


def test_alternatives_let_the_rule_words_cover_each_site_token():
    alts = jargon.alternatives("Do welders need hard hats?")
    assert {"head", "protection"} in alts["hard"] and {"head", "protection"} in alts["hat"]


def test_every_phrase_has_words_to_match():
    for table in (jargon.EN, jargon.ZH):
        for term, phrases in table.items():
            assert phrases, term
            assert all(jargon._phrase_tokens(p) for p in phrases), term
