"""The chunk records' copy is a deep copy: nothing a query changes reaches the storage."""

from __future__ import annotations

from ragapi_common.rag.batch_reads import json_copy


def test_a_record_copied_is_equal_and_shares_no_container() -> None:
    record = {
        "content": "Zorblax",
        "tokens": 3,
        "weight": 0.5,
        "flag": None,
        "llm_cache_list": ["a", "b"],
        "nested": {"list": [{"x": [1, 2]}], "when": 1.0},
    }
    copied = json_copy(record)
    assert copied == record
    copied["llm_cache_list"].append("c")
    copied["nested"]["list"][0]["x"].append(3)
    copied["nested"]["when"] = 2.0
    assert record["llm_cache_list"] == ["a", "b"]
    assert record["nested"] == {"list": [{"x": [1, 2]}], "when": 1.0}
