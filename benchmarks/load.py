"""Load generators over aiohttp: a closed loop (C clients back to back) and an open loop
(a fixed arrival rate, whatever the latency).

aiohttp, not httpx: on two cores the generator competes with the server for
CPU, and httpx's client costs more per request than a naive query does on the
server; an httpx-based generator also stalls at high concurrency (its pool
rescans every connection per request). Both loops count CPU of the named
process groups (:class:`benchmarks.harness.Cpu`) over the window and divide
it by the requests that ended in it.

Closed loop: the rate adapts to the latency, so a slow server is offered less
load. Open loop: request *i* is due at ``start + i / rate``; its latency counts
from that moment, so time spent waiting behind a saturated client or server
counts too (no coordinated omission). Arrivals that find ``max_in_flight``
requests outstanding are dropped and counted, never queued without bound.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.harness import Cpu, load_average

#: ``(question, mode) -> JSON body`` of the system under test.
Body = Callable[[str, str], dict[str, Any]]


@dataclass(frozen=True)
class Target:
    """Where and how to ask one system a question."""

    url: str
    body: Body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    dropped: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    async def ask(self, session: aiohttp.ClientSession, target: Target, body: dict[str, Any],
                  started: float) -> None:  # fmt: skip
        """One request; its latency counts from ``started`` (the open loop's due time)."""
        try:
            async with session.post(target.url, json=body, headers=target.headers) as r:
                await r.read()
                status = str(r.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            status = type(exc).__name__
        if status == "200":
            self.latencies.append(time.perf_counter() - started)
        else:
            self.errors += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _session(connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=180))


async def closed_loop(target: Target, mode: str, clients: int, duration: float,
                      questions: Iterator[str], tally: Tally) -> None:  # fmt: skip
    """``clients`` workers, each asking its next question as soon as the last is answered."""
    stop_at = time.perf_counter() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < stop_at:
            body = target.body(next(questions), mode)
            await tally.ask(session, target, body, time.perf_counter())

    async with _session(clients) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))


async def open_loop(
    target: Target, mode: str, rate: float, duration: float,
    questions: Iterator[str], tally: Tally, *, max_in_flight: int,
) -> None:  # fmt: skip
    """``rate`` arrivals a second for ``duration`` s, then wait for those in flight."""
    pending: set[asyncio.Task[None]] = set()
    async with _session(max_in_flight) as session:
        start = time.perf_counter()
        for i in range(int(rate * duration)):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if len(pending) >= max_in_flight:
                tally.dropped += 1
                continue
            task = asyncio.create_task(
                tally.ask(session, target, target.body(next(questions), mode), due)
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)


async def warm_up(target: Target, mode: str, questions: Iterator[str], n: int = 3) -> Tally:
    """``n`` questions one after another, outside any measurement (first-use costs)."""
    tally = Tally()
    async with _session(1) as session:
        for _ in range(n):
            body = target.body(next(questions), mode)
            await tally.ask(session, target, body, time.perf_counter())
    return tally


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(q) - 1]


async def measure(cpu: Cpu, run: Callable[[Tally], Any], **labels: Any) -> dict[str, Any]:
    """Run one load window; QPS, latency quantiles (ms), errors and CPU ms per request."""
    tally = Tally()
    load_before = load_average()[0]
    before = cpu.read()
    started = time.perf_counter()
    await run(tally)
    elapsed = time.perf_counter() - started
    after = cpu.read()
    done = len(tally.latencies)
    ended = max(1, done + tally.errors)
    lat = sorted(tally.latencies)
    cell: dict[str, Any] = dict(labels)
    cell |= {
        "queries": done,
        "errors": tally.errors,
        "error_kinds": tally.statuses,
        "dropped": tally.dropped,
        "seconds": round(elapsed, 1),
        "qps": round(done / elapsed, 2),
        "p50_ms": round(_quantile(lat, 50) * 1000, 1),
        "p95_ms": round(_quantile(lat, 95) * 1000, 1),
        "p99_ms": round(_quantile(lat, 99) * 1000, 1),
        "load_1m": [load_before, load_average()[0]],
    }
    for name in after:
        cell[f"{name}_cpu_ms_per_query"] = round((after[name] - before[name]) * 1000 / ended, 2)
    return cell
