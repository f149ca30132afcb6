"""The shared chat core: request parsing, allowlists, dedupe with TTL, history, the answer path."""

from __future__ import annotations

import threading

import pytest

from api.chat.core import (
    ChatCore,
    ChatStore,
    Dispatcher,
    Question,
    TargetNotAllowed,
    Vote,
    clean_text,
    host_allowed,
    parse_request,
    require_allowed,
)
from tests.chat_fakes import ScriptedAssistant


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(
    "text,expected",
    [
        ("checklist: scaffolds", ("checklist", "scaffolds")),
        ("Checklist scaffolds and ladders", ("checklist", "scaffolds and ladders")),
        ("/checklist: confined spaces", ("checklist", "confined spaces")),
        ("anquan checklist excavations", ("checklist", "excavations")),
        ("清单：脚手架", ("checklist", "脚手架")),
        ("检查表 有限空间", ("checklist", "有限空间")),
        ("checklist:", ("help", "")),
        ("", ("help", "")),
        ("help", ("help", "")),
        ("  When is fall protection required?  ", ("ask", "When is fall protection required?")),
        (
            "checklists are useful, when are they required?",
            ("ask", "checklists are useful, when are they required?"),
        ),
    ],
)
def test_parse_request(text, expected):
    assert parse_request(text) == expected


def test_clean_text_bounds_and_strips_controls():
    assert clean_text("a\x00b\x1fc\u00a0d") == "abc d"
    assert len(clean_text("x" * 5000)) == 2000
    assert clean_text(None) == "" and clean_text(12) == ""


ALLOW = ["hooks.slack.com", "*.botframework.com", "http://127.0.0.1:8123"]


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://hooks.slack.com/commands/T1/2/x", True),
        ("https://HOOKS.slack.com./commands", True),
        ("https://hooks.slack.com:443/x", True),
        ("http://hooks.slack.com/x", False),  # plain http to a host entry
        ("https://hooks.slack.com:8443/x", False),
        ("https://hooks.slack.com.evil.com/x", False),
        ("https://evilhooks.slack.com/x", False),
        ("https://user:pw@hooks.slack.com/x", False),
        ("https://hooks.slack.com@evil.com/x", False),
        ("https://smba.botframework.com/x", True),
        ("https://botframework.com/x", False),  # the wildcard means subdomains only
        ("https://x.botframework.com.evil/x", False),
        ("http://127.0.0.1:8123/robot", True),
        ("http://127.0.0.1:8124/robot", False),
        ("http://127.0.0.2:8123/robot", False),
        ("https://127.0.0.1/x", False),
        ("https://hooks.slack.com\\@evil.com/", False),
        ("javascript:alert(1)", False),
        ("", False),
        ("https://[::1]:99999/", False),
    ],
)
def test_host_allowed(url, ok):
    assert host_allowed(url, ALLOW) is ok


def test_require_allowed_refuses_with_403():
    with pytest.raises(TargetNotAllowed) as err:
        require_allowed("https://evil.example/x", ALLOW, "response_url")
    assert err.value.status == 403 and "hooks.slack.com" in str(err.value)


def test_claim_dedupes_until_ttl(tmp_path):
    clock = Clock()
    for store in (ChatStore(":memory:", clock), ChatStore(tmp_path / "chat.sqlite", clock)):
        assert store.claim("event:slack:Ev1", 60, "v") is True
        assert store.claim("event:slack:Ev1", 60) is False
        assert store.claimed("event:slack:Ev1") == "v"
        clock.t += 61
        assert store.claimed("event:slack:Ev1") is None
        assert store.claim("event:slack:Ev1", 60) is True
        clock.t = 1000.0


def test_claim_is_shared_by_two_connections_to_one_file(tmp_path):
    """Two worker processes share the SQLite file: an event is taken once between them."""
    a, b = ChatStore(tmp_path / "chat.sqlite"), ChatStore(tmp_path / "chat.sqlite")
    assert a.claim("event:x:1", 60) and not b.claim("event:x:1", 60)


def test_claim_under_concurrency_wins_once():
    store = ChatStore(":memory:")
    wins: list[bool] = []
    threads = [
        threading.Thread(target=lambda: wins.append(store.claim("k", 60))) for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_history_keeps_last_turns_oldest_first():
    clock = Clock()
    store = ChatStore(":memory:", clock)
    for i in range(5):
        clock.t += 1
        store.append("t", "user", f"q{i}")
        store.append("t", "assistant", f"a{i}")
    hist = store.history("t", turns=2, max_age_s=3600)
    assert [h["content"] for h in hist] == ["q3", "a3", "q4", "a4"]
    assert store.history("other", 2, 3600) == []
    clock.t += 7200
    assert store.history("t", 2, 3600) == []


def _q(text="When is fall protection required?", thread="slack:T:C:1", kind="ask", topic=""):
    return Question("slack", "Ev1", thread, text, kind, topic)  # type: ignore[arg-type]


def test_core_follow_up_gets_history():
    fake = ScriptedAssistant()
    core = ChatCore(fake.ask, fake.checklist, fake.feedback, ChatStore(":memory:"))
    first = core.respond(_q())
    assert first.kind == "answer" and first.answer_id.startswith("ans_")
    core.respond(_q("and for scaffolds?"))
    question, history = fake.asks[-1]
    assert question == "and for scaffolds?"
    assert history[0] == {"role": "user", "content": "When is fall protection required?"}
    assert history[1]["role"] == "assistant" and "Guardrails" in history[1]["content"]
    core.respond(_q("unrelated", thread="slack:T:C:2"))
    assert fake.asks[-1][1] == []


def test_core_checklist_and_help():
    fake = ScriptedAssistant()
    core = ChatCore(fake.ask, fake.checklist, fake.feedback, ChatStore(":memory:"))
    reply = core.respond(_q("checklist: 脚手架", kind="checklist", topic="脚手架"))
    assert reply.kind == "checklist" and fake.checklists == [("脚手架", "zh")]
    assert core.respond(_q("", kind="help")).kind == "help"
    assert fake.asks == []


def test_core_failure_is_a_polite_error_not_a_traceback(caplog):
    fake = ScriptedAssistant(fail=True)
    core = ChatCore(fake.ask, fake.checklist, fake.feedback, ChatStore(":memory:"))
    reply = core.respond(_q())
    assert reply.kind == "error" and reply.data == {} and reply.answer_id == ""
    assert "Traceback" in caplog.text  # the log has it; the reply does not


def test_votes_land_once_and_only_on_our_answers():
    fake = ScriptedAssistant()
    core = ChatCore(fake.ask, fake.checklist, fake.feedback, ChatStore(":memory:"))
    answer_id = core.respond(_q()).answer_id
    assert core.vote(Vote("slack", "click-1", answer_id, 1)) is True
    assert core.vote(Vote("slack", "click-1", answer_id, 1)) is False  # the platform retried
    assert core.vote(Vote("slack", "click-2", "ans_0123456789abcdef", -1)) is False  # not ours
    assert fake.votes == [(answer_id, 1, "")]


def test_answer_id_from_ask_is_kept():
    fake = ScriptedAssistant()

    def ask(q, h):
        return dict(fake.ask(q, h), answer_id="ans_00000000000000aa")

    core = ChatCore(ask, fake.checklist, fake.feedback, ChatStore(":memory:"))
    assert core.respond(_q()).answer_id == "ans_00000000000000aa"


def test_dispatcher_waits_idle():
    d = Dispatcher(2)
    done: list[int] = []
    for i in range(4):
        d.submit(done.append, i)
    assert d.wait_idle(5) and sorted(done) == [0, 1, 2, 3]
    d.shutdown()
