"""Many queries in flight at once behind a slow LLM: admitted within the bounds, refused past them.

    python -m benchmarks.inflight_bench [--queries 1000] [--tenants 50] [--latency 5]

``ragapi up`` is configured to admit ``--queries`` queries at once
(``RAGAPI_MAX_IN_FLIGHT``, ``RAGAPI_LLM_MAX_CONCURRENCY``); ``--tenants``
tenants hold one document each. Two bursts, each sent at once, every question
distinct: ``--queries`` queries (the bound: all should answer 200), then twice
that (past the bound: the surplus should be refused at once with 429/503 and
``Retry-After``). For each burst: status counts, latency quantiles of the
answers and of the refusals, the event-loop lag p99 read off the server's own
histogram (``ragapi_event_loop_lag_distribution_seconds``, the burst's samples
only), and the peak RSS of every ragapi process (Python and NATS/Redis),
sampled every 0.25 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from benchmarks import corpus
from benchmarks.harness import load_average, memory
from benchmarks.load import _quantile
from benchmarks.systems import Ragapi, fake_provider, ragapi

LAG = "ragapi_event_loop_lag_distribution_seconds_bucket"


async def lag_buckets(stack: Ragapi) -> dict[float, float]:
    """The lag histogram's cumulative bucket counts, by upper bound."""
    async with stack.session.get(stack.base + "/metrics") as response:
        text = await response.text()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(LAG + "{"):
            labels, value = line.rsplit(" ", 1)
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = float(value)
    return buckets


def lag_p99(before: dict[float, float], after: dict[float, float]) -> float | None:
    """The upper bound of the bucket holding the 99th percentile of the samples in between."""
    counts = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    total = counts[-1][1] if counts else 0.0
    if not total:
        return None
    return next(bound for bound, seen in counts if seen >= 0.99 * total)


async def peak_rss(proc: psutil.Process, stop: asyncio.Event) -> float:
    """Peak RSS (MB) of the server and every child until ``stop``."""
    peak = 0.0
    while not stop.is_set():
        sample = memory(proc)
        peak = max(peak, sample["tree_mb"] + sample["other_children_mb"])
        await asyncio.sleep(0.25)
    return peak


async def one(session: aiohttp.ClientSession, stack: Ragapi, head: dict[str, str],
              question: str, mode: str) -> tuple[int, float, str | None, str]:  # fmt: skip
    """One query: status, seconds, Retry-After, and for a non-200 the error's message."""
    started = time.perf_counter()
    body = {"query": question, "mode": mode}
    try:
        async with session.post(stack.base + "/v1/query", json=body, headers=head) as response:
            body_bytes = await response.read()
            took = time.perf_counter() - started
            reason = _no_references(body_bytes) if response.status == 200 else _message(body_bytes)
            return response.status, took, response.headers.get("retry-after"), reason
    except (aiohttp.ClientError, TimeoutError) as error:
        return -1, time.perf_counter() - started, None, type(error).__name__


def _no_references(body: bytes) -> str:
    """ "" for an answer with references, else a marker: LightRAG answers a question with
    no context without calling the LLM, which would flatter the latency figures."""
    try:
        return "" if json.loads(body).get("references") else "200 without references"
    except ValueError:
        return "200 not JSON"


def _message(body: bytes) -> str:
    """The contract's error message, digits masked so like refusals count together."""
    try:
        message = str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = body[:80].decode(errors="replace")
    return "".join("N" if c.isdigit() else c for c in message)[:100]


def _ms(values: list[float], q: float) -> float | None:
    return round(_quantile(sorted(values), q) * 1000, 1) if values else None


async def burst(stack: Ragapi, heads: list[dict[str, str]], n: int, mode: str,
                questions: list[Iterator[str]]) -> dict[str, Any]:  # fmt: skip
    """``n`` queries sent at once, spread over the tenants, each asking about the tenant's
    own document (so every answer has a context and calls the LLM); what came back."""
    before, stop = await lag_buckets(stack), asyncio.Event()
    sampler = asyncio.create_task(peak_rss(stack.proc, stop))
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                one(session, stack, heads[i % len(heads)], next(questions[i % len(heads)]), mode)
                for i in range(n)
            )
        )
        wall = time.perf_counter() - started
    stop.set()
    answered = [t for status, t, _, _ in results if status == 200]
    refused = [t for status, t, _, _ in results if status in (429, 503)]
    return {
        "sent": n,
        "wall_s": round(wall, 1),
        "status": dict(Counter(str(status) for status, _, _, _ in results)),
        "refusals_without_retry_after": sum(
            1 for status, _, ra, _ in results if status in (429, 503) and not ra
        ),
        "reasons": dict(Counter(reason for _, _, _, reason in results if reason)),
        "answered_p50_ms": _ms(answered, 50),
        "answered_p99_ms": _ms(answered, 99),
        "refused_p50_ms": _ms(refused, 50),
        "refused_max_ms": round(max(refused) * 1000, 1) if refused else None,
        "loop_lag_p99_s": lag_p99(before, await lag_buckets(stack)),
        "peak_rss_mb": round(await sampler, 1),
        "load_1m": load_average()[0],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="inflight-bench-"))
    docs = corpus.corpus(args.tenants)
    questions = [corpus.questions([doc]) for doc in docs]  # tenant i holds docs[i]
    env = {
        "RAGAPI_MAX_IN_FLIGHT": str(args.queries),
        "RAGAPI_LLM_MAX_CONCURRENCY": str(args.queries),
    }
    result: dict[str, Any] = {"args": vars(args)}
    try:
        with fake_provider(work, args.latency) as (url, _):
            async with ragapi(work, url, extra_env=env) as stack:
                heads = [await stack.create_tenant(f"inflight-{i}") for i in range(args.tenants)]
                await asyncio.gather(
                    *(stack.ingest(h, [d]) for h, d in zip(heads, docs, strict=True))
                )
                result["rss_before"] = memory(stack.proc)
                result["at_bound"] = await burst(stack, heads, args.queries, args.mode, questions)
                print(json.dumps({"at_bound": result["at_bound"]}), flush=True)
                twice = await burst(stack, heads, 2 * args.queries, args.mode, questions)
                result["twice_the_bound"] = twice
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000, help="the in-flight bound")
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--latency", type=float, default=5.0, help="s per fake LLM call")
    parser.add_argument("--mode", default="naive")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
