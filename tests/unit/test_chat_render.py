"""Renderers are pure and stay inside each platform's limits, however long the answer."""

from __future__ import annotations

import json

import pytest

from api.chat.core import Question, Reply
from api.chat.dingtalk import render as dingtalk
from api.chat.feishu import render as feishu
from api.chat.slack import render as slack
from api.chat.teams import render as teams
from api.chat.text import cut, cut_bytes
from api.chat.webhook import render as webhook
from api.chat.wecom import render as wecom
from tests.chat_fakes import CHECKLIST, answer_dict

AID = "ans_0123456789abcdef"


def _answer(**over) -> Reply:
    return Reply(
        "answer", AID, "en", "When is fall protection required?", {**answer_dict("q"), **over}
    )


def _huge() -> Reply:
    cites = [
        {
            "n": i,
            "source": f"s{i}.pdf",
            "title": "标题" * 40,
            "locator": f"第{i}条",
            "page": i,
            "quote": "条文内容" * 300,
        }
        for i in range(1, 61)
    ]
    text = " ".join(f"要求{i}[{i}]。" + "安全" * 200 for i in range(1, 61))
    return Reply(
        "answer", AID, "zh", "问题", {**answer_dict("问题"), "answer": text, "citations": cites}
    )


def _checklist(n: int = 2) -> Reply:
    items = [
        dict(CHECKLIST["items"][i % 2], id=str(i), question=f"Item {i}: " + "check " * 60)
        for i in range(n)
    ]
    return Reply("checklist", AID, "en", "scaffolds", {**CHECKLIST, "items": items})


def _size(obj) -> int:
    return len(json.dumps(obj, ensure_ascii=False).encode())


def test_cut_helpers():
    assert cut("short", 10) == "short"
    assert len(cut("word " * 100, 50)) <= 50 and cut("word " * 100, 50).endswith("…")
    s = cut_bytes("安全" * 3000, 4096)
    assert len(s.encode()) <= 4096 and s.endswith("…")


def test_slack_answer_blocks():
    msg = slack.render(_answer())
    types = [b["type"] for b in msg["blocks"]]
    assert types == ["markdown", "context", "actions"]
    assert "[1]" in msg["blocks"][0]["text"]
    context = msg["blocks"][1]["elements"]
    assert context[0]["text"].startswith("[1] 29 CFR 1926 Subpart M 1926.501(b)(1), p. 3")
    buttons = msg["blocks"][2]["elements"]
    assert [b["action_id"] for b in buttons] == ["anquan_vote_up", "anquan_vote_down"]
    assert {b["value"] for b in buttons} == {AID}
    assert msg["text"].startswith("Anquan: Guardrails")


def test_slack_limits_on_a_huge_answer():
    msg = slack.render(_huge())
    assert len(msg["blocks"]) <= 50
    assert len(msg["blocks"][0]["text"]) <= 12000
    assert len(msg["text"]) <= 3000
    for block in msg["blocks"]:
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
            assert all(len(e["text"]) <= 3000 for e in block["elements"])


def test_slack_escapes_mrkdwn_in_sources():
    reply = _answer(
        citations=[{"n": 1, "title": "<!channel> & co", "locator": "1", "quote": "<@U1>"}]
    )
    context = slack.render(reply)["blocks"][1]["elements"][0]["text"]
    assert "<!channel>" not in context and "&lt;!channel&gt; &amp; co" in context


def test_feishu_answer_card():
    card = feishu.render(_answer())
    assert card["schema"] == "2.0"
    tags = [e["tag"] for e in card["body"]["elements"]]
    assert tags == ["markdown", "collapsible_panel", "column_set"]
    panel = card["body"]["elements"][1]
    assert panel["expanded"] is False and "Sources (2)" in panel["header"]["title"]["content"]
    button = card["body"]["elements"][2]["columns"][0]["elements"][0]
    assert button["behaviors"][0]["value"] == {"anquan_vote": "up", "answer_id": AID}


def test_feishu_card_under_30kb():
    assert _size(feishu.render(_huge())) <= 30 * 1024
    assert _size(feishu.render(_checklist(300))) <= 30 * 1024


def test_feishu_checklist_uses_checkers():
    card = feishu.render(_checklist(2))
    checkers = [e for e in card["body"]["elements"] if e["tag"] == "checker"]
    assert len(checkers) == 2 and all(c["checked"] is False for c in checkers)
    assert (
        "(mandatory)" in checkers[0]["text"]["content"]
        and "1926.451(f)(3)" in checkers[0]["text"]["content"]
    )


def test_teams_citations_are_entities_matched_to_markers():
    activity = teams.render(_answer())
    entity = activity["entities"][0]
    assert entity["additionalType"] == ["AIGeneratedContent"]
    positions = [c["position"] for c in entity["citation"]]
    assert positions == [1, 2]
    assert len(entity["citation"][0]["appearance"]["abstract"]) <= 160
    assert activity["channelData"] == {"feedbackLoopEnabled": True}


def test_teams_limits_on_a_huge_answer():
    activity = teams.render(_huge())
    assert len(activity["entities"][0]["citation"]) <= 20
    assert _size(activity) <= 28000


def test_teams_checklist_is_an_adaptive_card_with_toggles():
    activity = teams.render(_checklist(2))
    card = activity["attachments"][0]["content"]
    assert card["version"] == "1.5"
    toggles = [b for b in card["body"] if b["type"] == "Input.Toggle"]
    assert len(toggles) == 2
    assert _size(teams.render(_checklist(300))) <= 28000


def test_wecom_markdown_bytes_and_card():
    assert len(wecom.markdown(_huge()).encode()) <= 4096
    card = wecom.feedback_card(_answer())
    assert card["task_id"] == AID and card["button_list"][0]["key"] == f"vote:up:{AID}"
    assert len(wecom.stream_text(_huge()).encode()) <= 20480


def test_dingtalk_markdown_and_vote_links():
    msg = dingtalk.render(_answer())
    assert msg["msgtype"] == "markdown" and "1926.501(b)(1)" in msg["markdown"]["text"]
    card = dingtalk.render(_answer(), public_url="https://anquan.example", link_secret="s3cret")
    buttons = card["actionCard"]["btns"]
    assert buttons[0]["actionURL"].startswith(f"https://anquan.example/chat/vote?a={AID}&v=1&s=")
    assert len(dingtalk.render(_huge())["markdown"]["text"]) <= 4000
    assert "|" not in dingtalk.render(_checklist(3))["markdown"]["text"]  # no tables on DingTalk


@pytest.mark.parametrize("renderer", ["slack", "feishu", "teams", "wecom", "dingtalk", "webhook"])
def test_refusal_is_polite_and_error_has_no_internals(renderer):
    refusal = _answer(
        refused=True, answer="", citations=[], reason="evidence too weak (coverage 0.12)"
    )
    error = Reply("error", "", "en", "q")
    out = {
        "slack": lambda r: json.dumps(slack.render(r)),
        "feishu": lambda r: json.dumps(feishu.render(r)),
        "teams": lambda r: json.dumps(teams.render(r)),
        "wecom": wecom.markdown,
        "dingtalk": lambda r: json.dumps(dingtalk.render(r)),
        "webhook": lambda r: json.dumps(webhook.render(Question("webhook", "m", "t", "q"), r, 0)),
    }[renderer]
    assert "Sorry, I could not find clauses" in out(refusal) and "coverage 0.12" in out(refusal)
    text = out(error)
    assert "try again" in text and "Traceback" not in text and "Error" not in text


def test_chinese_replies_are_in_chinese():
    refusal = Reply(
        "answer",
        AID,
        "zh",
        "问题",
        {**answer_dict("问题"), "refused": True, "answer": "", "citations": []},
    )
    assert "抱歉" in wecom.markdown(refusal)
    assert "抱歉" in wecom.markdown(Reply("error", "", "zh", "问题"))
