"""ragapi against LightRAG Server 1.5.7, same corpus, same fake provider, same run.

    python -m benchmarks.compare [--docs 200] [--duration 20] [--clients 1,32,128]
    make bench-compare

One fake OpenAI-compatible provider (0.2 s per call, 384-d embeddings over
HTTP) serves both systems. Each system ingests the dense corpus of
:mod:`benchmarks.corpus` (seconds, CPU-s per document, RSS), then answers
naive and mix questions from closed-loop clients at each concurrency (QPS,
p50/p95/p99, server CPU ms per query). LightRAG Server runs twice on the same
index: with its LLM cache on (its default) and off. Every question of the
whole run is distinct, so no cache ever answers one; "cache on" costs the
cache writes. ragapi runs as ``ragapi up``; its CPU is reported without and
with its embedded NATS and Redis (LightRAG Server has neither).

Writes ``<out>.json``, ``<out>.md`` (the tables) and ``<out>.png`` (QPS and
p99 against concurrency); ``--out`` defaults to ``benchmarks/results/compare``.
The first run installs LightRAG Server into ``.bench/lightrag-venv`` from PyPI.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from benchmarks import corpus, report
from benchmarks.harness import Cpu, load_average, memory
from benchmarks.lightrag_server import DEFAULT_VENV, VERSION, ensure_venv, lightrag
from benchmarks.load import Target, closed_loop, measure, warm_up
from benchmarks.systems import LLM_CONCURRENCY, ROOT, fake_provider, measured_ingest, ragapi

#: The fake provider's base URL and process.
Provider = tuple[str, psutil.Process]
Args = argparse.Namespace


async def query_cells(system: str, target: Target, cpu: Cpu, questions: Iterator[str],
                      args: argparse.Namespace) -> list[dict[str, Any]]:  # fmt: skip
    cells = []
    for mode in args.modes:
        await warm_up(target, mode, questions)
        for clients in args.clients:
            run = functools.partial(closed_loop, target, mode, clients, questions)
            cell = await measure(
                cpu, run, args.settle, args.duration, system=system, mode=mode, clients=clients
            )
            print(json.dumps(cell), flush=True)
            cells.append(cell)
    return cells


def _with_neighbours(cpu: Cpu, provider: psutil.Process) -> Cpu:
    cpu.add("provider", provider, "self")
    cpu.add("client", psutil.Process(), "self")
    return cpu


async def run_ragapi(
    work: Path, provider: Provider, docs: list[Any], questions: Iterator[str], args: Args
) -> dict[str, Any]:
    async with ragapi(work, provider[0]) as stack:
        head = await stack.create_tenant("bench")
        ingest = await measured_ingest(stack, head, docs, stack.proc)
        print(json.dumps({"ragapi ingest": ingest}), flush=True)
        cpu = _with_neighbours(stack.cpu(), provider[1])
        cells = await query_cells("ragapi", stack.target(head), cpu, questions, args)
        mem = memory(stack.proc)
    return {"ingest": {"ragapi": ingest}, "cells": cells, "memory": {"ragapi": mem}}


async def run_lightrag(
    work: Path, provider: Provider, docs: list[Any], questions: Iterator[str], args: Args
) -> dict[str, Any]:
    out: dict[str, Any] = {"ingest": {}, "cells": [], "memory": {}}
    for cache in args.lightrag_cache:
        system = f"lightrag cache {'on' if cache else 'off'}"
        async with lightrag(args.python, work / "lightrag", provider[0], cache) as server:
            if not out["ingest"]:
                ingest = await measured_ingest(server, None, docs, server.proc)
                out["ingest"]["lightrag"] = ingest
                print(json.dumps({"lightrag ingest": ingest}), flush=True)
            cpu = _with_neighbours(server.cpu(), provider[1])
            out["cells"] += await query_cells(system, server.target(), cpu, questions, args)
            out["memory"][system] = memory(server.proc)
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    docs = corpus.corpus(args.docs)
    questions = corpus.questions(docs)
    meta = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpus": os.cpu_count(),
        "load_1m_at_start": load_average()[0],
        "corpus": corpus.statistics(docs),
        "latency_s": args.latency,
        "duration_s": args.duration,
        "settle_s": args.settle,
        "llm_concurrency": LLM_CONCURRENCY,
        "lightrag_server": VERSION,
    }
    result: dict[str, Any] = {"meta": meta, "ingest": {}, "cells": [], "memory": {}}
    try:
        with fake_provider(work, args.latency, args.embedding_latency) as provider:
            for name in args.systems:
                runner = run_ragapi if name == "ragapi" else run_lightrag
                part = await runner(work, provider, docs, questions, args)
                for key in ("ingest", "memory"):
                    result[key] |= part[key]
                result["cells"] += part["cells"]
    finally:
        if args.keep:
            print(f"work directory kept: {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta["load_1m_at_end"] = load_average()[0]
    meta["seconds"] = round(time.monotonic() - args.t0)
    return result


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ints = lambda s: [int(c) for c in s.split(",") if c]  # noqa: E731
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--duration", type=float, default=20.0, help="s measured per cell")
    parser.add_argument("--settle", type=float, default=5.0, help="s of load before measuring")
    parser.add_argument("--latency", type=float, default=0.2, help="s per fake LLM call")
    parser.add_argument("--embedding-latency", type=float, default=0.0, help="s per embedding")
    parser.add_argument("--clients", type=ints, default=[1, 32, 128])
    parser.add_argument("--modes", type=lambda s: s.split(","), default=["naive", "mix"])
    parser.add_argument("--systems", type=lambda s: s.split(","), default=["ragapi", "lightrag"])
    parser.add_argument(
        "--lightrag-cache", type=lambda s: [c == "on" for c in s.split(",")],
        default=[True, False], help="on,off (default): LightRAG Server's ENABLE_LLM_CACHE",
    )  # fmt: skip
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="LightRAG Server's")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compare")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    args.t0 = time.monotonic()
    args.python = ensure_venv(args.venv) if "lightrag" in args.systems else None
    result = asyncio.run(run(args))
    result["meta"]["args"] = {k: str(v) for k, v in vars(args).items()}
    json_path = args.out.with_suffix(".json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    md, png = report.write(result, json_path)
    print(md.read_text(encoding="utf-8"))
    print(f"wrote {json_path}, {md}, {png}")


if __name__ == "__main__":
    main()
