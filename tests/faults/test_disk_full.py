"""The data directory's filesystem fills up: uploads are refused with 507 in the contract's
error format, nothing of them is kept, and uploads work again once space is freed.

NATS's store, Redis's files and the data directory live on one small tmpfs (as under
``ragapi up``, which keeps all three under its data directory); a filler file takes the
space until less than ``disk_reserve_bytes`` is free. Needs root (``mount``); skipped
otherwise.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.faults import Row, exactly_once, lightrag_entries

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
def stack_settings() -> dict[str, Any]:
    return {"disk_reserve_bytes": RESERVE}


def _fill(path: Path, leave: int) -> None:
    """Take the filesystem's space until ``leave`` bytes are free."""
    free = os.statvfs(path.parent).f_bavail * os.statvfs(path.parent).f_frsize
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.posix_fallocate(fd, 0, free - leave)
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
