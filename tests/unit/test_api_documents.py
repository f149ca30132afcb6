"""The document library over HTTP: upload (raw or form), background ingest with a pollable
job, search finding the upload, listing, deleting with its chunks, and the limits."""

from __future__ import annotations

import time

import pytest

from api.uploads import sanitise_filename
from ingest.errors import ConfigError
from ingest.pipeline import run_ingest
from tests.unit.test_answer_kb import answer_kb  # noqa: F401
from tests.unit.test_api_ask import client, make_client  # noqa: F401

RULES = """# 某公司有限空间作业安全管理制度

第一条 进入有限空间作业前，必须先通风、再检测、后作业，检测氧气、可燃气体和硫化氢浓度。

第二条 有限空间作业必须设专人监护，监护人员不得离开作业现场，不得同时承担其他工作。
""".encode()


def wait_for(c, job: dict, timeout: float = 30.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = c.get(job["status_url"]).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job did not finish: {job}")


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd.md", "passwd.md"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("有限空间 作业制度(2024版).MD", "有限空间 作业制度(2024版).md"),
        (".hidden.md", "hidden.md"),
        ("a\x00b\nc.md", "abc.md"),
        ("rm -rf $(x);.txt", "rm -rf _(x).txt"),
        ("/abs/path/规程.pdf", "规程.pdf"),
    ],
)
def test_file_names_are_sanitised(given, safe):
    assert sanitise_filename(given) == safe


def test_a_name_with_nothing_left_is_refused():
    with pytest.raises(ConfigError, match="no usable characters"):
        sanitise_filename("../..")


def test_upload_is_ingested_in_the_background_and_found_by_search(client):  # noqa: F811
    r = client.post(
        "/v1/documents",
        params={
            "filename": "../有限空间制度.md",
            "jurisdiction": "CN",
            "doc_type": "internal_rule",
            "industries": "general;chemical",
        },
        content=RULES,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202 and r.headers["location"] == r.json()["status_url"]
    job = r.json()
    assert job["source"] == "有限空间制度.md" and job["status"] in (
        "queued",
        "reading",
        "embedding",
        "done",
    )
    job = wait_for(client, job)
    assert job["status"] == "done" and job["result"] == "added" and job["chunks"] >= 2
    assert job["searchable"] and job["doc_id"]

    hits = client.get("/v1/search", params={"q": "有限空间 监护人员", "k": 3}).json()["results"]
    assert (hits[0]["source"], hits[0]["locator"]) == ("有限空间制度.md", "第二条")
    assert (hits[0]["jurisdiction"], hits[0]["doc_type"]) == ("CN", "internal_rule")
    listed = client.get("/v1/documents").json()
    doc = next(d for d in listed["documents"] if d["source"] == "有限空间制度.md")
    assert doc["uploaded"] and doc["chunks"] == job["chunks"]
    assert listed["jobs"][0]["job_id"] == job["job_id"]
    one = client.get(f"/v1/documents/{doc['doc_id']}").json()
    assert [c["locator"] for c in one["clauses"]][:2] == ["第一条", "第二条"]

    # the uploads folder is a corpus root of its own: re-ingesting it keeps the same source
    app = client.app
    folder = app.state.uploads.folder
    assert (folder / "有限空间制度.md").read_bytes() == RULES
    assert "internal_rule" in (folder / "manifest.csv").read_text(encoding="utf-8")
    again = run_ingest(app.state.kb, [folder], embed=False)
    assert again.unchanged == ["有限空间制度.md"] and not again.added and not again.failed

    gone = client.delete(f"/v1/documents/{doc['doc_id']}")
    assert gone.status_code == 200
    assert gone.json()["chunks_removed"] == job["chunks"] and gone.json()["file_removed"]
    assert not (folder / "有限空间制度.md").exists()
    after = client.get("/v1/search", params={"q": "有限空间 监护人员", "k": 3}).json()["results"]
    assert all(h["source"] != "有限空间制度.md" for h in after)
    assert client.delete(f"/v1/documents/{doc['doc_id']}").status_code == 404


def test_a_browser_form_upload_works_too(client):  # noqa: F811
    r = client.post(
        "/v1/documents",
        files={
            "file": (
                "guard rules.md",
                b"# Guard rules\n\nGuards shall be inspected daily.",
                "text/markdown",
            )
        },
        data={"jurisdiction": "US", "language": "en"},
    )
    assert r.status_code == 202, r.text
    job = wait_for(client, r.json())
    assert job["status"] == "done" and job["source"] == "guard rules.md"
    hit = client.get("/v1/search", params={"q": "guards inspected daily", "k": 1}).json()[
        "results"
    ][0]
    assert hit["source"] == "guard rules.md" and hit["jurisdiction"] == "US"


def test_upload_limits_and_conflicts(answer_kb, settings):  # noqa: F811
    with make_client(answer_kb, settings, upload_max_mb=0.001) as c:  # 1 048 bytes
        big = c.post("/v1/documents?filename=big.txt", content=b"x" * 5000)
        assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
        assert "ANQUAN_MAX_FILE_MB" in big.json()["error"]["message"]
        exe = c.post("/v1/documents?filename=setup.exe", content=b"MZ")
        assert exe.status_code == 415 and ".pdf" in exe.json()["error"]["message"]
        noname = c.post("/v1/documents", content=b"text")
        assert noname.status_code == 400 and "filename" in noname.json()["error"]["message"]
        empty = c.post("/v1/documents?filename=empty.md", content=b"")
        assert empty.status_code == 400
        reserved = c.post("/v1/documents?filename=manifest.csv", content=b"path\n")
        assert reserved.status_code == 400 and "reserved" in reserved.json()["error"]["message"]
        first = c.post("/v1/documents?filename=a.md", content=b"# A\n\nWorkers shall wear helmets.")
        assert wait_for(c, first.json())["status"] == "done"
        dup = c.post("/v1/documents?filename=a.md", content=b"# A\n\nWorkers shall wear boots.")
        assert dup.status_code == 409 and "replace=true" in dup.json()["error"]["message"]
        rep = c.post(
            "/v1/documents?filename=a.md&replace=true", content=b"# A\n\nWorkers shall wear boots."
        )
        job = wait_for(c, rep.json())
        assert job["status"] == "done" and job["result"] == "updated"
        folder = c.app.state.uploads.folder
        assert sorted(p.name for p in folder.iterdir()) == ["a.md", "manifest.csv"]  # no leftovers


def test_an_unreadable_upload_fails_with_the_loaders_reason(client):  # noqa: F811
    r = client.post("/v1/documents?filename=broken.pdf", content=b"%PDF-1.4 this is not a pdf")
    job = wait_for(client, r.json())
    assert job["status"] == "failed" and job["error"] and job["error_code"]
    failures = client.get("/v1/documents").json()["failures"]
    assert any(f["source"] == "broken.pdf" for f in failures)
