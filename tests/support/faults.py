"""What every fault test checks and records.

- :class:`Observed`: an httpx transport that counts every status code a client saw and
  fails on what the contract forbids under a fault: a 500, a 503/429/507 without
  ``Retry-After`` where one is owed, or no answer within the request deadline.
- :func:`exactly_once`: after recovery, every accepted document is ``processed`` once:
  listed once, one LightRAG doc-status entry, its chunks as reported and no chunk or
  entity twice, and each task's counters equal to its documents.
- :class:`Row`: one line of ``docs/reliability.md``, written as JSON by the ``reliability``
  fixture (``tests/faults/conftest.py``) and rendered by ``scripts/reliability_table.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import aiofiles
import httpx

#: Statuses a client may see while a dependency is down, each with ``Retry-After``.
RETRY_LATER = (429, 503)


class Observed(httpx.AsyncBaseTransport):
    """Counts status codes; records contract breaches (checked by :meth:`assert_clean`)."""

    def __init__(self, deadline_s: float, retry_later: tuple[int, ...] = RETRY_LATER) -> None:
        self.statuses: Counter[str] = Counter()
        self.breaches: list[str] = []
        self.deadline_s = deadline_s
        self.retry_later = retry_later
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        began = time.perf_counter()
        try:
            async with asyncio.timeout(self.deadline_s):
                response = await self._inner.handle_async_request(request)
        except TimeoutError:
            self.statuses["hang"] += 1
            self.breaches.append(f"{request.method} {request.url.path}: no answer in time")
            raise
        took = time.perf_counter() - began
        status = response.status_code
        self.statuses[str(status)] += 1
        where = f"{request.method} {request.url.path} -> {status} after {took:.2f} s"
        if status >= 500 and status not in self.retry_later and status != 507:
            self.breaches.append(where)
        elif status in self.retry_later and "retry-after" not in response.headers:
            self.breaches.append(f"{where} without Retry-After")
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def assert_clean(self) -> None:
        assert not self.breaches, self.breaches


def client(observed: Observed, base_url: str = "") -> httpx.AsyncClient:
    """A client whose every answer goes through ``observed`` (timeouts are its deadline)."""
    return httpx.AsyncClient(transport=observed, base_url=base_url, timeout=observed.deadline_s + 5)


@dataclass
class Row:
    """One fault, as ``docs/reliability.md`` shows it."""

    fault: str
    accepted: int = 0
    client_saw: dict[str, int] = field(default_factory=dict)
    lost: int = -1  # -1: the test did not get as far as counting
    recovery_s: float | None = None
    notes: str = ""
    test: str = ""
    outcome: str = "not run"

    def to_json(self) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["client_saw"] = dict(sorted(self.client_saw.items()))  # a live Counter, often
        return row


async def _json(path: Path) -> dict[str, Any]:
    try:
        async with aiofiles.open(path) as source:
            loaded: dict[str, Any] = json.loads(await source.read())
    except FileNotFoundError:
        return {}
    return loaded


async def lightrag_entries(data_dir: Path, tenant_id: str) -> dict[str, dict[str, Any]]:
    """The local profile's doc-status, chunks and each entity's chunks, of a tenant."""
    base = data_dir / "tenants" / tenant_id
    return {
        name: await _json(base / f"kv_store_{name}.json")
        for name in ("doc_status", "text_chunks", "entity_chunks")
    }


async def exactly_once(
    http: httpx.AsyncClient,
    ingest_url: str,
    headers: dict[str, str],
    tasks: dict[str, list[str]],
    stored: dict[str, dict[str, Any]] | None,
) -> int:
    """Check every accepted document (``tasks``: task id -> its doc ids) ended processed
    once; ``stored``: :func:`lightrag_entries` (None where storage is not local files).
    Answers how many accepted documents were lost (0, or the assertion fails first)."""
    accepted = sorted({doc for docs in tasks.values() for doc in docs})
    listed = await _listed(http, ingest_url, headers)
    ids = [doc["doc_id"] for doc in listed]
    assert len(ids) == len(set(ids)), "a document is listed twice"
    missing = set(accepted) - set(ids)
    assert not missing, f"{len(missing)} accepted documents lost: {sorted(missing)[:5]}"
    by_id = {doc["doc_id"]: doc for doc in listed}
    stuck = {d: by_id[d]["status"] for d in accepted if by_id[d]["status"] != "processed"}
    assert not stuck, f"not processed: {stuck}"
    for task_id, docs in tasks.items():
        task = (await http.get(f"{ingest_url}/v1/tasks/{task_id}", headers=headers)).json()
        total = len(set(docs))
        counters = (task["status"], task["total"], task["done"], task["failed"])
        assert counters == ("succeeded", total, total, 0), task
    if stored is not None:
        _stored_once(stored, [by_id[d] for d in accepted])
    return len(missing)


async def _listed(
    http: httpx.AsyncClient, ingest_url: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    cursor = ""
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = await http.get(f"{ingest_url}/v1/documents", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        documents += body["documents"]
        cursor = body.get("next_cursor") or ""
        if not cursor:
            return documents


def _stored_once(stored: dict[str, dict[str, Any]], documents: list[dict[str, Any]]) -> None:
    statuses, chunks = stored["doc_status"], stored["text_chunks"]
    wanted = {doc["doc_id"] for doc in documents}
    assert wanted <= set(statuses), f"no doc-status entry: {sorted(wanted - set(statuses))[:5]}"
    assert {statuses[d]["status"] for d in wanted} == {"processed"}
    per_doc = Counter(chunk.get("full_doc_id") for chunk in chunks.values())
    contents = Counter((c.get("full_doc_id"), c.get("content")) for c in chunks.values())
    assert not [key for key, n in contents.items() if n > 1], "a chunk is stored twice"
    for doc in documents:
        assert per_doc[doc["doc_id"]] == doc["chunks"], doc
    for name, entry in stored["entity_chunks"].items():
        ids = entry.get("chunk_ids", [])
        assert len(ids) == len(set(ids)), f"entity {name} merged from a chunk twice"
