"""The console's static files as the query service serves them (in-process, no browser)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from ragapi_common.console import CSP, console_routes, load_files

FILES = load_files()
_IMPORT = re.compile(r"""(?:import|from)\s*["']([^"']+)["']""")
_HTML_REF = re.compile(r"""(?:src|href)="([^"#]+)\"""")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=console_routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as made:
        yield made


async def test_the_bare_prefix_redirects_to_the_index(client: httpx.AsyncClient) -> None:
    answer = await client.get("/console")
    assert answer.status_code == 308
    assert answer.headers["location"] == "/console/"
    index = await client.get("/console/")
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["content-security-policy"] == CSP


async def test_an_unchanged_file_answers_304_and_head_has_no_body(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get("/console/js/main.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/javascript")
    again = await client.get(
        "/console/js/main.js", headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    head = await client.head("/console/console.css")
    assert head.status_code == 200
    assert head.content == b""


async def test_unknown_files_and_paths_out_of_the_folder_answer_404(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/console/nope.js", "/console/vendor", "/console/%2e%2e/__init__.py"):
        answer = await client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["code"] == "not_found"


def test_every_module_and_asset_the_console_names_is_served() -> None:
    """A renamed file or a typo in an import would break the page: every relative import of
    our modules and every src/href of the index resolves to a file that is served."""
    referenced = {f"{m}" for m in _HTML_REF.findall(FILES["index.html"].body.decode())}
    for name, found in FILES.items():
        if name.startswith("js/"):
            for target in _IMPORT.findall(found.body.decode()):
                parts = ["js", *target.split("/")]
                resolved: list[str] = []
                for part in parts:
                    if part == "..":
                        resolved.pop()
                    elif part != ".":
                        resolved.append(part)
                referenced.add("/".join(resolved))
    missing = sorted(ref for ref in referenced if ref not in FILES)
    assert not missing
    assert "vendor/cytoscape.esm.min.js" in referenced


def test_our_files_name_no_other_origin_and_hold_no_inline_script() -> None:
    """Offline and under ``script-src 'self'``: no CDN, no web font, no inline handler."""
    for name, found in FILES.items():
        if name.startswith("vendor/"):
            continue
        text = found.body.decode()
        assert not re.search(r"(?:src|href|url\()\s*=?\s*[\"']?https?://", text), name
        if name.endswith(".html"):
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), name
            assert not re.search(r"\son[a-z]+=", text), name
