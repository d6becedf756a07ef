"""Our query steps give the prompts, contexts and references LightRAG's own give.

A fixed corpus (cross-linked documents, one in Chinese) goes in through the
fake LLM's extraction; each question is asked for the full prompt
(``only_need_prompt``: the context inside the rendered system prompt) through
ragapi's path (lazy budgets, memoised tokenizer, kept vectors and norms,
one-look-up graph batches),
then again on the same storages with LightRAG's own functions, tokenizer and
vector reads put back, at its default budgets and at tight ones.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ragapi_common.rag import answers
from ragapi_common.rag._lightrag import lightrag_utils
from ragapi_common.rag.api import QueryMode, Question
from ragapi_common.rag.batch_reads import BATCHES, json_copy
from ragapi_common.rag.registry import Registry
from ragapi_common.rag.tenant import LightRagTenant
from ragapi_common.rag.tokenizer import OfflineTokenizer
from ragapi_common.rag.truncation import LIGHTRAG_STEPS
from ragapi_common.rag.vectors import LIGHTRAG_COSINE
from tests.rag.conftest import TenantFor

NAMES = [
    "Kamor Labs", "Glen Kaanan", "Vestry Foundry", "Ilse Brandt", "Orla Mendez", "Quill Works",
    "Tarn Harbour", "Eldric Sato", "Nimbus Cooperative", "Petra Vance", "Solace Mills",
    "Hollow Crane", "Juno Okafor", "Marrow Institute",
]  # fmt: skip
VERBS = ["works with", "supplies", "was founded beside", "signed an agreement with", "audits"]
CITIES = ["Lisbon", "Osaka", "Tallinn", "Accra", "Quito", "Bergen"]
CHINESE = "石天号与 Kamor Labs 签订了协议。石天号的工程师在 Osaka 与 Glen Kaanan 合作。" * 6

#: (max_entity_tokens, max_relation_tokens, max_total_tokens); None: LightRAG's defaults.
BUDGETS = [None, (300, 300, 4000), (120, 90, 2500), (40, 25, 1800), (1, 1, 1200)]
QUESTIONS: list[tuple[str, QueryMode]] = [
    ("How is Kamor Labs related to Glen Kaanan?", "mix"),
    ("Who audits Vestry Foundry in Tallinn?", "mix"),
    ("What did Petra Vance sign?", "local"),
    ("Which cooperatives work in Osaka?", "global"),
    ("石天号与 Kamor Labs 的协议是什么", "hybrid"),
    ("Tell me about Solace Mills and Hollow Crane.", "naive"),
]


def _document(i: int) -> str:
    rnd = random.Random(i)
    subject = NAMES[i]
    others = rnd.sample([n for n in NAMES if n != subject], 6)
    lines = [
        f"{subject} {rnd.choice(VERBS)} {other} in {rnd.choice(CITIES)} since "
        f"{1990 + rnd.randint(0, 30)}. The partnership of {subject} and {other} covers "
        f"{rnd.choice(['tidal energy', 'river freight', 'cider presses', 'sensor arrays'])}."
        for other in others
    ]
    return " ".join(lines * 2)


@pytest.fixture
async def tenant(registry: Registry, tenant_for: TenantFor) -> LightRagTenant:
    opened = await registry.get(tenant_for())
    for i in range(len(NAMES)):
        await opened.insert_text(f"doc-{i}", f"{NAMES[i]}.txt", _document(i))
    await opened.insert_text("doc-cn", "shitian.txt", CHINESE)
    return opened


@contextmanager
def lightrags_own(tenant: LightRagTenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """LightRAG's steps, tiktoken tokenizer and vector reads, for the block."""
    rag = tenant.rag
    with monkeypatch.context() as patch:
        for (module, name), step in LIGHTRAG_STEPS.items():
            patch.setattr(module, name, step)
        patch.setattr(lightrag_utils, "cosine_similarity", LIGHTRAG_COSINE)
        patch.delattr(rag.chunks_vdb, "get_vectors_by_ids")  # the class's method again
        for name in BATCHES:
            patch.delattr(rag.chunk_entity_relation_graph, name)
        patch.delattr(rag.text_chunks, "get_by_ids")
        for config in (rag.text_chunks.global_config, tenant.query_config()):
            patch.setitem(config, "tokenizer", OfflineTokenizer())
        yield


async def _prompt(tenant: LightRagTenant, query: str, mode: QueryMode, budget: Any) -> Any:
    question = Question(query, mode=mode, top_k=40)
    limits = {}
    if budget is not None:
        limits = dict(
            zip(
                ("max_entity_tokens", "max_relation_tokens", "max_total_tokens"),
                budget,
                strict=True,
            )
        )
    param = answers._param(tenant, question, only_need_prompt=True, **limits)
    result = await answers._run(tenant, question, param)
    if result is None:
        return None
    data = result.raw_data["data"]
    return result.content, data, answers.references(list(data.get("chunks") or []))


async def test_prompts_and_references_equal_lightrags_own(
    tenant: LightRagTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    truncated = 0
    for query, mode in QUESTIONS:
        for budget in BUDGETS:
            ours = await _prompt(tenant, query, mode, budget)
            with lightrags_own(tenant, monkeypatch):
                theirs = await _prompt(tenant, query, mode, budget)
            assert ours == theirs, (query, mode, budget)
            if ours is not None and budget is not None:
                truncated += len(ours[1]["chunks"]) < 10 or len(ours[1]["entities"]) < 10
    assert truncated > 10  # the tight budgets did cut lists


async def test_our_steps_are_in_place_after_a_tenant_is_opened(tenant: LightRagTenant) -> None:
    for (module, name), step in LIGHTRAG_STEPS.items():
        assert getattr(module, name) is not step
    assert lightrag_utils.cosine_similarity is not LIGHTRAG_COSINE
    assert "get_vectors_by_ids" in vars(tenant.rag.chunks_vdb)


async def test_graph_batches_read_what_the_per_item_reads_read(tenant: LightRagTenant) -> None:
    graph = tenant.rag.chunk_entity_relation_graph
    inherited = {name: getattr(type(graph), name).__get__(graph) for name in BATCHES}
    nodes = [*await graph.get_all_labels(), "No Such Node"]
    pairs = [
        edge for edges in (await graph.get_nodes_edges_batch(nodes)).values() for edge in edges
    ]
    pairs += [("No Such Node", nodes[0]), (nodes[0], nodes[0])]
    assert len(pairs) > 50
    for name, args in [
        ("get_nodes_batch", nodes), ("node_degrees_batch", nodes),
        ("get_nodes_edges_batch", nodes), ("edge_degrees_batch", pairs),
        ("get_edges_batch", [{"src": s, "tgt": t} for s, t in pairs]),
    ]:  # fmt: skip
        assert await getattr(graph, name)(args) == await inherited[name](args), name


async def test_chunk_records_read_as_lightrag_reads_them_and_are_copies(
    tenant: LightRagTenant,
) -> None:
    chunks = tenant.rag.text_chunks
    ids = [*chunks._data.keys(), "no-such-chunk"]
    assert len(ids) > 10
    ours = await chunks.get_by_ids(ids)
    assert ours == await type(chunks).get_by_ids(chunks, ids)
    assert ours[-1] is None
    ours[0]["llm_cache_list"].append("changed")
    assert "changed" not in (await chunks.get_by_ids(ids[:1]))[0]["llm_cache_list"]


def test_json_copies_equal_deep_copies() -> None:
    value: Any = {"a": [1, 2.5, None, True, {"b": ["c"]}], "t": ("x", [1]), "s": "é"}
    copied = json_copy(value)
    assert copied == copy.deepcopy(value)
    assert copied["a"][4]["b"] is not value["a"][4]["b"]
    assert copied["t"][1] is not value["t"][1]  # not JSON: deepcopy's
