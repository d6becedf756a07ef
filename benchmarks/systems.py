"""The fake provider and ragapi as the benchmarks run them: real processes, real HTTP.

The fake OpenAI-compatible provider (``tests/support/fake_provider.py``, served
by :mod:`benchmarks.fake_llm`) answers chat with a fixed latency and
embeddings (``EMBEDDING_DIM`` dimensions) with their own, 0 by default.
``ragapi up`` is configured as an operator would: the provider is the
deployment's LLM *and* embedding endpoint (so query embeddings cost an HTTP
round trip, as with any hosted embedder), LLM concurrency ``LLM_CONCURRENCY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from benchmarks.corpus import Document
from benchmarks.harness import Cpu, free_port, memory, process, wait_http, wait_port
from benchmarks.load import Target

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "bench-admin-token"
EMBEDDING_DIM = 384
LLM_CONCURRENCY = 128
BATCH = 50


@contextlib.contextmanager
def fake_provider(
    work: Path, latency: float, embedding_latency: float = 0.0
) -> Iterator[tuple[str, psutil.Process]]:
    """The fake provider (:mod:`benchmarks.fake_llm`) on a free port: its ``/v1`` URL, process."""
    port = free_port()
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    cmd = [sys.executable, "-m", "benchmarks.fake_llm", "--port", str(port), "--dim"]
    cmd += [str(EMBEDDING_DIM), "--latency", str(latency), "--embedding-latency"]
    cmd += [str(embedding_latency)]
    with process(cmd, env, work / "fake.log", cwd=ROOT) as proc:
        wait_port(port)
        yield f"http://127.0.0.1:{port}/v1", psutil.Process(proc.pid)


def ragapi_env(provider: str, embeddings: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGAPI_")}
    env.update(
        RAGAPI_ADMIN_TOKEN=ADMIN,
        RAGAPI_SECRET_KEY="bench-secret-key",  # noqa: S106 - a throwaway stack
        RAGAPI_LLM_BASE_URL=provider,
        RAGAPI_LLM_MODEL="fake-llm",
        RAGAPI_LLM_API_KEY="sk-fake",
        RAGAPI_LLM_MAX_CONCURRENCY=str(LLM_CONCURRENCY),
        RAGAPI_LOG_LEVEL="WARNING",
        RAGAPI_QUERIES_PER_MINUTE="10000000",
    )
    if embeddings:
        env.update(
            RAGAPI_EMBEDDING_BASE_URL=provider,
            RAGAPI_EMBEDDING_MODEL="fake-embedding",
            RAGAPI_EMBEDDING_API_KEY="sk-fake",
            RAGAPI_EMBEDDING_DIM=str(EMBEDDING_DIM),
        )
    return env


@dataclass
class Ragapi:
    """A running ``ragapi up`` and an HTTP session to it."""

    base: str
    proc: psutil.Process
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None,
                   json: Any = None, ok: Sequence[int] = (200, 201, 202)) -> Any:  # fmt: skip
        for attempt in range(3):  # a keep-alive connection the server closed while idle
            try:
                async with self.session.request(
                    method, self.base + path, headers=headers, json=json
                ) as response:
                    body = await response.json(content_type=None)
                    if response.status not in ok:
                        raise RuntimeError(f"{method} {path}: {response.status} {body}")
                    return body
            except aiohttp.ServerDisconnectedError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def create_tenant(self, tenant_id: str) -> dict[str, str]:
        config = {
            "limits": {"queries_per_minute": 10_000_000},
            "llm": {"max_concurrency": LLM_CONCURRENCY, "requests_per_minute": 10_000_000},
        }
        body = {"id": tenant_id, "name": tenant_id, "config": config}
        admin = {"authorization": f"Bearer {ADMIN}"}
        created = await self.call("POST", "/v1/tenants", admin, body)
        return {"authorization": f"Bearer {created['api_key']}"}

    async def ingest(self, headers: dict[str, str], docs: Sequence[Document]) -> None:
        """Upload in batches of ``BATCH`` and wait until every task has ended, succeeded."""
        tasks = []
        for start in range(0, len(docs), BATCH):
            batch = [{"name": d.name, "text": d.text} for d in docs[start : start + BATCH]]
            answer = await self.call("POST", "/v1/documents/text", headers, {"documents": batch})
            tasks.append(answer["task_id"])
        for task_id in tasks:
            while True:
                task = await self.call("GET", f"/v1/tasks/{task_id}", headers, ok=(200, 404))
                status = task.get("status")
                if status in ("failed", "partial"):
                    raise RuntimeError(f"ingest task ended {status}: {task}")
                if status == "succeeded":
                    break
                await asyncio.sleep(0.5)

    async def model_calls(self) -> dict[str, float]:
        """``ragapi_model_calls_total`` by kind (all outcomes), from /metrics."""
        async with self.session.get(self.base + "/metrics") as response:
            text = await response.text()
        calls: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("ragapi_model_calls_total{"):
                labels, value = line.rsplit(" ", 1)
                kind = labels.split('kind="', 1)[1].split('"', 1)[0]
                calls[kind] = calls.get(kind, 0.0) + float(value)
        return calls

    def target(self, headers: dict[str, str]) -> Target:
        return Target(self.base + "/v1/query", lambda q, mode: {"query": q, "mode": mode}, headers)

    def cpu(self) -> Cpu:
        """``server``: ragapi's Python processes; ``server_tree``: with NATS and Redis."""
        cpu = Cpu()
        cpu.add("server", self.proc, "python")
        cpu.add("server_tree", self.proc, "tree")
        return cpu


@contextlib.asynccontextmanager
async def ragapi(
    work: Path,
    provider: str,
    embeddings: bool = True,
    extra_env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> AsyncIterator[Ragapi]:
    """``ragapi up ARGS`` on a free port with a fresh data dir under ``work`` (``extra_env`` on
    top)."""
    port = free_port()
    exe = shutil.which("ragapi", path=str(Path(sys.executable).parent)) or "ragapi"
    cmd = [exe, "up", "--port", str(port), "--data-dir", str(work / "ragapi-data"), *args]
    base = f"http://127.0.0.1:{port}"
    env = ragapi_env(provider, embeddings) | (extra_env or {})
    with process(cmd, env, work / "ragapi.log") as proc:
        await wait_http(base + "/readyz", proc=proc)
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=180)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            yield Ragapi(base, psutil.Process(proc.pid), session)


async def measured_ingest(
    system: Any, headers: Any, docs: Sequence[Document], proc: psutil.Process
) -> dict[str, float]:
    """Ingest ``docs`` through ``system.ingest``: seconds, docs/s, CPU-s per document, RSS.

    CPU: the server's Python processes (``cpu_s_per_doc``) and its whole tree
    (``tree_cpu_s_per_doc``: with ragapi's embedded NATS and Redis).
    """
    cpu = Cpu()
    cpu.add("python", proc, "python")
    cpu.add("tree", proc, "tree")
    before = cpu.read()
    started = time.perf_counter()
    await system.ingest(headers, docs)
    seconds = time.perf_counter() - started
    after = cpu.read()
    n = len(docs)
    return {
        "documents": n,
        "seconds": round(seconds, 1),
        "docs_per_s": round(n / seconds, 2),
        "cpu_s_per_doc": round((after["python"] - before["python"]) / n, 3),
        "tree_cpu_s_per_doc": round((after["tree"] - before["tree"]) / n, 3),
        "rss_mb": memory(proc)["main_mb"],
    }
