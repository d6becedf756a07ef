"""The data directory's filesystem fills up: uploads are refused with 507 in the contract's
error format, nothing of them is kept, and uploads work again once space is freed.

NATS's store, Redis's files and the data directory live on one small tmpfs (as under
``ragapi up``, which keeps all three under its data directory); a filler file takes the
space until less than ``disk_reserve_bytes`` is free. Needs root (``mount``); skipped
otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ingest.pipeline import eventually
from tests.support.apps import TenantHandle
from tests.support.faults import Row, exactly_once, lightrag_entries
from tests.support.slowness import slowness

from .conftest import Stack, texts

pytestmark = [pytest.mark.faults, pytest.mark.slow]

DISK_MB = 64
RESERVE = 16 * 1024 * 1024


@pytest.fixture
def stack_root(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    root = tmp_path / "disk"
    root.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(root)], check=True
    )
    yield root
    subprocess.run(["umount", "-l", str(root)], check=True)


@pytest.fixture
def stack_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    reserve = getattr(request, "param", RESERVE)
    # A document recorded by a refused upload is swept soon (see the second test).
    return {"disk_reserve_bytes": reserve, "recovery_after_s": 2.0, "recovery_interval_s": 1.0}


def _fill(path: Path, leave: int) -> None:
    """Take the filesystem's space until ``leave`` bytes are free (0: to the last byte)."""
    stats = os.statvfs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.posix_fallocate(fd, 0, stats.f_bavail * stats.f_frsize - max(leave, 1 << 20))
        if leave == 0:
            os.lseek(fd, 0, os.SEEK_END)
            for size in (1 << 16, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


async def _names(stack: Stack, headers: dict[str, str]) -> set[str]:
    listed = await stack.http.get(f"{stack.ingest}/v1/documents?limit=500", headers=headers)
    return {doc["name"] for doc in listed.json()["documents"]}


@pytest.mark.timeout(300)
async def test_disk_full_refuses_uploads_with_507(
    stack: Stack, stack_root: Path, reliability: Row
) -> None:
    reliability.fault = f"data directory's disk full (below the {RESERVE >> 20} MiB reserve)"
    reliability.client_saw = stack.observed.statuses
    tenant = await stack.tenant("full")
    before = await stack.add_texts(tenant, texts("before", 5))
    assert before.status_code == 202, before.text
    tasks = {before.json()["task_id"]: [d["doc_id"] for d in before.json()["documents"]]}
    await stack.wait_task(tenant, before.json()["task_id"], 120)
    names = await _names(stack, tenant.headers)

    await asyncio.to_thread(_fill, stack_root / "filler", RESERVE // 2)
    files = [("files", ("refused.md", b"# refused while the disk is full\n" * 50))]
    refused = [
        await stack.http.post(f"{stack.ingest}/v1/documents", files=files, headers=tenant.headers),
        await stack.add_texts(tenant, texts("refused", 3)),
    ]
    for answer in refused:
        assert answer.status_code == 507, answer.text
        error = answer.json()["error"]
        assert error["code"] == "insufficient_storage", error
        assert "space" in error["message"], error
    assert await _names(stack, tenant.headers) == names, "a refused upload left a document"

    await asyncio.to_thread((stack_root / "filler").unlink)
    freed = time.monotonic()
    after = await stack.add_texts(tenant, texts("after", 2))
    reliability.recovery_s = round(time.monotonic() - freed, 2)
    assert after.status_code == 202, after.text
    tasks[after.json()["task_id"]] = [d["doc_id"] for d in after.json()["documents"]]
    await stack.wait_task(tenant, after.json()["task_id"], 120)

    reliability.accepted = sum(len(docs) for docs in tasks.values())
    stored = await lightrag_entries(stack.data_dir, tenant.id)
    reliability.lost = await exactly_once(stack.http, stack.ingest, tenant.headers, tasks, stored)
    reliability.notes = "uploads and texts 507 insufficient_storage, nothing kept; 202 once freed"
    stack.observed.assert_clean()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stack_settings", [0], indirect=True, ids=["no-reserve"])
async def test_disk_full_to_the_last_byte_never_answers_500(
    stack: Stack, stack_root: Path, reliability: Row
) -> None:
    """No reserve: the writes themselves fail (Redis refuses writes with ``MISCONF``,
    JetStream's file store reports no space). Clients see 507, never a 500; a refused
    upload leaves no document behind; uploads work again once space is freed."""
    reliability.fault = "data directory's disk full to the last byte (no reserve)"
    reliability.client_saw = stack.observed.statuses
    tenant = await stack.tenant("brim")
    before = await stack.add_texts(tenant, texts("before", 3))
    assert before.status_code == 202, before.text
    tasks = {before.json()["task_id"]: [d["doc_id"] for d in before.json()["documents"]]}
    await stack.wait_task(tenant, before.json()["task_id"], 120)
    names = await _names(stack, tenant.headers)

    await asyncio.to_thread(_fill, stack_root / "filler", 0)
    files = [("files", ("refused.md", b"# refused while the disk is full\n" * 50))]
    upload = await stack.http.post(
        f"{stack.ingest}/v1/documents", files=files, headers=tenant.headers
    )
    text = await stack.add_texts(tenant, texts("refused", 3))
    query = await stack.http.post(
        f"{stack.query}/v1/query", json={"query": "Which pier?"}, headers=tenant.headers
    )
    refused: set[str] = set()
    for answer, sent in ((upload, {"refused.md"}), (text, {f"refused-{n}.txt" for n in range(3)})):
        # Redis and JetStream may still take a write that the disk holds in a buffered
        # block: accepted then, and it must be processed like any other.
        if answer.status_code == 202:
            tasks[answer.json()["task_id"]] = [d["doc_id"] for d in answer.json()["documents"]]
            names |= sent
            continue
        assert answer.status_code == 507, answer.text
        assert answer.json()["error"]["code"] == "insufficient_storage", answer.text
        refused |= sent
    assert query.status_code in (200, 507), query.text
    reliability.notes = f"refused with 507: {len(refused)} of 4 documents; "

    await asyncio.to_thread((stack_root / "filler").unlink)
    freed = time.monotonic()
    after = await eventually(lambda: _accepted(stack, tenant), timeout_s=30 * slowness())
    reliability.recovery_s = round(time.monotonic() - freed, 2)
    tasks[after["task_id"]] = [d["doc_id"] for d in after["documents"]]
    names.add("after-0.txt")
    for task_id in tasks:
        await stack.wait_task(tenant, task_id, 120)
    # A refused upload's records (written before the disk said no) are swept.
    await eventually(lambda: _only(stack, tenant.headers, names), timeout_s=30 * slowness())
    reliability.accepted = sum(len(docs) for docs in tasks.values())
    stored = await lightrag_entries(stack.data_dir, tenant.id)
    reliability.lost = await exactly_once(stack.http, stack.ingest, tenant.headers, tasks, stored)
    reliability.notes += f"query {query.status_code}; no 500; nothing of a 507 kept"
    stack.observed.assert_clean()


async def _accepted(stack: Stack, tenant: TenantHandle) -> dict[str, Any] | None:
    answer = await stack.add_texts(tenant, texts("after", 1))
    return answer.json() if answer.status_code == 202 else None  # type: ignore[no-any-return]


async def _only(stack: Stack, headers: dict[str, str], wanted: set[str]) -> bool:
    return await _names(stack, headers) == wanted
