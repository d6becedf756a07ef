"""The deployment's PostgreSQL pools against the server's max_connections, and PgBouncer."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import asyncpg
import pytest

from ragapi_common.rag.api import Question
from ragapi_common.rag.build import Models
from ragapi_common.rag.pg_budget import Budget, Planned
from ragapi_common.rag.registry import Registry
from ragapi_common.settings import CommonSettings
from tests.postgres.pgbouncer import SERVER_POOL, binary, pgbouncer
from tests.rag.conftest import TenantFor
from tests.rag.corpus import FALCON, ZORBLAX


def test_the_formula_and_its_message() -> None:
    budget = Budget(Planned(processes=18, pool=20, reserve=10), 200, server_reserved=3)
    assert (budget.needed, budget.available, budget.fits, budget.largest_pool) == (
        360, 187, False, 10,
    )  # fmt: skip
    assert "18 processes x 20 connections = 360" in budget.explain()
    assert "RAGAPI_POSTGRES_MAX_CONNECTIONS <= 10" in budget.explain()
    assert Budget(Planned(18, 10, 10), 200, 3).fits


@pytest.mark.parametrize(("processes", "warned"), [(1, False), (50, True)])
async def test_opening_the_pool_warns_with_numbers_when_the_pools_cannot_fit(
    settings: CommonSettings, models: Models, tenant_for: TenantFor,
    caplog: pytest.LogCaptureFixture, pg: asyncpg.Connection, processes: int, warned: bool,
) -> None:  # fmt: skip
    server_max = int(await pg.fetchval("SHOW max_connections"))
    planned = settings.model_copy(update={"postgres_processes": processes})
    registry = Registry(planned, models)
    try:
        with caplog.at_level(logging.WARNING, logger="ragapi_common.rag.pg_budget"):
            await registry.get(tenant_for())
    finally:
        await registry.close()
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("pg_budget")]
    if not warned:
        assert warnings == []
        return
    [message] = warnings
    assert f"{processes} processes x 20 connections = {processes * 20}" in message
    assert f"max_connections {server_max}" in message


@pytest.fixture
def bouncer_dsn(postgres_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if binary() is None:  # a test that cannot run fails: make test installs it
        pytest.fail("no pgbouncer: run scripts/install-system-packages.sh (make test does)")
    # Transaction mode hands each transaction any server connection: asyncpg must not
    # keep named prepared statements (LightRAG passes this to its pool).
    monkeypatch.setenv("POSTGRES_STATEMENT_CACHE_SIZE", "0")
    with pgbouncer(postgres_dsn) as dsn:
        yield dsn


async def test_index_query_and_delete_through_pgbouncer_in_transaction_mode(
    settings: CommonSettings, models: Models, tenant_for: TenantFor, bouncer_dsn: str,
    pg: asyncpg.Connection,
) -> None:  # fmt: skip
    # Many more client connections than PgBouncer's server pool.
    through = settings.model_copy(
        update={"postgres_dsn": bouncer_dsn, "postgres_max_connections": SERVER_POOL * 4}
    )
    registry = Registry(through, models)
    try:
        tenant = await registry.get(tenant_for())
        await tenant.insert_text("doc-z", "zorblax.txt", ZORBLAX)
        await tenant.insert_text("doc-f", "falcon.txt", FALCON)
        for mode in ("naive", "mix"):
            found = await tenant.retrieve(Question("Who founded Zorblax Industries?", mode=mode))
            assert found.references[0].doc_id == "doc-z"
        answer = await tenant.answer(Question("Who steers the Kelvin Falcon?", mode="mix"))
        assert answer.references
        await tenant.delete("doc-f")
        found = await tenant.retrieve(Question("Who steers the Kelvin Falcon?", mode="naive"))
        assert "doc-f" not in {r.doc_id for r in found.references}
        # The rows are on the server behind PgBouncer.
        count = await pg.fetchval(
            "SELECT count(*) FROM lightrag_doc_status WHERE workspace = $1", tenant.tenant_id
        )
        assert count == 1
    finally:
        await registry.close()
