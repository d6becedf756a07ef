"""Query throughput: QPS and p50/p99 by mode, service CPU per query, RSS before/with 50 tenants.

Runs the real stack as an operator would: ``ragapi up`` (embedded NATS and
Redis) in its own process, the fake OpenAI-compatible provider in another one
with a fixed latency per LLM call, and the load generator here. A 200-document
corpus goes in through ``POST /v1/documents/text`` (the real ingest pipeline);
every question is distinct, so LightRAG's LLM cache never answers for the LLM.

    python -m benchmarks.query_bench [--latency 0.2] [--duration 15] [--modes naive,mix]

CPU ms per query is the ``ragapi up`` process's CPU time (user + system, its
NATS/Redis children excluded) over the queries answered in that window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil

from tests.support.servers import free_port, wait_port

ADMIN = "bench-admin-token"
MODES = ("naive", "local", "global", "hybrid", "mix")
_FIRST = ["Mira", "Tomas", "Aiko", "Jonas", "Leila", "Ravi", "Sofia", "Kwame", "Ines", "Oskar"]
_LAST = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Iyer", "Costa", "Mensah"]
_CITIES = ["Lisbon", "Osaka", "Tallinn", "Accra", "Quito", "Perth", "Bergen", "Pune"]
_FIELDS = ["tidal energy", "soil genomics", "glacier radar", "urban beekeeping", "fog harvesting"]


@dataclass
class Cell:
    mode: str
    clients: int
    queries: int
    errors: int
    qps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_query: float
    #: The same for the fake LLM and for this load generator, which share the box.
    provider_cpu_ms_per_query: float
    client_cpu_ms_per_query: float


def document(i: int) -> tuple[str, str]:
    """A short synthetic document about one fictional project (name, text)."""
    rnd = random.Random(i)
    lead = f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}"
    city, field = rnd.choice(_CITIES), rnd.choice(_FIELDS)
    name = f"project-kestrel-{i}.txt"
    text = (
        f"Project Kestrel-{i} is a research programme on {field} based in {city}. "
        f"It is led by {lead}, who founded it in {1990 + i % 30}. "
        f"Kestrel-{i} partners with the {city} Institute and publishes its data openly. "
        f"The budget of Kestrel-{i} is {100 + i} thousand euros per year, and its field "
        f"station sits {i % 50 + 3} kilometres outside {city}. "
    ) * 3
    return name, text


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


async def wait_ready(base: str, within_s: float = 120.0) -> None:
    deadline = time.monotonic() + within_s
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise TimeoutError(f"{base} never became ready")


async def create_tenant(client: httpx.AsyncClient, tenant_id: str) -> dict[str, str]:
    config = {
        "limits": {"queries_per_minute": 10_000_000},
        "llm": {"max_concurrency": 512, "requests_per_minute": 10_000_000},
    }
    response = await client.post(
        "/v1/tenants",
        json={"id": tenant_id, "name": tenant_id, "config": config},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['api_key']}"}


async def ingest(client: httpx.AsyncClient, headers: dict[str, str], docs: list[int]) -> None:
    """Upload the documents in batches and wait until every task has ended."""
    tasks = []
    for start in range(0, len(docs), 50):
        batch = [document(i) for i in docs[start : start + 50]]
        body = {"documents": [{"name": name, "text": text} for name, text in batch]}
        response = await client.post("/v1/documents/text", json=body, headers=headers)
        response.raise_for_status()
        tasks.append(response.json()["task_id"])
    for task_id in tasks:
        while True:
            answer = await client.get(f"/v1/tasks/{task_id}", headers=headers)
            task = answer.json() if answer.status_code == 200 else {}
            if task.get("status") in ("succeeded", "failed", "partial"):
                if task["status"] != "succeeded":
                    raise RuntimeError(f"ingest task ended {task['status']}: {task}")
                break
            await asyncio.sleep(0.5)


def python_cpu(server: psutil.Process) -> float:
    """User + system seconds of ``server`` and its Python descendants."""
    total = 0.0
    for proc in [server, *server.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            if proc is server or "python" in proc.name():
                total += sum(proc.cpu_times()[:2])
    return total


async def measured_ingest(
    client: httpx.AsyncClient, headers: dict[str, str], server: psutil.Process, docs: int
) -> dict[str, float]:
    """Ingest the corpus; seconds, docs/s, CPU-s per document and RSS of ``ragapi up``.

    CPU counts the process and its Python children (the OCR pool), not NATS or Redis.
    """
    cpu_before, calls_before = python_cpu(server), await model_calls(client)
    started = time.perf_counter()
    await ingest(client, headers, list(range(docs)))
    seconds = time.perf_counter() - started
    cpu = python_cpu(server) - cpu_before
    calls = {k: v - calls_before.get(k, 0.0) for k, v in (await model_calls(client)).items()}
    return {
        "seconds": round(seconds, 1),
        "docs_per_s": round(docs / seconds, 2),
        "cpu_s_per_doc": round(cpu / docs, 3),
        "rss_mb": round(server.memory_info().rss / 2**20, 1),
        **{f"{kind}_calls_per_doc": round(n / docs, 2) for kind, n in sorted(calls.items())},
    }


async def model_calls(client: httpx.AsyncClient) -> dict[str, float]:
    """``ragapi_model_calls_total`` by kind (all outcomes), from the gateway's /metrics."""
    text = (await client.get("/metrics")).text
    calls: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("ragapi_model_calls_total{"):
            labels, value = line.rsplit(" ", 1)
            kind = labels.split('kind="', 1)[1].split('"', 1)[0]
            calls[kind] = calls.get(kind, 0.0) + float(value)
    return calls


@dataclass(frozen=True)
class Processes:
    """The processes whose CPU a load cell reports: server, fake provider, this one."""

    server: psutil.Process
    provider: psutil.Process
    client: psutil.Process

    def cpu(self) -> list[float]:
        return [sum(p.cpu_times()[:2]) for p in (self.server, self.provider, self.client)]


async def load(
    base: str,
    headers: dict[str, str],
    mode: str,
    clients: int,
    duration: float,
    procs: Processes,
    corpus: int,
) -> Cell:
    """``clients`` workers asking distinct questions back to back for ``duration`` s.

    The load comes from aiohttp, whose client costs a fraction of httpx's per
    request: on two cores the generator competes with the server for CPU.
    """
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    stop_at = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=180)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            n = next(counter)
            body = {"query": f"Who leads Project Kestrel-{n % corpus}? (q{n}-{mode})", "mode": mode}
            started = time.perf_counter()
            try:
                async with session.post(f"{base}/v1/query", json=body, headers=headers) as r:
                    await r.read()
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        before = procs.cpu()
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(clients)))
        elapsed = time.perf_counter() - started
        server, provider, client = (b - a for a, b in zip(before, procs.cpu(), strict=True))
    done = len(latencies)
    quantiles = statistics.quantiles(latencies, n=100) if done >= 2 else [0.0] * 99
    per_query = 1000 / max(1, done + errors)
    return Cell(
        mode=mode,
        clients=clients,
        queries=done,
        errors=errors,
        qps=round(done / elapsed, 1),
        p50_ms=round(quantiles[49] * 1000, 1),
        p99_ms=round(quantiles[98] * 1000, 1),
        cpu_ms_per_query=round(server * per_query, 2),
        provider_cpu_ms_per_query=round(provider * per_query, 2),
        client_cpu_ms_per_query=round(client * per_query, 2),
    )


def memory(server: psutil.Process) -> dict[str, float]:
    """RSS in MB: ``ragapi up`` itself, with its Python children (OCR pool), and NATS + Redis.

    The embedded nats-server and redis-server are children too, reported apart:
    they are not our Python's memory. Shared pages count once per process (RSS).
    """
    main, python, servers = server.memory_info().rss, 0, 0
    for child in server.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            rss = child.memory_info().rss
            if "python" in child.name():
                python += rss
            else:
                servers += rss
    mb = 2**20
    return {
        "main_mb": round(main / mb, 1),
        "tree_mb": round((main + python) / mb, 1),
        "nats_redis_mb": round(servers / mb, 1),
    }


async def tenants_rss(
    client: httpx.AsyncClient, first: dict[str, str], server: psutil.Process, count: int
) -> dict[str, Any]:
    """Load ``count`` tenants (one small document each, one query each); memory before and after."""
    before = memory(server)
    heads = [first] + [await create_tenant(client, f"bench-t{i}") for i in range(1, count)]
    for head in heads[1:]:  # one key lookup at a time: the tenants service serves them serially
        for attempt in range(3):  # a keep-alive connection the server closed while idle
            try:
                (await client.get("/v1/documents?limit=1", headers=head)).raise_for_status()
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
    await asyncio.gather(*(ingest(client, h, [1000 + i]) for i, h in enumerate(heads[1:])))
    for head in heads:
        response = await client.post(
            "/v1/query", json={"query": "Who leads it?", "mode": "naive"}, headers=head
        )
        response.raise_for_status()
    return {"before_tenants": before, "with_tenants": memory(server)}


def stack_env(fake_port: int, nats_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGAPI_")}
    env.update(
        RAGAPI_ADMIN_TOKEN=ADMIN,
        RAGAPI_SECRET_KEY="bench-secret-key",  # noqa: S106 - a throwaway stack
        RAGAPI_LLM_BASE_URL=f"http://127.0.0.1:{fake_port}/v1",
        RAGAPI_LLM_MODEL="fake-llm",
        RAGAPI_LLM_API_KEY="sk-fake",
        RAGAPI_LLM_MAX_CONCURRENCY="512",
        RAGAPI_LOG_LEVEL="WARNING",
        RAGAPI_QUERIES_PER_MINUTE="10000000",
    )
    return env


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="query-bench-"))
    fake_port, port = free_port(), free_port()
    env = stack_env(fake_port, work)
    base = f"http://127.0.0.1:{port}"
    ragapi = shutil.which("ragapi", path=str(Path(sys.executable).parent)) or "ragapi"
    fake_cmd = [sys.executable, "-m", "tests.support.fake_provider"]
    fake_cmd += ["--port", str(fake_port), "--latency", str(args.latency)]
    up_cmd = [ragapi, "up", "--port", str(port), "--data-dir", str(work / "data")]
    try:
        with (
            process(fake_cmd, env, work / "fake.log") as fake,
            process(up_cmd, env, work / "up.log") as up,
        ):
            wait_port(fake_port)
            await wait_ready(base)
            server = psutil.Process(up.pid)
            at_start = memory(server)
            procs = Processes(server, psutil.Process(fake.pid), psutil.Process())
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
            async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
                head = await create_tenant(client, "bench")
                ingested = await measured_ingest(client, head, server, args.docs)
                print(json.dumps({"ingest": ingested}), flush=True)
                cells = []
                for mode in [] if args.ingest_only else args.modes:
                    for clients in args.clients:
                        cell = await load(
                            base, head, mode, clients, args.duration, procs, args.docs
                        )
                        print(json.dumps(asdict(cell)), flush=True)
                        cells.append(cell)
                rss: dict[str, Any] = {"at_start": at_start}
                if not args.ingest_only:
                    rss |= await tenants_rss(client, head, server, args.tenants)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "llm_latency_s": args.latency,
        "documents": args.docs,
        "ingest_s": ingested["seconds"],
        "ingest": ingested,
        "cells": [asdict(cell) for cell in cells],
        "rss_mb_with_tenants": rss.get("with_tenants", {}).get("main_mb", 0.0),
        "memory": rss,
        "tenants": args.tenants,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--modes", type=lambda s: s.split(","), default=list(MODES))
    parser.add_argument(
        "--clients", type=lambda s: [int(c) for c in s.split(",")], default=[32, 128]
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--ingest-only", action="store_true", help="stop after the corpus is in")
    result = asyncio.run(run(parser.parse_args()))
    print(json.dumps(result, indent=2))
    for cell in result["cells"]:
        print(
            f"{cell['mode']:>7} x{cell['clients']:<4} {cell['qps']:>7.1f} QPS  "
            f"p50 {cell['p50_ms']:>7.1f} ms  p99 {cell['p99_ms']:>7.1f} ms  "
            f"cpu {cell['cpu_ms_per_query']:>6.2f} ms/q  errors {cell['errors']}"
        )
    for when, mb in result["memory"].items():
        print(
            f"RSS {when.replace('_', ' ')} ({result['tenants']}): main {mb['main_mb']} MB, "
            f"with Python children {mb['tree_mb']} MB, NATS + Redis {mb['nats_redis_mb']} MB"
        )


if __name__ == "__main__":
    main()
