"""Documents through the whole pipeline: queues, workers, LightRAG, retrieval, deletion."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from redis.asyncio import Redis

from ragapi_common.bus import Bus
from ragapi_common.contracts import subjects
from ragapi_common.contracts.payloads import IndexJob
from ragapi_ingest.records import Records, new_id
from tests.conftest import TenantFactory
from tests.support.apps import TenantHandle
from tests.support.fake_provider import CHAT

from .conftest import IngestStack, StackFactory
from .pipeline import cited, eventually, graph_names, tenant_rag
from .test_http import png_bytes


def mixed_files(count: int) -> dict[str, bytes]:
    """``count`` text-like files of varied kinds and charsets, each naming its own entity."""
    kinds: list[tuple[str, Callable[[int], bytes]]] = [
        ("txt", lambda i: f"Quillon{i} Harbour is a port. It sells fish.\n".encode()),
        ("md", lambda i: f"# Quillon{i} Guide\n\nQuillon{i} Harbour lies north.\n".encode()),
        ("html", lambda i: (
            f"<html><head><title>Quillon{i}</title><script>var hidden = 'Secretvar{i}';</script>"
            f"</head><body><p>Quillon{i} Harbour has a lighthouse.</p></body></html>"
        ).encode()),
        ("csv", lambda i: f"name,kind\nQuillon{i} Harbour,port\nQuillon{i} Mill,mill\n".encode()),
        ("json", lambda i: json.dumps({"place": f"Quillon{i} Harbour", "kind": "port"}).encode()),
        ("py", lambda i: f'def q():\n    """Quillon{i} Harbour."""\n    return 1\n'.encode()),
        ("txt", lambda i: f"Quillon{i} Harbour: café, déjà vu, crème.\n".encode("latin-1")),
        ("txt", lambda i: f"Quillon{i} Harbour in UTF-16 with ünïcode.\n".encode("utf-16")),
    ]  # fmt: skip
    files = {}
    for i in range(count):
        suffix, make = kinds[i % len(kinds)]
        files[f"file-{i}.{suffix}"] = make(i)
    return files


async def _upload(
    stack: IngestStack, tenant: TenantHandle, files: dict[str, bytes]
) -> dict[str, Any]:
    response = await stack.upload(tenant, list(files.items()))
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_one_file_then_a_mixed_batch_end_in_the_graph_and_retrieval(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory()
    one = await _upload(
        stack, tenant, {"ada.md": b"Ada Lovelace wrote programs for the Analytical Engine.\n"}
    )
    task = await stack.wait_task(tenant, one["task_id"])
    assert task["status"] == "succeeded", task
    (doc,) = task["documents"]
    assert doc["status"] == "processed"
    assert doc["chunks"] >= 1
    assert doc["llm"] is True
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert "ada lovelace" in await graph_names(instance)
    assert doc["doc_id"] in await cited(instance, "Ada Lovelace Analytical Engine")

    files = mixed_files(20)
    batch = await _upload(stack, tenant, files)
    assert len(batch["documents"]) == 20
    task = await stack.wait_task(tenant, batch["task_id"])
    assert task["status"] == "succeeded", task
    assert task["done"] == 20
    by_name = {d["name"]: d for d in task["documents"]}
    assert by_name["file-2.html"]["content_type"] == "text/html"
    assert by_name["file-4.json"]["content_type"] == "application/json"
    names = await graph_names(instance)
    for i in (0, 1, 2, 6, 7):
        assert f"quillon{i} harbour" in names, i
        assert by_name[f"file-{i}.{files_suffix(i)}"]["doc_id"] in await cited(
            instance, f"Quillon{i} Harbour", top_k=40
        )
    assert not any("secretvar" in name for name in names)  # scripts are not text


def files_suffix(i: int) -> str:
    return ["txt", "md", "html", "csv", "json", "py", "txt", "txt"][i % 8]


async def test_llm_failing_a_third_of_calls_still_ends_processed(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory()
    stack.fake.configure(fail_rate=0.3, fail_statuses=(429, 500), seed=7)
    body = await stack.texts(
        tenant,
        {f"t{i}.txt": f"Brindlemoor{i} Castle stands on Brindlemoor{i} Hill." for i in range(6)},
    )
    task = await stack.wait_task(tenant, body["task_id"], timeout_s=240)
    assert task["status"] == "succeeded", task
    assert all(doc["llm"] and doc["chunks"] >= 1 for doc in task["documents"])
    # The fake really failed calls on the way (its count of failures served).
    assert stack.fake._failures >= 3


async def test_a_permanent_failure_ends_failed_and_the_queue_goes_on(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory()
    files = {
        "empty.html": b"<html><script>nothing visible</script></html>",
        "fine.txt": b"Tollerby Bridge crosses the river.",
    }
    body = await _upload(stack, tenant, files)
    task = await stack.wait_task(tenant, body["task_id"])
    assert task["status"] == "partial"
    assert (task["done"], task["failed"]) == (1, 1)
    by_name = {d["name"]: d for d in task["documents"]}
    assert by_name["empty.html"]["status"] == "failed"
    assert "no text" in by_name["empty.html"]["error"]
    assert by_name["fine.txt"]["status"] == "processed"
    later = await stack.texts(tenant, {"later.txt": "Tollerby Mill grinds corn."})
    assert (await stack.wait_task(tenant, later["task_id"]))["status"] == "succeeded"


async def test_delete_removes_the_document_everywhere(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory()
    body = await stack.texts(
        tenant,
        {
            "keep.txt": "Orrin Vale grows apples in Orrin Vale orchards.",
            "drop.txt": "Pellucid Marsh hides herons in Pellucid Marsh reeds.",
        },
    )
    task = await stack.wait_task(tenant, body["task_id"])
    ids = {d["name"]: d["doc_id"] for d in task["documents"]}
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert ids["drop.txt"] in await cited(instance, "Pellucid Marsh herons")
    deleted = await stack.client.delete(f"/v1/documents/{ids['drop.txt']}", headers=tenant.headers)
    assert deleted.status_code == 202
    delete_task = await stack.wait_task(tenant, deleted.json()["task_id"])
    assert delete_task["status"] == "succeeded"
    gone = await stack.client.get(f"/v1/documents/{ids['drop.txt']}", headers=tenant.headers)
    assert gone.status_code == 404
    assert ids["drop.txt"] not in await cited(instance, "Pellucid Marsh herons")
    assert ids["keep.txt"] in await cited(instance, "Orrin Vale apples")
    assert f"{tenant.id}/{ids['drop.txt']}" not in await bus.files.names(prefix=tenant.id)
    # The same text again is a new document, not a duplicate of the deleted one.
    again = await stack.texts(
        tenant, {"drop.txt": "Pellucid Marsh hides herons in Pellucid Marsh reeds."}
    )
    assert again["documents"][0]["duplicate"] is False
    assert again["documents"][0]["doc_id"] != ids["drop.txt"]


async def test_task_events_stream_until_the_task_ends(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory()
    body = await stack.texts(
        tenant, {f"e{i}.txt": f"Wistmoor{i} Abbey rings its bell." for i in range(3)}
    )
    events: list[tuple[str, dict[str, Any]]] = []
    async with stack.client.stream(
        "GET", f"/v1/tasks/{body['task_id']}/events", headers=tenant.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "snapshot"
    assert kinds[-1] == "done"
    assert events[-1][1]["status"] == "succeeded"
    assert events[-1][1]["done"] == 3
    # A finished task's stream is a snapshot and done at once.
    async with stack.client.stream(
        "GET", f"/v1/tasks/{body['task_id']}/events", headers=tenant.headers
    ) as response:
        lines = [line async for line in response.aiter_lines() if line.startswith("event: ")]
    assert lines == ["event: snapshot", "event: done"]


async def test_files_for_ocr_wait_on_the_ocr_queue_and_content_lists_index(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    """A PDF is routed to OCR; an index job carrying a stored content list is indexed."""
    stack = await make_ingest()
    tenant = await tenant_factory()
    before = await _ocr_jobs(bus)
    body = await _upload(
        stack, tenant, {"scan.pdf": b"%PDF-1.7\n" + b"0" * 500, "p.png": png_bytes()}
    )
    await eventually(lambda: _more_ocr_jobs(bus, before + 2))
    docs = {d["name"]: d for d in body["documents"]}
    pdf = (
        await stack.client.get(
            f"/v1/documents/{docs['scan.pdf']['doc_id']}", headers=tenant.headers
        )
    ).json()
    assert pdf["status"] == "parsing"

    # What the OCR service hands over: a content list in the object store, with an image.
    doc_id = docs["p.png"]["doc_id"]
    image_name = f"{tenant.id}/{doc_id}/images/page-0.png"
    await bus.files.write_bytes(image_name, png_bytes())
    content = [
        {"type": "text", "text": "Gallowmere Quarry ships slate.", "page_idx": 0},
        {"type": "table", "table_body": "| Gallowmere Quarry | slate |",
         "table_caption": ["Output"], "page_idx": 0},
        {"type": "image", "img_path": image_name, "image_caption": ["Gallowmere Quarry map"],
         "page_idx": 0},
    ]  # fmt: skip
    content_name = f"{tenant.id}/{doc_id}/content.json"
    await bus.files.write_bytes(content_name, json.dumps({"content": content}).encode())
    job = IndexJob(
        tenant_id=tenant.id, task_id=body["task_id"], doc_id=doc_id, name="p.png",
        content_type="image/png", content_object=content_name,
    )  # fmt: skip
    await bus.submit(subjects.JOB_INDEX, job, msg_id=f"test-index:{doc_id}")

    async def settled() -> dict[str, Any] | None:
        got = await stack.client.get(f"/v1/documents/{doc_id}", headers=tenant.headers)
        body: dict[str, Any] = got.json()
        return body if body["status"] in ("processed", "failed") else None

    indexed = await eventually(settled)
    assert indexed["status"] == "processed", indexed
    instance = await tenant_rag(bus, stack.rag, tenant)
    assert doc_id in await cited(instance, "Gallowmere Quarry slate")
    # Deleting it removes the OCR artefacts too.
    deleted = await stack.client.delete(f"/v1/documents/{doc_id}", headers=tenant.headers)
    await stack.wait_task(tenant, deleted.json()["task_id"])
    left = await bus.files.names(prefix=f"{tenant.id}/{doc_id}")
    assert left == []


async def _more_ocr_jobs(bus: Bus, count: int) -> bool:
    return await _ocr_jobs(bus) >= count


async def _ocr_jobs(bus: Bus) -> int:
    info = await bus.js.stream_info(subjects.JOBS_STREAM, subjects_filter=subjects.JOB_OCR)
    return int((info.state.subjects or {}).get(subjects.JOB_OCR, 0))


async def test_purge_removes_everything_of_a_deleted_tenant(
    make_ingest: StackFactory,
    tenant_factory: TenantFactory,
    tenants_client: httpx.AsyncClient,
    bus: Bus,
) -> None:
    stack = await make_ingest()
    tenant, other = await tenant_factory(), await tenant_factory()
    body = await stack.texts(tenant, {"a.txt": "Harrowgate Fen floods each spring."})
    kept = await stack.texts(other, {"b.txt": "Harrowgate Fen floods each spring."})
    await stack.wait_task(tenant, body["task_id"])
    await stack.wait_task(other, kept["task_id"])
    assert (await tenants_client.delete(f"/v1/tenants/{tenant.id}")).status_code == 202

    async def files_gone() -> bool:
        return not await bus.files.names(prefix=f"{tenant.id}/")

    await eventually(files_gone)
    await eventually(lambda: _tenant_keys_gone(stack, tenant.id))
    assert not (stack.settings.tenants_dir / tenant.id).exists()
    listed = (await stack.client.get("/v1/documents", headers=other.headers)).json()
    assert len(listed["documents"]) == 1


async def _tenant_keys_gone(stack: IngestStack, tenant_id: str) -> bool:
    client = Redis.from_url(stack.settings.redis_url)
    try:
        pattern = f"ragapi:ingest:{{{tenant_id}}}:*"
        return not [key async for key in client.scan_iter(match=pattern)]
    finally:
        await client.aclose()


async def test_an_llm_that_keeps_failing_ends_failed_with_its_reason(
    make_ingest: StackFactory, tenant_factory: TenantFactory
) -> None:
    """Retried with backoff up to the bound, then failed with the reason; the queue moves on."""
    stack = await make_ingest(max_deliver=2)
    tenant = await tenant_factory()
    stack.fake.configure(fail_forever=True, fail_statuses=(500,), paths=(CHAT,))
    body = await stack.texts(tenant, {"doomed.txt": "Hollowmere Keep guards the pass."})
    task = await stack.wait_task(tenant, body["task_id"], timeout_s=240)
    assert task["status"] == "failed"
    (doc,) = task["documents"]
    assert doc["status"] == "failed"
    assert "HTTP 500" in doc["error"]
    stack.fake.configure(fail_forever=False)
    later = await stack.texts(tenant, {"fine.txt": "Hollowmere Bridge spans the river."})
    assert (await stack.wait_task(tenant, later["task_id"]))["status"] == "succeeded"


async def test_a_document_whose_job_was_never_published_is_recovered(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus, redis: Redis
) -> None:
    """As if the process died between writing the records and publishing the job."""
    stack = await make_ingest(recovery_after_s=0.3, recovery_interval_s=0.2)
    tenant = await tenant_factory()
    records = Records(redis)
    doc_id, task_id = new_id("doc"), new_id("task")
    content = b"Saltmarsh Priory keeps bees."
    await records.create_document(
        tenant.id,
        {
            "doc_id": doc_id, "task_id": task_id, "name": "stranded.txt",
            "content_type": "text/plain", "size": str(len(content)), "sha256": "0" * 64,
            "metadata": "{}",
        },
    )  # fmt: skip
    await records.create_task(tenant.id, task_id, "ingest", [doc_id])
    await bus.files.write_bytes(f"{tenant.id}/{doc_id}", content)
    task = await stack.wait_task(tenant, task_id, timeout_s=60)
    assert task["status"] == "succeeded", task
    raw = await records.raw_document(tenant.id, doc_id)
    assert raw is not None
    assert raw["published"] == "1"


async def test_deleting_a_document_still_waiting_for_ocr(
    make_ingest: StackFactory, tenant_factory: TenantFactory, bus: Bus
) -> None:
    stack = await make_ingest()
    tenant = await tenant_factory()
    body = await _upload(stack, tenant, {"scan.png": png_bytes()})
    doc_id = body["documents"][0]["doc_id"]

    async def parsing() -> bool:
        doc = await stack.client.get(f"/v1/documents/{doc_id}", headers=tenant.headers)
        return bool(doc.json()["status"] == "parsing")

    await eventually(parsing)
    deleted = await stack.client.delete(f"/v1/documents/{doc_id}", headers=tenant.headers)
    assert deleted.status_code == 202
    task = await stack.wait_task(tenant, deleted.json()["task_id"])
    assert (task["status"], task["done"], task["documents"]) == ("succeeded", 1, [])
    assert (
        await stack.client.get(f"/v1/documents/{doc_id}", headers=tenant.headers)
    ).status_code == 404
    # The upload's own task counts it as done (gone) rather than hanging in "parsing".
    upload_task = await stack.wait_task(tenant, body["task_id"])
    assert upload_task["status"] == "succeeded"
    assert await bus.files.names(prefix=f"{tenant.id}/{doc_id}") == []
