"""The web page in a real browser: ask and see cited clauses, open a citation, build and
download a checklist, upload a document and find it, run and sign a short inspection, and
the Chinese interface on a phone-sized screen."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

UPLOAD = """# 某公司有限空间作业安全管理制度

第一条 进入有限空间作业前，必须先通风、再检测、后作业，检测氧气、可燃气体和硫化氢浓度。

第二条 有限空间作业必须设专人监护，监护人员不得离开作业现场，不得同时承担其他工作。
"""


def ask(page, question: str):
    page.fill("#question", question)
    page.click("#ask-button")
    turn = page.locator(".turn").first
    turn.locator(".feedback:not([hidden])").wait_for()
    return turn


def test_ask_shows_a_streamed_answer_with_cited_clauses_and_opens_one(page, shot):
    turn = ask(page, "从业人员未经安全生产教育和培训，能上岗作业吗？")
    evidence = turn.locator(".evidence li")
    assert evidence.count() >= 1
    citations = turn.locator(".citations li")
    assert citations.count() >= 1
    assert "第二十八条" in citations.first.inner_text()
    assert "不得上岗作业" in turn.locator(".answer").inner_text()
    assert turn.locator(".answer a.cite").count() >= 1
    assert page.locator("#ask-status").inner_text() == "Done"
    shot(page, "01-ask-answer")

    turn.locator(".answer a.cite").first.click()
    dialog = page.locator("#clause-dialog")
    dialog.wait_for(state="visible")
    page.wait_for_function(
        "!document.querySelector('#clause-meta').textContent.includes('Loading')"
    )
    assert "第二十八条" in page.locator("#clause-title").inner_text()
    assert "不得上岗作业" in page.locator("#clause-text").inner_text()
    shot(page, "02-citation")
    page.click("#clause-dialog button[value=close]")
    dialog.wait_for(state="hidden")

    # feedback on the answer
    turn.locator(".feedback .up").click()
    turn.locator(".feedback .comment").fill("clear")
    turn.locator(".feedback .send").click()
    page.wait_for_function(
        "document.querySelector('.turn .feedback .status').textContent.length > 0"
    )
    assert "Thank you" in turn.locator(".feedback .status").inner_text()


def build_checklist(page, industry: str, topic: str, jurisdiction: str, lang: str, items: int):
    page.click("a[data-tab=checklists]")
    page.select_option("#ck-industry", industry)
    page.fill("#ck-topic", topic)
    page.select_option("#ck-jurisdiction", jurisdiction)
    page.select_option("#ck-lang", lang)
    page.fill("#ck-max", str(items))
    page.click("#ck-build")
    page.locator("#ck-table tbody tr").first.wait_for()
    return page.locator("#ck-table tbody tr")


def test_build_and_download_a_checklist(page, shot, tmp_path):
    rows = build_checklist(page, "general", "confined spaces", "US", "en", 12)
    assert rows.count() == 12
    assert "1910.146" in page.locator("#ck-table").inner_text()
    assert (
        page.locator("#ck-title").inner_text().startswith("Inspection checklist: confined spaces")
    )
    shot(page, "03-checklist")

    with page.expect_download() as info:
        page.click("button.download[data-format=csv]")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("No.,Item,Check,Basis")
    assert len(text.splitlines()) >= 13 and "1910.146" in text

    # a basis cell opens its clause
    page.locator("#ck-table .cite-link").first.click()
    page.locator("#clause-dialog").wait_for(state="visible")
    page.wait_for_function(
        "!document.querySelector('#clause-meta').textContent.includes('Loading')"
    )
    assert "1910.146" in page.locator("#clause-title").inner_text()
    page.click("#clause-dialog button[value=close]")


def test_upload_a_document_and_find_it(page, shot, tmp_path):
    doc = tmp_path / "有限空间作业制度.md"
    doc.write_text(UPLOAD, encoding="utf-8")
    page.click("a[data-tab=documents]")
    page.locator("#doc-table tbody tr").first.wait_for()
    before = page.locator("#doc-table tbody tr").count()
    page.set_input_files("#upload-file", str(doc))
    page.fill("#upload-jurisdiction", "CN")
    page.click("#upload-button")
    page.locator("#jobs .badge.done").first.wait_for(timeout=30_000)
    assert "有限空间作业制度.md" in page.locator("#jobs").inner_text()
    page.wait_for_function(f"document.querySelectorAll('#doc-table tbody tr').length > {before}")
    row = page.locator("#doc-table tbody tr[data-source='有限空间作业制度.md']")
    assert row.count() == 1 and "uploaded" in row.inner_text()
    shot(page, "04-documents")

    page.click("a[data-tab=ask]")
    turn = ask(page, "有限空间作业时监护人员可以离开作业现场吗？")
    evidence = turn.locator(".evidence").inner_text()
    assert "有限空间作业安全管理制度" in evidence or "有限空间作业制度" in evidence
    assert "监护人员不得离开作业现场" in turn.locator(".answer").inner_text()

    # delete it again: gone from the library
    page.click("a[data-tab=documents]")
    page.once("dialog", lambda d: d.accept())
    page.locator("#doc-table tbody tr[data-source='有限空间作业制度.md'] button.delete").click()
    page.wait_for_function(
        "!document.querySelector(\"#doc-table tbody tr[data-source='有限空间作业制度.md']\")"
    )


def test_run_and_sign_a_short_inspection(page, shot):
    build_checklist(page, "general", "安全生产教育和培训", "CN", "zh", 3)
    page.click("#ck-inspect")
    page.locator("#view-inspections:not([hidden])").wait_for()
    page.fill("#ins-site", "B 栋")
    page.fill("#ins-area", "东立面")
    page.fill("#ins-inspector", "李伟")
    page.click("#ins-start")
    items = page.locator("#ins-items .ins-item")
    items.first.wait_for()
    assert items.count() == 3

    def item(n: int):
        return page.locator("#ins-items .ins-item").nth(n)

    item(0).locator("button[data-result=pass]").click()
    page.wait_for_function("document.querySelector('#ins-head').textContent.includes('1/3')")
    item(1).locator("button[data-result=na]").click()
    page.wait_for_function("document.querySelector('#ins-head').textContent.includes('2/3')")
    item(2).locator("button[data-result=fail]").click()
    fail = item(2).locator(".fail-fields")
    fail.wait_for()
    fail.locator(".grade").select_option("major")
    fail.locator(".hazard").fill("培训记录缺失")
    fail.locator(".action").fill("补办三级安全教育")
    fail.locator(".owner").fill("王工")
    fail.locator(".due").fill("2030-04-07")
    fail.locator(".save-fail").click()
    page.wait_for_function("document.querySelector('#ins-head').textContent.includes('3/3')")
    hazards = page.locator("#ins-hazards")
    hazards.wait_for()
    assert "培训记录缺失" in hazards.inner_text() and "HZ-" in hazards.inner_text()

    assert page.input_value("#sign-name") == "李伟"
    page.click("#sign-button")
    page.wait_for_function("document.querySelector('#signature').textContent.includes('sha256')")
    signature = page.locator("#signature").inner_text()
    assert re.search(r"李伟 · .+ · sha256 [0-9a-f]{64}", signature)
    assert page.locator("#ins-items button[data-result=pass]").first.is_disabled()
    assert "signed" in page.locator("#ins-list").inner_text()
    shot(page, "05-inspection-signed", element="#ins-detail")

    # print / export opens the signed record as a printable page
    with page.context.expect_page() as popup:
        page.click("#ins-export")
    record = popup.value
    record.wait_for_function("document.querySelector('table.items') !== null")
    text = record.inner_text("body")
    assert "检查人（签字）: 李伟" in text and re.search(r"sha256: [0-9a-f]{64}", text)
    assert record.locator("table.items tbody tr").count() == 3
    record.close()


def test_chinese_interface_fits_a_phone(browser_context, server, shot):
    page = browser_context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']")
    if page.locator("#lang-toggle").inner_text() == "中文":
        page.click("#lang-toggle")
    assert page.locator("a[data-tab=ask]").inner_text() == "问答"
    assert page.locator("#ask-button").inner_text() == "提问"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    turn = ask(page, "生产经营单位的主要负责人有哪些职责？")
    assert turn.locator(".citations li").count() >= 1
    assert page.locator("#ask-status").inner_text() == "完成"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    shot(page, "06-phone-zh")
    page.click("#lang-toggle")  # back to English for the other tests' shared storage
    page.close()
