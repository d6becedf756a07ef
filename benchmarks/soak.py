"""Soak: steady mixed load against ``ragapi up`` for minutes, resources sampled as it goes.

``python -m benchmarks.soak --minutes 30`` (``make soak``) starts NATS and Redis of its own,
``ragapi up`` on them with the fake model provider, and ``--clients`` closed-loop clients
doing a weighted mix: file uploads, text ingests, deletions (each tenant's corpus stays
bounded), queries in every mode, SSE streams (queries and task events) opened and
abandoned after their first event, tenants created and deleted. Ingests are paced
(``--ingest-per-s``) so the index keeps up: a backlog that grows because the load exceeds
capacity is not a leak.

Every ``--sample-s`` seconds: RSS and open file descriptors of ``ragapi up``'s Python
process tree, the event loop's task count (``ragapi_asyncio_tasks``), the messages pending
on every JetStream consumer, and Redis's ``used_memory``. The report (JSON, Markdown, PNG
under ``--out``) gives each one's least-squares slope per 10 000 requests with a 95 %
confidence interval, fitted after ``--warmup-s``; ``bounded`` says whether growth is told
apart from noise (:meth:`benchmarks.soak_stats.Slope.bounded`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import psutil
from redis.asyncio import Redis

from benchmarks.soak_stats import PER, Slope, slope
from tests.support.servers import nats_server, redis_server
from tests.support.upstack import Stack, running_stack

MODES = ("naive", "local", "global", "hybrid", "mix")
METRICS = ("rss_mb", "open_fds", "asyncio_tasks", "nats_pending", "redis_used_mb")
#: The fitted growth over the whole run must stay under this share of a metric's mean.
GROWTH_SHARE = 0.10
#: ... or under this much: counts that a few jobs or connections in flight move either way.
FLOORS = {"rss_mb": 0.0, "open_fds": 10.0, "asyncio_tasks": 20.0, "nats_pending": 20.0}
WORDS = ["river", "stone", "lantern", "harbor", "orchard"]
WORDS += ["meadow", "copper", "signal", "ledger", "canyon"]


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def count(self, op: str, response: httpx.Response) -> httpx.Response:
        self.requests += 1
        self.statuses[f"{op} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{op}: {response.status_code} {response.text[:200]}")
        return response


@dataclass
class Tenant:
    tenant_id: str
    client: httpx.AsyncClient
    docs: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)


class Load:
    """The mixed operations, on a few long-lived tenants and short-lived ones."""

    def __init__(self, stack: Stack, tally: Tally, ingest_per_s: float) -> None:
        self.stack = stack
        self.tally = tally
        self.admin = httpx.AsyncClient(
            base_url=stack.url, timeout=60, headers={"authorization": f"Bearer {stack.admin_token}"}
        )
        self.tenants: list[Tenant] = []
        self.numbers = itertools.count(1)
        self.ingest_gap_s = 1.0 / ingest_per_s
        self.next_ingest = 0.0

    async def open(self, tenants: int) -> None:
        for _ in range(tenants):
            self.tenants.append(await self._tenant())

    async def close(self) -> None:
        for tenant in self.tenants:
            await tenant.client.aclose()
        await self.admin.aclose()

    async def _tenant(self) -> Tenant:
        tenant_id = f"soak-{next(self.numbers)}"
        body = {"id": tenant_id, "name": tenant_id}
        created = self.tally.count("tenant", await self.admin.post("/v1/tenants", json=body))
        key = created.json()["api_key"]
        client = httpx.AsyncClient(
            base_url=self.stack.url, timeout=60, headers={"authorization": f"Bearer {key}"}
        )
        return Tenant(tenant_id, client)

    def _text(self) -> str:
        words = random.choices(WORDS, k=60)
        return f"Note {next(self.numbers)}: " + " ".join(words) + "."

    async def _paced(self) -> bool:
        """Whether an ingest may go now (the pace keeps the index up with the load)."""
        now = time.monotonic()
        if now < self.next_ingest:
            return False
        self.next_ingest = max(now, self.next_ingest) + self.ingest_gap_s
        return True

    async def upload(self, tenant: Tenant) -> None:
        files = {"files": (f"note-{next(self.numbers)}.txt", self._text().encode(), "text/plain")}
        response = self.tally.count(
            "upload", await tenant.client.post("/v1/documents", files=files)
        )
        self._accepted(tenant, response)

    async def text(self, tenant: Tenant) -> None:
        body = {"documents": [{"text": self._text()} for _ in range(2)]}
        response = await tenant.client.post("/v1/documents/text", json=body)
        self._accepted(tenant, self.tally.count("text", response))

    def _accepted(self, tenant: Tenant, response: httpx.Response) -> None:
        if response.status_code == 202:
            tenant.docs += [d["doc_id"] for d in response.json()["documents"]]
            tenant.tasks = [*tenant.tasks[-9:], response.json()["task_id"]]

    async def delete(self, tenant: Tenant) -> None:
        if len(tenant.docs) > 20:
            doc_id = tenant.docs.pop(0)
            self.tally.count("delete", await tenant.client.delete(f"/v1/documents/{doc_id}"))

    async def query(self, tenant: Tenant) -> None:
        body = {"query": " ".join(random.choices(WORDS, k=3)), "mode": random.choice(MODES)}
        self.tally.count("query", await tenant.client.post("/v1/query", json=body))

    async def abandoned_stream(self, tenant: Tenant) -> None:
        """An SSE stream read up to its first event, then dropped."""
        if tenant.tasks and random.random() < 0.5:
            request = tenant.client.build_request("GET", f"/v1/tasks/{tenant.tasks[-1]}/events")
        else:
            body = {"query": random.choice(WORDS), "mode": random.choice(MODES), "stream": True}
            request = tenant.client.build_request("POST", "/v1/query", json=body)
        response = await tenant.client.send(request, stream=True)
        try:
            self.tally.count("stream", response)
            async for _ in response.aiter_lines():
                break
        finally:
            await response.aclose()

    async def churn_tenant(self) -> None:
        """A short-lived tenant: created, given a text, deleted."""
        tenant = await self._tenant()
        try:
            await self.text(tenant)
        finally:
            await tenant.client.aclose()
        self.tally.count("tenant", await self.admin.delete(f"/v1/tenants/{tenant.tenant_id}"))

    async def step(self) -> None:
        tenant = random.choice(self.tenants)
        roll = random.random()
        if roll < 0.10 and await self._paced():
            await (self.upload if roll < 0.05 else self.text)(tenant)
        elif roll < 0.15:
            await self.delete(tenant)
        elif roll < 0.25:
            await self.abandoned_stream(tenant)
        elif roll < 0.26 and await self._paced():
            await self.churn_tenant()
        else:
            await self.query(tenant)


async def _pending(nats_url: str) -> int:
    """Messages pending (undelivered or unacknowledged) on every JetStream consumer."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        total = 0
        for stream in await js.streams_info():
            for consumer in await js.consumers_info(stream.config.name or ""):
                total += (consumer.num_pending or 0) + (consumer.num_ack_pending or 0)
        return total
    finally:
        await nc.close()


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    python = [p for p in root.children(recursive=True) if "python" in p.name().lower()]
    return [root, *python]


def _rss_fds(pid: int) -> tuple[float, int]:
    rss, fds = 0, 0
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error):
            rss += proc.memory_info().rss
            fds += proc.num_fds()
    return rss / 2**20, fds


async def _tasks(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    values = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("ragapi_asyncio_tasks ")
    ]
    return max(values, default=0.0)


async def sample(stack: Stack, nats_url: str, redis: Redis, tally: Tally) -> dict[str, float]:
    rss, fds = await asyncio.to_thread(_rss_fds, stack.pid)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        tasks = await _tasks(client)
    info = await redis.info("memory")
    return {
        "t": time.monotonic(),
        "requests": tally.requests,
        "rss_mb": rss,
        "open_fds": fds,
        "asyncio_tasks": tasks,
        "nats_pending": await _pending(nats_url),
        "redis_used_mb": float(info["used_memory"]) / 2**20,
    }


async def soak(
    stack: Stack, nats_url: str, redis_url: str, *, seconds: float, sample_s: float,
    clients: int, ingest_per_s: float, tenants: int = 3,
) -> tuple[Tally, list[dict[str, float]]]:  # fmt: skip
    """Run the load for ``seconds``; the tally and the samples."""
    tally, samples = Tally(), []
    load = Load(stack, tally, ingest_per_s)
    await load.open(tenants)
    ends = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < ends:
            await load.step()

    async with Redis.from_url(redis_url) as redis:
        runners = [asyncio.create_task(client()) for _ in range(clients)]
        try:
            while time.monotonic() < ends:
                samples.append(await sample(stack, nats_url, redis, tally))
                await asyncio.sleep(sample_s)  # the sampling period
            await asyncio.gather(*runners)
            samples.append(await sample(stack, nats_url, redis, tally))
        finally:
            for runner in runners:
                runner.cancel()
            await load.close()
    return tally, samples


def slopes(samples: list[dict[str, float]], warmup_s: float) -> dict[str, Slope]:
    start = samples[0]["t"] + warmup_s
    kept = [s for s in samples if s["t"] >= start]
    xs = [s["requests"] for s in kept]
    return {name: slope(xs, [s[name] for s in kept]) for name in METRICS}


def _bounded(name: str, fit: Slope, requests: int) -> bool:
    return fit.bounded(requests, GROWTH_SHARE, FLOORS.get(name, 0.0))


def report(
    out: Path, tally: Tally, samples: list[dict[str, float]], warmup_s: float
) -> dict[str, Any]:
    """Write soak.json, soak.md and soak.png under ``out``; the JSON's content."""
    out.mkdir(parents=True, exist_ok=True)
    fitted = slopes(samples, warmup_s)
    seconds = samples[-1]["t"] - samples[0]["t"]
    result = {
        "seconds": round(seconds),
        "requests": tally.requests,
        "requests_per_s": round(tally.requests / max(seconds, 1e-9), 1),
        "server_errors": tally.server_errors,
        "statuses": dict(tally.statuses),
        "warmup_s": warmup_s,
        "slopes_per_10k_requests": {
            name: {**s.as_dict(), "bounded": _bounded(name, s, tally.requests)}
            for name, s in fitted.items()
        },
        "samples": samples,
    }
    (out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Soak: {result['seconds']} s, {tally.requests} requests "
        f"({result['requests_per_s']}/s), {len(tally.server_errors)} 5xx",
        "",
        f"Slopes per {PER} requests after a {warmup_s:.0f} s warm-up, 95 % CI:",
        "",
        "| metric | mean | slope | 95 % CI | bounded |",
        "|---|---|---|---|---|",
    ]
    for name, s in fitted.items():
        bounded = _bounded(name, s, tally.requests)
        interval = f"[{s.low:+.2f}, {s.high:+.2f}]"
        lines.append(f"| {name} | {s.mean:.1f} | {s.slope:+.2f} | {interval} | {bounded} |")
    (out / "soak.md").write_text("\n".join(lines) + "\n")
    _plot(out / "soak.png", samples, fitted, warmup_s)
    return result


def _plot(
    path: Path, samples: list[dict[str, float]], fitted: dict[str, Slope], warmup_s: float
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(METRICS), 1, figsize=(8, 2.2 * len(METRICS)), sharex=True)
    xs = [s["requests"] for s in samples]
    start = samples[0]["t"] + warmup_s
    for ax, name in zip(axes, METRICS, strict=True):
        ax.plot(xs, [s[name] for s in samples], ".", markersize=3)
        fit = fitted[name]
        kept = [s["requests"] for s in samples if s["t"] >= start]
        if kept:
            mx = sum(kept) / len(kept)
            line = [fit.mean + fit.slope * (x - mx) / PER for x in kept]
            ax.plot(kept, line, "-", label=f"{fit.slope:+.2f} / 10k req")
            ax.legend(loc="upper left", fontsize=7)
        ax.set_ylabel(name, fontsize=8)
    axes[-1].set_xlabel("requests")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@contextlib.contextmanager
def soak_stack(work: Path) -> Iterator[tuple[str, str, Stack]]:
    """``ragapi up`` under ``work`` on a NATS and a Redis of its own (their pending messages
    and memory are sampled): their URLs and the stack."""
    for name in ("nats", "redis"):
        (work / name).mkdir()
    with (
        nats_server(work / "nats") as nats_url,
        redis_server(work / "redis") as redis_url,
        running_stack(work, RAGAPI_NATS_URL=nats_url, RAGAPI_REDIS_URL=redis_url) as stack,
    ):
        yield nats_url, redis_url, stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--ingest-per-s", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak"))
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ragapi-soak-") as tmp,
        soak_stack(Path(tmp)) as (nats_url, redis_url, stack),
    ):
        tally, samples = asyncio.run(
            soak(
                stack, nats_url, redis_url, seconds=args.minutes * 60, sample_s=args.sample_s,
                clients=args.clients, ingest_per_s=args.ingest_per_s,
            )
        )  # fmt: skip
    result = report(args.out, tally, samples, args.warmup_s)
    print((args.out / "soak.md").read_text())
    if result["server_errors"]:
        raise SystemExit(f"{len(result['server_errors'])} 5xx answers")


if __name__ == "__main__":
    main()
