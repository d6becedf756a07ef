"""Tenants of different embedders (and dimensions) in one database; a changed one is refused."""

from __future__ import annotations

import asyncpg
import numpy as np
import pytest

from ragapi_common.errors import Conflict
from ragapi_common.rag._lightrag import EmbeddingFunc
from ragapi_common.rag.api import Question
from ragapi_common.rag.postgres import lightrag_env, table_safe
from ragapi_common.rag.registry import Registry
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ZORBLAX
from tests.support.fake_provider import FakeProvider


async def test_tenants_of_512_and_64_dimensions_coexist(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider, pg: asyncpg.Connection
) -> None:
    bundled = tenant_for()
    remote = tenant_for(embedding={"base_url": fake.base_url, "model": "fake-emb", "dim": 64})
    await (await registry.get(bundled)).insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await (await registry.get(remote)).insert_text("doc-f", "falcon.txt", FALCON)

    listed = await pg.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_name LIKE 'lightrag_vdb_chunks%'"
    )
    tables = {row["table_name"] for row in listed}
    assert {
        "lightrag_vdb_chunks_usem3_multilingual_v3_512d",
        "lightrag_vdb_chunks_openai_fake_emb_64d",
    } <= tables
    for context, query, doc_id in ((bundled, "Zorblax founder", "doc-z"),
                                   (remote, "Kelvin Falcon captain", "doc-f")):  # fmt: skip
        found = await (await registry.get(context)).retrieve(Question(query, mode="naive"))
        assert [ref.doc_id for ref in found.references] == [doc_id]


async def test_an_index_refuses_another_embedder_in_any_process(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    context = tenant_for()
    await (await registry.get(context)).insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await registry.close()  # the record is in PostgreSQL, not in this process
    remote = {"base_url": fake.base_url, "model": "fake-emb", "dim": 64}
    with pytest.raises(Conflict, match="usem3"):
        await registry.get(tenant_for(tenant_id=context.tenant_id, embedding=remote))


async def test_an_emptied_index_takes_the_new_embedder(
    registry: Registry, tenant_for: TenantFor, fake: FakeProvider
) -> None:
    context = tenant_for()
    tenant = await registry.get(context)
    await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
    await tenant.delete("doc-z")
    remote = {"base_url": fake.base_url, "model": "fake-emb", "dim": 64}
    changed = await registry.get(tenant_for(tenant_id=context.tenant_id, embedding=remote))
    await changed.insert_text("doc-f", "falcon.txt", FALCON)
    found = await changed.retrieve(Question("Kelvin Falcon captain", mode="naive"))
    assert [ref.doc_id for ref in found.references] == ["doc-f"]
    # And now the 64-d one is recorded: the bundled one is refused.
    with pytest.raises(Conflict, match="fake-emb"):
        await registry.get(tenant_for(tenant_id=context.tenant_id))


def test_long_model_names_get_table_names_postgresql_accepts() -> None:
    async def embed(texts: list[str]) -> np.ndarray:
        raise AssertionError("not called")

    long = EmbeddingFunc(
        embedding_dim=1024, func=embed,
        model_name="openai:sentence-transformers/paraphrase-multilingual-mpnet-base-v2",
    )  # fmt: skip
    other = EmbeddingFunc(
        embedding_dim=1024, func=embed,
        model_name="openai:sentence-transformers/paraphrase-multilingual-mpnet-base-v3",
    )  # fmt: skip
    names = [f"LIGHTRAG_VDB_RELATION_{table_safe(f).model_name}_1024d" for f in (long, other)]
    assert all(len(name) <= 63 for name in names)
    assert names[0] != names[1]
    short = EmbeddingFunc(embedding_dim=512, func=embed, model_name="usem3-multilingual-v3")
    assert table_safe(short) is short


def test_the_dsn_becomes_lightrags_environment() -> None:
    env = lightrag_env("postgresql://rag%40x:p%2Fw@db.example:6543/rag?sslmode=require", 7)
    assert env == {
        "POSTGRES_HOST": "db.example",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "rag@x",
        "POSTGRES_PASSWORD": "p/w",
        "POSTGRES_DATABASE": "rag",
        "POSTGRES_MAX_CONNECTIONS": "7",
        "POSTGRES_SSL_MODE": "require",
    }
    socket = lightrag_env("postgresql:///rag?host=/run/postgresql", 3)
    assert (socket["POSTGRES_HOST"], socket["POSTGRES_PORT"], socket["POSTGRES_PASSWORD"]) == (
        "/run/postgresql", "5432", ""
    )  # fmt: skip
