"""The comparison's query scenarios for Locust: naive and mix questions on the dense corpus.

    # ragapi (a tenant's API key), 32 users asking back to back, naive only:
    BENCH_API_KEY=rk_... locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 32 -r 32 -t 20s NaiveUser
    # LightRAG Server, mix, the corpus ingested first:
    BENCH_TARGET=lightrag BENCH_INGEST=1 locust -f benchmarks/locustfile.py \\
        --host http://127.0.0.1:9621 --headless -u 32 -r 32 -t 20s MixUser

Settings (environment): ``BENCH_TARGET`` ``ragapi`` (default) or ``lightrag``;
``BENCH_API_KEY`` the ragapi tenant's key; ``BENCH_INGEST=1`` uploads the
corpus and waits until it is indexed, before the run (and its ``-t`` clock)
starts and outside Locust's statistics; ``BENCH_DOCS`` (200) and
``BENCH_SEED`` (7) choose the corpus (:mod:`benchmarks.corpus`), which must
match what was ingested; ``BENCH_PACE`` seconds between one user's questions
(0, a closed loop, by default; with ``BENCH_PACE=2`` 64 users offer ~32 req/s
whatever the latency, an open loop in the aggregate).

Every question is distinct within a Locust process (one question stream per
process, seeded with the process id). Locust's own client runs on gevent and
costs CPU on the machine it runs on: on a small box, read the server's CPU per
request from ``python -m benchmarks.compare`` rather than from a Locust run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import requests
from locust import FastHttpUser, constant, constant_pacing, events, task
from locust.runners import WorkerRunner

from benchmarks import corpus

TARGET = os.environ.get("BENCH_TARGET", "ragapi")
DOCS = corpus.corpus(
    int(os.environ.get("BENCH_DOCS", "200")), int(os.environ.get("BENCH_SEED", "7"))
)
QUESTIONS: Iterator[str] = corpus.questions(DOCS, seed=os.getpid())
PACE = float(os.environ.get("BENCH_PACE", "0"))


def _headers() -> dict[str, str]:
    key = os.environ.get("BENCH_API_KEY", "")
    return {"authorization": f"Bearer {key}"} if TARGET == "ragapi" and key else {}


def _query_path() -> str:
    return "/v1/query" if TARGET == "ragapi" else "/query"


class _Asker(FastHttpUser):
    abstract = True
    mode = "naive"
    wait_time = constant_pacing(PACE) if PACE else constant(0)

    @task
    def ask(self) -> None:
        body = {"query": next(QUESTIONS), "mode": self.mode}
        self.client.post(_query_path(), json=body, headers=_headers(), name=self.mode)


class NaiveUser(_Asker):
    mode = "naive"


class MixUser(_Asker):
    mode = "mix"


def _ingest(base: str) -> None:
    """Upload the corpus to the target and wait until it is indexed (``BENCH_INGEST=1``).

    A plain ``requests`` session: these calls stay out of Locust's statistics.
    """
    with requests.Session() as http:
        if TARGET == "ragapi":
            tasks = []
            for start in range(0, len(DOCS), 50):
                batch = [{"name": d.name, "text": d.text} for d in DOCS[start : start + 50]]
                answer = http.post(f"{base}/v1/documents/text", json={"documents": batch},
                                   headers=_headers(), timeout=60)  # fmt: skip
                answer.raise_for_status()
                tasks.append(answer.json()["task_id"])
            for task_id in tasks:
                url = f"{base}/v1/tasks/{task_id}"
                while http.get(url, headers=_headers(), timeout=60).json()["status"] in (
                    "queued", "running",
                ):  # fmt: skip
                    time.sleep(1)
            return
        body = {"texts": [d.text for d in DOCS], "file_sources": [d.name for d in DOCS]}
        http.post(f"{base}/documents/texts", json=body, timeout=60).raise_for_status()
        while True:
            counts = http.get(f"{base}/documents/status_counts", timeout=60).json()["status_counts"]
            if counts.get("processed", 0) + counts.get("failed", 0) >= len(DOCS):
                return
            time.sleep(1)


def _on_init(environment: Any, **_: Any) -> None:
    """Before the run (and its ``-t`` clock) starts; once, not on each worker."""
    if os.environ.get("BENCH_INGEST") != "1" or isinstance(environment.runner, WorkerRunner):
        return
    if environment.host is None:
        raise SystemExit("BENCH_INGEST=1 needs --host")
    _ingest(environment.host.rstrip("/"))


events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]
