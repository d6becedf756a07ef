"""The CLI's pieces in-process: multipart body, SSE reader, credentials file, embedded servers."""

from __future__ import annotations

import hashlib
import socket
import stat
from pathlib import Path

import httpx
import psutil
import pytest
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ragapi_cli.embedded import EmbeddedServerError, embedded_servers, start_nats
from ragapi_cli.multipart import MultipartUpload, collect_files
from ragapi_cli.progress import ProgressBar
from ragapi_cli.sse import events
from ragapi_cli.state import load_credentials


async def _receive_files(request: Request) -> Response:
    received = []
    async with request.form() as form:
        for upload in form.getlist("files"):
            assert isinstance(upload, UploadFile)
            data = await upload.read()
            received.append({"name": upload.filename, "sha256": hashlib.sha256(data).hexdigest()})
    return JSONResponse({"files": received, "length": request.headers["content-length"]})


async def test_multipart_upload_streams_what_a_server_parses(tmp_path: Path) -> None:
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    files = {
        "docs/a.txt": b"hello",
        'docs/sub/中文 "q".md': "# 标题\n".encode() * 5000,
        "docs/sub/empty.bin": b"",
        "docs/.hidden": b"skipped",
        "one.pdf": b"%PDF-1.4 " + bytes(range(256)) * 4,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    parts = await collect_files([tmp_path / "docs", tmp_path / "one.pdf", tmp_path / "docs/a.txt"])
    upload = MultipartUpload(parts)
    sent: list[int] = []
    app = Starlette(routes=[Route("/up", _receive_files, methods=["POST"])])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        headers = {
            "content-type": upload.content_type,
            "content-length": str(upload.content_length()),
        }
        answer = await client.post("/up", content=upload.stream(sent.append), headers=headers)
    assert answer.status_code == 200, answer.text
    got = {item["name"]: item["sha256"] for item in answer.json()["files"]}
    expected = {
        Path(name).name: hashlib.sha256(data).hexdigest()
        for name, data in files.items()
        if ".hidden" not in name
    }
    assert got == expected
    assert sum(sent) == sum(len(data) for name, data in files.items() if ".hidden" not in name)


async def test_sse_reader_joins_lines_and_skips_comments() -> None:
    body = (
        b': keep-alive\n\nevent: references\ndata: {"references": []}\n\n'
        b'event: delta\ndata: line one\ndata: line two\n\ndata: {"x": 1}\n\n'
        b"event: done\ndata: {}"
    )
    answer = httpx.Response(200, content=body)
    got = [(event.event, event.json()) async for event in events(answer)]
    assert got == [
        ("references", {"references": []}),
        ("delta", "line one\nline two"),
        ("message", {"x": 1}),
        ("done", {}),
    ]


async def test_credentials_generated_once_private_and_env_wins(tmp_path: Path) -> None:
    first = await load_credentials(tmp_path / "data", admin_token="", secret_key="")
    assert first.generated
    assert len(first.admin_token) >= 40
    path = tmp_path / "data" / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = await load_credentials(tmp_path / "data", admin_token="", secret_key="")
    assert (again.admin_token, again.secret_key, again.generated) == (
        first.admin_token,
        first.secret_key,
        False,
    )
    given = await load_credentials(tmp_path / "data", admin_token="mine", secret_key="")
    assert (given.admin_token, given.secret_key) == ("mine", first.secret_key)


async def test_embedded_server_failure_is_reported_and_reaped(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = {p.pid for p in psutil.Process().children()}
        with pytest.raises(EmbeddedServerError, match="nats-server exited"):
            await start_nats(tmp_path, port=port, wait_s=10)
    left = [p for p in psutil.Process().children() if p.pid not in before]
    assert left == []


async def test_embedded_servers_stop_on_exit(tmp_path: Path) -> None:
    before = {p.pid for p in psutil.Process().children()}  # e.g. the session's servers
    async with embedded_servers(tmp_path, nats_url=None, redis_url=None) as endpoints:
        assert endpoints.nats_url.startswith("nats://127.0.0.1:")
        assert endpoints.redis_url.startswith("redis://127.0.0.1:")
        children = [p for p in psutil.Process().children() if p.pid not in before]
        assert {child.name() for child in children} >= {"nats-server", "redis-server"}
    assert not [child for child in children if child.is_running() and child.status() != "zombie"]
    given = "redis://example.invalid:6379/0"
    async with embedded_servers(tmp_path, nats_url="nats://x:1", redis_url=given) as endpoints:
        assert endpoints.redis_url == given


def test_progress_bar_renders_counts() -> None:
    bar = ProgressBar("upload", 2048, unit="B", stream=_Sink())
    bar.update(1024, suffix="half")
    assert bar.render(width=10) == "upload [#####.....] 1.0KB/2.0KB half"


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False
