"""The fake provider speaks OpenAI and answers LightRAG 1.5.7's prompts in LightRAG's formats.

Every pipeline test relies on this, so its answers are checked with LightRAG's
own prompt templates and parsers.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import httpx
import pytest
from lightrag.operate import _process_extraction_result, _process_json_extraction_result
from lightrag.prompt import PROMPTS

from tests.support.fake_provider import FakeProvider
from tests.support.servers import free_port

TEXT = (
    "Marie Curie worked at the University of Paris. She discovered Polonium with Pierre Curie.\n"
    "阿里巴巴在杭州成立。"
)


async def _chat(http: httpx.AsyncClient, fake: FakeProvider, messages: list[dict[str, str]]) -> str:
    response = await http.post(
        f"{fake.base_url}/chat/completions", json={"model": "m", "messages": messages}
    )
    assert response.status_code == 200
    return str(response.json()["choices"][0]["message"]["content"])


def _extraction_messages(system_key: str, user_key: str) -> list[dict[str, str]]:
    context = {
        "tuple_delimiter": PROMPTS["DEFAULT_TUPLE_DELIMITER"],
        "completion_delimiter": PROMPTS["DEFAULT_COMPLETION_DELIMITER"],
        "entity_types_guidance": PROMPTS["default_entity_types_guidance"],
        "examples": "",
        "language": "English",
        "max_total_records": 40,
        "max_entity_records": 20,
        "heading_context_block": "",
        "input_text": TEXT,
    }
    return [
        {"role": "system", "content": PROMPTS[system_key].format(**context)},
        {"role": "user", "content": PROMPTS[user_key].format(**context)},
    ]


async def test_entity_extraction_parses_with_lightrags_own_parser(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    messages = _extraction_messages(
        "entity_extraction_system_prompt", "entity_extraction_user_prompt"
    )
    answer = await _chat(http, fake, messages)
    assert answer.endswith(PROMPTS["DEFAULT_COMPLETION_DELIMITER"])
    nodes, edges = await _process_extraction_result(answer, "chunk-1", 0)
    assert set(nodes) == {
        "Marie Curie",
        "University of Paris",
        "Polonium",
        "Pierre Curie",
        "阿里巴巴",
        "杭州成立",
    }
    assert ("Polonium", "Pierre Curie") in edges
    assert all(node[0]["entity_type"] == "concept" for node in nodes.values())
    assert "discovered Polonium" in nodes["Polonium"][0]["description"]


async def test_gleaning_answers_nothing_missed(http: httpx.AsyncClient, fake: FakeProvider) -> None:
    messages = _extraction_messages(
        "entity_extraction_system_prompt", "entity_continue_extraction_user_prompt"
    )
    answer = await _chat(http, fake, messages)
    assert answer == PROMPTS["DEFAULT_COMPLETION_DELIMITER"]


async def test_json_entity_extraction_parses_with_lightrags_own_parser(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    messages = _extraction_messages(
        "entity_extraction_json_system_prompt", "entity_extraction_json_user_prompt"
    )
    answer = await _chat(http, fake, messages)
    nodes, edges = await _process_json_extraction_result(answer, "chunk-1", 0, "doc.txt")
    assert {"Marie Curie", "Polonium", "阿里巴巴"} <= set(nodes)
    assert edges


async def test_keyword_extraction_answers_lightrags_json(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    prompt = PROMPTS["keywords_extraction"].format(
        examples="", language="English", query="Where did Marie Curie work?"
    )
    keywords = json.loads(await _chat(http, fake, [{"role": "user", "content": prompt}]))
    assert set(keywords) == {"high_level_keywords", "low_level_keywords"}
    assert "Marie Curie" in keywords["low_level_keywords"]


async def test_summary_merges_the_descriptions(http: httpx.AsyncClient, fake: FakeProvider) -> None:
    descriptions = "\n".join(
        json.dumps({"description": d}) for d in ["Paris is a city.", "Paris is in France."]
    )
    prompt = PROMPTS["summarize_entity_descriptions"].format(
        description_type="Entity",
        description_name="Paris",
        description_list=descriptions,
        summary_length=200,
        language="English",
    )
    summary = await _chat(http, fake, [{"role": "user", "content": prompt}])
    assert summary == "Paris: Paris is a city. Paris is in France."


async def test_rag_answer_quotes_the_context_it_was_given(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    chunks = "\n".join(
        json.dumps({"reference_id": str(n), "content": text})
        for n, text in [(1, "Curie won two Nobel prizes. More text."), (2, "Paris is in France.")]
    )
    context = PROMPTS["naive_query_context"].format(
        text_chunks_str=chunks, reference_list_str="[1] curie.txt\n[2] paris.txt"
    )
    system = PROMPTS["naive_rag_response"].format(
        response_type="Multiple Paragraphs", user_prompt="", content_data=context
    )
    history = [
        {"role": "user", "content": "HISTORY-MARKER"},
        {"role": "assistant", "content": "ok"},
    ]
    messages = [{"role": "system", "content": system}, *history, {"role": "user", "content": "Q?"}]
    answer = await _chat(http, fake, messages)
    assert "Curie won two Nobel prizes. [1]" in answer
    assert "Paris is in France. [2]" in answer
    assert "- [1] curie.txt" in answer
    assert "HISTORY-MARKER" not in answer  # history is visible in fake.requests, not echoed
    assert fake.requests[-1]["json"]["messages"][1]["content"] == "HISTORY-MARKER"


async def test_stream_is_openai_sse_ending_with_done(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    fake.configure(reply="alpha beta gamma")
    body: dict[str, Any] = {
        "model": "m",
        "stream": True,
        "messages": [{"role": "user", "content": "q"}],
    }
    async with http.stream("POST", f"{fake.base_url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "alpha beta gamma"
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_models_and_hashed_embeddings(http: httpx.AsyncClient, fake: FakeProvider) -> None:
    models = (await http.get(f"{fake.base_url}/models")).json()
    assert [m["id"] for m in models["data"]] == ["fake-llm", "fake-embedding", "fake-rerank"]
    response = await http.post(
        f"{fake.base_url}/embeddings", json={"model": "e", "input": "one", "dimensions": 16}
    )
    [row] = response.json()["data"]
    assert len(row["embedding"]) == 16
    assert sum(v * v for v in row["embedding"]) == pytest.approx(1.0)


async def test_runs_standalone_for_benchmarks(http: httpx.AsyncClient) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.fake_provider",
        "--port",
        str(port),
        "--latency",
        "0.01",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f"127.0.0.1:{port}/v1" in line.decode()
        response = await http.get(f"http://127.0.0.1:{port}/v1/models")
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_rag_answer_without_chunks_quotes_the_entities(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    entity = {"entity": "Polonium", "type": "concept", "description": "Polonium is an element."}
    context = PROMPTS["kg_query_context"].format(
        entities_str=json.dumps(entity), relations_str="", text_chunks_str="", reference_list_str=""
    )
    system = PROMPTS["rag_response"].format(
        response_type="Multiple Paragraphs", user_prompt="", context_data=context
    )
    answer = await _chat(
        http, fake, [{"role": "system", "content": system}, {"role": "user", "content": "Q?"}]
    )
    assert "- Polonium is an element." in answer
