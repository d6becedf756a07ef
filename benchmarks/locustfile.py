"""The comparison's query scenarios for Locust: naive and mix questions on the dense corpus.

    # ragapi (a tenant's API key), 32 users asking back to back, naive only:
    BENCH_API_KEY=rk_... locust -f benchmarks/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 32 -r 32 -t 20s NaiveUser
    # LightRAG Server, mix, the corpus ingested first:
    BENCH_TARGET=lightrag BENCH_INGEST=1 locust -f benchmarks/locustfile.py \\
        --host http://127.0.0.1:9621 --headless -u 32 -r 32 -t 20s MixUser

Settings (environment): ``BENCH_TARGET`` ``ragapi`` (default) or ``lightrag``;
``BENCH_API_KEY`` the ragapi tenant's key; ``BENCH_INGEST=1`` uploads the
corpus at test start and waits until it is indexed; ``BENCH_DOCS`` (200) and
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

from locust import FastHttpUser, constant, constant_pacing, events, task

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


class _Asker(FastHttpUser):  # type: ignore[misc]
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


def _ingest(client: Any) -> None:
    """Upload the corpus to the target and wait until it is indexed (BENCH_INGEST=1)."""
    if TARGET == "ragapi":
        tasks = []
        for start in range(0, len(DOCS), 50):
            batch = [{"name": d.name, "text": d.text} for d in DOCS[start : start + 50]]
            answer = client.post(
                "/v1/documents/text", json={"documents": batch}, headers=_headers()
            )
            tasks.append(answer.json()["task_id"])
        for task_id in tasks:
            while client.get(f"/v1/tasks/{task_id}", headers=_headers()).json()["status"] in (
                "queued", "running",
            ):  # fmt: skip
                time.sleep(1)
        return
    body = {"texts": [d.text for d in DOCS], "file_sources": [d.name for d in DOCS]}
    client.post("/documents/texts", json=body)
    while True:
        counts = client.get("/documents/status_counts").json()["status_counts"]
        if counts.get("processed", 0) + counts.get("failed", 0) >= len(DOCS):
            return
        time.sleep(1)


@events.test_start.add_listener
def _on_start(environment: Any, **_: Any) -> None:
    if os.environ.get("BENCH_INGEST") != "1" or environment.host is None:
        return
    from locust.clients import HttpSession

    _ingest(HttpSession(environment.host, environment.events.request, user=None))
