"""SIGTERM to ``ragapi serve ingest`` on the postgres profile while a large document indexes.

As a pod of the split deployment is stopped: the job goes back to JetStream,
the tenant's locks are let go, and the restarted service indexes the document
into exactly the rows a clean indexing of the same text makes.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from ragapi_common.rag.locks import KEY_PREFIX
from tests.conftest import TenantFactory
from tests.ingest.test_shutdown import (
    GRACE_S,
    MARGIN_S,
    SLOW_LLM_S,
    assert_quiet,
    cli,
    indexed,
    service_env,
    start_indexing,
)
from tests.postgres.test_postgres_profile import rows_of
from tests.support.fake_provider import CHAT, FakeProvider

pytestmark = pytest.mark.slow


async def test_sigterm_mid_document_then_restart_leaves_the_rows_of_a_clean_run(
    tmp_path: Path, nats_url: str, redis_url: str, redis: Redis, postgres_dsn: str,
    pg: asyncpg.Connection, tenant_factory: TenantFactory,
) -> None:  # fmt: skip
    cancelled, clean = await tenant_factory(), await tenant_factory()
    async with FakeProvider() as fake, httpx.AsyncClient(timeout=60) as client:
        fake.configure(latency_s=SLOW_LLM_S, paths=(CHAT,))
        env = service_env(
            fake, nats_url, redis_url, RAGAPI_DATA_DIR=str(tmp_path / "data"),
            RAGAPI_STORAGE_PROFILE="postgres", RAGAPI_POSTGRES_DSN=postgres_dsn,
        )  # fmt: skip
        async with cli(["serve", "ingest"], env, tmp_path / "ingest-1.log") as ingest:
            doc_id = await start_indexing(client, ingest.url, cancelled.api_key, fake)
            code, took, _ = await ingest.stop()
        assert code == 0
        assert took < GRACE_S + MARGIN_S, took
        assert_quiet(await ingest.output())
        assert await redis.get(f"{KEY_PREFIX}{cancelled.id}") is None  # no lock left held
        assert await redis.get(f"ragapi:ingest:{{{cancelled.id}}}:writer") is None

        fake.configure(latency_s=0.0)
        async with cli(["serve", "ingest"], env, tmp_path / "ingest-2.log") as ingest:
            doc = await indexed(client, ingest.url, cancelled.api_key, doc_id)
            clean_id = await start_indexing(client, ingest.url, clean.api_key, fake, wait=False)
            clean_doc = await indexed(client, ingest.url, clean.api_key, clean_id)
            code, _, _ = await ingest.stop()
        assert code == 0
    assert doc["status"] == clean_doc["status"] == "processed"
    rows = await rows_of(pg, cancelled.id)
    assert rows == await rows_of(pg, clean.id)
    assert rows["lightrag_doc_full"] == 1
