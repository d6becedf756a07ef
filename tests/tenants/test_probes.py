"""Probes and metrics every service serves, seen on the tenants service."""

from __future__ import annotations

import asyncio
import re
import time

import httpx


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing"
    return float(match.group(1))


async def test_healthz_and_readyz(tenants_client: httpx.AsyncClient) -> None:
    assert (await tenants_client.get("/healthz")).json()["status"] == "ok"
    ready = await tenants_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"nats": {"ok": True}, "redis": {"ok": True}}


async def test_metrics_show_http_latency_and_moving_loop_lag(
    tenants_client: httpx.AsyncClient,
) -> None:
    await tenants_client.get("/v1/tenants")
    first = (await tenants_client.get("/metrics")).text
    assert 'route="/v1/tenants"' in first
    assert 'ragapi_pool_connections{pool="redis"}' in first
    count_before = sample(first, "ragapi_event_loop_lag_distribution_seconds_count")
    # Block the loop on purpose so the monitor has a lag to see.
    await asyncio.sleep(0.3)
    time.sleep(0.6)  # noqa: ASYNC251 - longer than the monitor interval, so it must see it
    await asyncio.sleep(0.3)
    second = (await tenants_client.get("/metrics")).text
    assert sample(second, "ragapi_event_loop_lag_distribution_seconds_count") > count_before
    assert sample(second, "ragapi_event_loop_lag_distribution_seconds_sum") >= 0.3
