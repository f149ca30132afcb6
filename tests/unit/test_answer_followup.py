"""Follow-up questions rewritten to stand alone, from the conversation's earlier questions."""

from __future__ import annotations

import pytest

from assistant.followup import history_questions, is_followup, standalone_query


@pytest.mark.parametrize(
    ("previous", "followup", "standalone"),
    [
        (
            "What is the required top rail height for guardrails on floors?",
            "and for scaffolds?",
            "What is the required top rail height for guardrails on scaffolds?",
        ),
        (
            "How deep can a trench be before it needs a protective system in sandy soil?",
            "what about in clay?",
            "How deep can a trench be before it needs a protective system in clay?",
        ),
        ("临边防护栏杆要多高？", "那脚手架呢？", "临边防护栏杆要多高（脚手架）？"),
        (
            "How often must fire extinguishers be inspected?",
            "And ladders?",
            "How often must fire extinguishers be inspected — ladders?",
        ),
    ],
)
def test_follow_ups_take_their_topic_from_the_last_question(previous, followup, standalone):
    assert standalone_query(followup, [previous]) == standalone


def test_questions_that_stand_alone_are_left_alone():
    history = ["What is the required top rail height for guardrails?"]
    q = "How soon must an employer report an in-patient hospitalization to OSHA?"
    assert not is_followup(q)
    assert standalone_query(q, history) == q
    assert standalone_query("and for scaffolds?", None) == "and for scaffolds?"


def test_history_accepts_plain_questions_and_chat_messages():
    history = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        "q2",
        {"role": "system", "content": "ignored"},
    ]
    assert history_questions(history) == ["q1", "q2"]
    assert standalone_query("and for scaffolds?", history).startswith("q2")
