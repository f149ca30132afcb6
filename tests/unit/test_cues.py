from ingest.cues import query_cues


def test_jurisdiction_and_accident_cues():
    assert query_cues("美国工地上，工人在多高的边沿作业就必须有防坠落保护？") == {
        "jurisdiction": "US"
    }
    assert query_cues("How many hours a day is the standard working time in China?") == {
        "jurisdiction": "CN"
    }
    assert query_cues("OSHA 和中国的规定有什么不同") == {}
    assert query_cues("有没有工人清洗阀门时手被夹伤的事故记录？") == {"doc_type": "accident"}
    assert query_cues("Is there a case where a steel worker fell 50 feet?") == {
        "doc_type": "accident"
    }
    assert query_cues("新工人上岗前要培训多久") == {}
    assert query_cues("must the user wear gloves") == {}


def test_the_word_us_is_not_the_united_states():
    assert query_cues("tell us what the harness rule is") == {}
    assert query_cues("what do U.S. rules say about harnesses") == {"jurisdiction": "US"}
