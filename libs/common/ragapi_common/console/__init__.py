"""The web console: static files (plain ES modules and CSS) served at ``/console/``.

The query service mounts these routes, so ``ragapi up`` serves the console on its one port
and, in Kubernetes, the Ingress routes ``/console`` to the query service
(docs/decisions/0014-console.md). The console calls only the public HTTP API.

The files are read once when the routes are built (about 0.6 MB) and answered from memory:
no file I/O per request. Every answer carries a strict Content-Security-Policy (no inline
script, nothing from another origin).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

PREFIX = "/console"

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".LICENSE": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


def load_files(root: Traversable | None = None) -> dict[str, StaticFile]:
    """Every file under ``static/`` by its path relative to it (``js/api.js``)."""
    root = root or resources.files(__package__).joinpath("static")
    found: dict[str, StaticFile] = {}
    pending: list[tuple[str, Traversable]] = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                pending.append((name + "/", entry))
                continue
            suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
            body = entry.read_bytes()
            media_type = _TYPES.get(suffix, "application/octet-stream")
            found[name] = StaticFile(
                body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            )
    return found


class ConsoleFiles:
    """Answers ``GET /console/{path}`` from memory; ``/console/`` is ``index.html``."""

    def __init__(self, files: dict[str, StaticFile]) -> None:
        self.files = files

    async def serve(self, request: Request) -> Response:
        path = request.path_params.get("path", "") or "index.html"
        found = self.files.get(path)
        if found is None:
            body = b'{"error":{"code":"not_found","message":"no such console file"}}'
            return Response(body, 404, headers=SECURITY_HEADERS, media_type="application/json")
        headers = {**SECURITY_HEADERS, "etag": found.etag}
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else found.body
        return Response(body, headers=headers, media_type=found.media_type)


async def _to_slash(request: Request) -> Response:
    return RedirectResponse(PREFIX + "/", status_code=308)


def console_routes(files: dict[str, StaticFile] | None = None) -> list[BaseRoute]:
    """``/console`` (redirect) and ``/console/{path}``, outside the OpenAPI document."""
    console = ConsoleFiles(files if files is not None else load_files())
    return [
        Route(PREFIX, _to_slash, methods=["GET", "HEAD"], include_in_schema=False),
        Route(
            PREFIX + "/{path:path}", console.serve, methods=["GET", "HEAD"], include_in_schema=False
        ),
    ]
