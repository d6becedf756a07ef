"""``ragapi ingest PATH... [--wait]``: upload files and folders, then follow the task."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import httpx

from ragapi_cli.client import ApiError, api_client, call, raise_for_error
from ragapi_cli.multipart import MultipartUpload, collect_files
from ragapi_cli.progress import ProgressBar
from ragapi_cli.sse import events

FINAL_TASK_STATES = frozenset({"succeeded", "failed", "partial"})


def say(text: str) -> None:
    print(text, flush=True)


async def ingest_command(args: argparse.Namespace) -> int:
    parts = await collect_files([Path(path) for path in args.paths])
    if not parts:
        raise ApiError("no files found under the paths given")
    upload = MultipartUpload(parts)
    async with api_client(args.url, args.tenant_key, timeout_s=args.timeout) as client:
        answer = await _upload(client, upload)
        task_id = answer["task_id"]
        duplicates = sum(1 for doc in answer.get("documents", []) if doc.get("duplicate"))
        say(f"task {task_id}: {len(parts)} file(s) uploaded, {duplicates} already known")
        if not args.wait:
            return 0
        await _follow(client, task_id, len(answer.get("documents", [])))
        task = await call(client, "GET", f"/v1/tasks/{task_id}")
    return _report(task)


async def _upload(client: httpx.AsyncClient, upload: MultipartUpload) -> Any:
    total = sum(part.size for part in upload.parts)
    bar = ProgressBar("upload", total, unit="B")
    headers = {
        "content-type": upload.content_type,
        "content-length": str(upload.content_length()),
    }
    try:
        answer = await client.post(
            "/v1/documents", content=upload.stream(bar.advance), headers=headers
        )
    finally:
        bar.close()
    await raise_for_error(answer)
    return answer.json()


async def _follow(client: httpx.AsyncClient, task_id: str, documents: int) -> None:
    """Follow ``GET /v1/tasks/{id}/events`` until the task ends (or the stream does)."""
    bar = ProgressBar("index ", documents)
    try:
        async with client.stream("GET", f"/v1/tasks/{task_id}/events", timeout=None) as answer:
            await raise_for_error(answer)
            async for event in events(answer):
                task = event.json()
                # Task snapshots and counts carry ``total``; per-document events do not.
                if isinstance(task, dict) and "total" in task:
                    _draw(bar, task)
                    if event.event == "done" or task.get("status") in FINAL_TASK_STATES:
                        return
    finally:
        bar.close()


def _draw(bar: ProgressBar, task: dict[str, Any]) -> None:
    done, failed = int(task.get("done", bar.done) or 0), int(task.get("failed", 0) or 0)
    total = int(task.get("total", bar.total) or bar.total)
    bar.update(done + failed, total=total, suffix=f"{task.get('status', '')} failed={failed}")


def _report(task: dict[str, Any]) -> int:
    status = task.get("status", "")
    failed = [doc for doc in task.get("documents", []) if doc.get("status") == "failed"]
    for doc in failed:
        say(f"failed: {doc.get('name')} ({doc.get('doc_id')}): {doc.get('error', '')}")
    say(
        f"task {task.get('task_id')}: {status}, "
        f"{task.get('done', 0)}/{task.get('total', 0)} done, {task.get('failed', 0)} failed"
    )
    return 0 if status == "succeeded" else 1


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "ingest", parents=[common], help="upload files and folders into the tenant's index"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--wait", action="store_true", help="follow the task until it ends")
    parser.add_argument("--timeout", type=float, default=600.0, help="upload timeout (s)")
    parser.set_defaults(handler=ingest_command)
