"""Ingest: upload MB/s and peak RSS for a large upload; documents/min indexed with a slow LLM.

    .venv/bin/python -m benchmarks.ingest_bench [--size-mb 100] [--docs 60] [--latency 0.2]
        [--code DIR ...] [--profile DIR]

Starts its own NATS and Redis (from the wheels), the fake OpenAI-compatible
provider as a separate process (``--latency`` seconds per call), and
``ragapi up`` as a child process; the client runs here. Prints one JSON object:

- ``upload``: MB/s of one ``--size-mb`` file streamed as multipart (generated on
  the fly, never held whole), and the server process's RSS before and at its
  peak during the upload (sampled every 20 ms);
- ``index``: documents/min and server CPU-s per document for ``--docs``
  documents of the dense corpus (``benchmarks/corpus.py``) in one request,
  for one tenant and for four tenants at once; RSS after.

``--size-mb 0`` skips the upload. ``--code DIR`` (repeatable) runs the whole
benchmark once per source tree, the server importing that tree's packages
(``--code /work/main --code .``: before and after, same run, same box), with
one result per tree. ``--profile DIR`` records each server with py-spy
(``DIR/<n>-<tree>.txt``, collapsed stacks) and adds its top frames by own
samples to the result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks import corpus
from benchmarks.pyspy import top_frames
from benchmarks.systems import EMBEDDING_DIM, LLM_CONCURRENCY
from tests.support.servers import free_port, nats_server, redis_server

#: The packages of a source tree (what ``env.sh`` puts on PYTHONPATH).
PACKAGE_DIRS = (
    "libs/common", "libs/cli", "services/tenants", "services/ingest",
    "services/ocr", "services/query", "",
)  # fmt: skip

ADMIN = "bench-admin-token"
BOUNDARY = "ragapi-bench-boundary"
MB = 1024 * 1024


@contextlib.contextmanager
def child(
    args: list[str], env: dict[str, str], log: Path, *, wrapped: bool = False
) -> Iterator[psutil.Process]:
    """A child process (stderr to ``log``), SIGTERMed at the end.

    ``wrapped`` (py-spy): its own children get the signal, so that it writes its profile.
    """
    with log.open("ab") as sink:
        proc = psutil.Popen(args, env=env, stdout=sink, stderr=sink)
    try:
        yield proc
    finally:
        for target in proc.children() if wrapped else [proc]:
            target.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except psutil.TimeoutExpired:
            proc.kill()


async def wait_ready(url: str, path: str = "/readyz") -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(1200):
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(path)).status_code < 500:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never became ready")


async def multipart(size: int) -> AsyncIterator[bytes]:
    """One ``files`` part of ``size`` bytes (a PDF header, then filler), in 1 MB pieces."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    block = b"%PDF-1.7\n" + os.urandom(MB - 9)
    sent = 0
    while sent < size:
        piece = block[: min(MB, size - sent)]
        sent += len(piece)
        yield piece
        block = os.urandom(MB)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def sample_rss(proc: psutil.Process, stop: asyncio.Event) -> int:
    peak = 0
    while not stop.is_set():
        peak = max(peak, proc.memory_info().rss)
        await asyncio.sleep(0.02)
    return peak


async def tenant(client: httpx.AsyncClient, tenant_id: str) -> dict[str, str]:
    body = {"id": tenant_id, "name": tenant_id, "config": {"limits": {"max_upload_bytes": 2**31}}}
    answer = await client.post(
        "/v1/tenants", json=body, headers={"authorization": f"Bearer {ADMIN}"}
    )
    answer.raise_for_status()
    return {"authorization": f"Bearer {answer.json()['api_key']}"}


async def bench_upload(
    client: httpx.AsyncClient, proc: psutil.Process, size: int
) -> dict[str, Any]:
    headers = {
        **(await tenant(client, "upload-bench")),
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    baseline = proc.memory_info().rss
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(proc, stop))
    started = time.perf_counter()
    answer = await client.post("/v1/documents", content=multipart(size), headers=headers)
    elapsed = time.perf_counter() - started
    stop.set()
    peak = await sampler
    assert answer.status_code == 202, answer.text
    return {
        "size_mb": size / MB,
        "seconds": round(elapsed, 2),
        "mb_per_s": round(size / MB / elapsed, 1),
        "rss_before_mb": round(baseline / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
        "rss_growth_mb": round((peak - baseline) / MB, 1),
    }


def texts(prefix: str, count: int) -> dict[str, Any]:
    """``count`` documents of the dense corpus (benchmarks/corpus.py), seeded by ``prefix``."""
    seed = sum(map(ord, prefix))
    docs = corpus.corpus(count, seed=seed)
    return {"documents": [{"name": f"{prefix}-{d.name}", "text": d.text} for d in docs]}


async def index_batch(client: httpx.AsyncClient, name: str, count: int) -> float:
    headers = await tenant(client, name)
    answer = await client.post("/v1/documents/text", json=texts(name, count), headers=headers)
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    started = time.perf_counter()
    while True:
        task = (await client.get(f"/v1/tasks/{task_id}", headers=headers)).json()
        if task["status"] in ("succeeded", "failed", "partial"):
            assert task["status"] == "succeeded", task
            return time.perf_counter() - started
        # Each poll reads every document's record: every 0.2 s cost the server ~15% of its CPU.
        await asyncio.sleep(0.5)


def cpu_s(proc: psutil.Process) -> float:
    """User + system seconds of the server process (its NATS/Redis children excluded)."""
    return float(sum(proc.cpu_times()[:2]))


async def bench_index(
    client: httpx.AsyncClient, proc: psutil.Process, docs: int, *, four: bool = True
) -> dict[str, Any]:
    cpu = cpu_s(proc)
    alone = await index_batch(client, "solo", docs)
    cpu_alone, cpu = cpu_s(proc) - cpu, cpu_s(proc)
    one = {
        "docs": docs,
        "one_tenant_seconds": round(alone, 1),
        "one_tenant_docs_per_min": round(docs / alone * 60, 1),
        "one_tenant_cpu_s_per_doc": round(cpu_alone / docs, 3),
    }
    if not four:
        return one | {"rss_mb": round(proc.memory_info().rss / MB, 1)}
    started = time.perf_counter()
    await asyncio.gather(*(index_batch(client, f"many{n}", docs // 4) for n in range(4)))
    together = time.perf_counter() - started
    cpu_together = cpu_s(proc) - cpu
    return one | {
        "four_tenants_seconds": round(together, 1),
        "four_tenants_docs_per_min": round((docs // 4) * 4 / together * 60, 1),
        "four_tenants_cpu_s_per_doc": round(cpu_together / ((docs // 4) * 4), 3),
        "rss_mb": round(proc.memory_info().rss / MB, 1),
    }


def code_env(code: Path | None) -> dict[str, str]:
    """This process's environment, without RAGAPI_*, importing ``code``'s packages if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGAPI_")}
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(code / d) for d in PACKAGE_DIRS)
    return env


def server_args(port: int, work: Path, profile: Path | None) -> list[str]:
    up = [sys.executable, "-m", "ragapi_cli", "up", "--port", str(port)]
    up += ["--data-dir", str(work / "data")]
    if profile is None:
        return up
    spy = str(Path(sys.executable).with_name("py-spy"))
    return [spy, "record", "--format", "raw", "--rate", "50", "-o", str(profile), "--", *up]


async def server(proc: psutil.Process, profiled: bool) -> psutil.Process:
    """The ragapi process itself (py-spy's child when profiled)."""
    if not profiled:
        return proc
    for _ in range(600):
        children = proc.children()
        if children:
            return children[0]
        await asyncio.sleep(0.05)
    raise RuntimeError("py-spy never started the server")


async def run(
    args: argparse.Namespace, work: Path, nats_url: str, redis_url: str,
    code: Path | None = None, profile: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    fake_port, port = free_port(), free_port()
    env = code_env(code) | dict(item.split("=", 1) for item in args.server_env)
    fake_args = [sys.executable, "-m", "benchmarks.fake_llm", "--port", str(fake_port)]
    fake_args += ["--latency", str(args.latency), "--dim", str(EMBEDDING_DIM)]
    fake_url = f"http://127.0.0.1:{fake_port}/v1"
    env |= {
        "RAGAPI_NATS_URL": nats_url,
        "RAGAPI_REDIS_URL": redis_url,
        "RAGAPI_ADMIN_TOKEN": ADMIN,
        "RAGAPI_LLM_BASE_URL": fake_url,
        "RAGAPI_LLM_MODEL": "fake-llm",
        "RAGAPI_EMBEDDING_BASE_URL": fake_url,
        "RAGAPI_EMBEDDING_MODEL": "fake-embedding",
        "RAGAPI_EMBEDDING_DIM": str(EMBEDDING_DIM),
        "RAGAPI_LLM_MAX_CONCURRENCY": str(LLM_CONCURRENCY),
    }
    with (
        child(fake_args, env, work / "fake.log"),
        child(
            server_args(port, work, profile), env, work / "up.log", wrapped=profile is not None
        ) as launched,
    ):
        up = await server(launched, profile is not None)
        url = f"http://127.0.0.1:{port}"
        await wait_ready(fake_url.removesuffix("/v1"), "/v1/models")
        await wait_ready(url)
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            upload = await bench_upload(client, up, args.size_mb * MB) if args.size_mb else None
            index = await bench_index(client, up, args.docs, four=not args.one_tenant)
    result = {"upload": upload, "index": index, "fake_llm_latency_s": args.latency}
    if code is not None:
        result["code"] = str(code)
    result["load_average"] = [round(load, 2) for load in os.getloadavg()]
    return result


def run_one(args: argparse.Namespace, n: int, code: Path | None) -> dict[str, Any]:
    """One server's benchmark with NATS, Redis and a data directory of its own."""
    profile = None
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        profile = args.profile / f"{n}-{code.name if code else 'env'}.txt"
    with tempfile.TemporaryDirectory(prefix="ragapi-ingest-bench-") as name:
        work = Path(name)
        (work / "nats").mkdir()
        (work / "redis").mkdir()
        with nats_server(work / "nats") as nats_url, redis_server(work / "redis") as redis_url:
            result = asyncio.run(run(args, work, nats_url, redis_url, code, profile))
    if profile is not None and profile.exists():
        result["top_frames"] = top_frames(profile)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--code", type=Path, action="append", default=[])
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--server-env", action="append", default=[], metavar="RAGAPI_X=V")
    parser.add_argument("--one-tenant", action="store_true", help="skip the four tenants")
    args = parser.parse_args()
    codes: list[Path | None] = [code.resolve() for code in args.code] or [None]
    results = []
    for n, code in enumerate(codes):
        results.append(run_one(args, n, code))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # kept if a later one fails
    print(json.dumps(results[0] if len(results) == 1 else results, indent=2))


if __name__ == "__main__":
    main()
