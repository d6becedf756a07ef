"""Files built to exhaust the parsers, and names that only differ in Unicode normalisation:
each is a failed document that says why (or a 4xx), while the default tenant's probe keeps
answering within 1 s."""

from __future__ import annotations

import unicodedata

import httpx
import pytest

from tests.support.probe import Probe

from . import bombs
from .documents import failed_with_reason, settled, upload


async def test_a_pdf_of_5000_pages_fails_with_its_reason(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    document = await upload(client, "pages.pdf", bombs.many_pages(5000), "application/pdf")
    reason = await failed_with_reason(client, document["doc_id"])
    assert "5000 pages" in reason, reason


async def test_a_page_of_200_by_200_inches_is_not_rendered_whole(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    document = await upload(client, "huge-page.pdf", bombs.huge_page(), "application/pdf")
    # Rendered within the pixel budget: a blank page, nothing to index (said at once).
    reason = await failed_with_reason(client, document["doc_id"])
    assert "no content" in reason, reason


async def test_a_decompression_bomb_png_fails_with_its_reason(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    document = await upload(client, "bomb.png", bombs.png_bomb(), "image/png")
    reason = await failed_with_reason(client, document["doc_id"])
    assert "40000x40000" in reason, reason


@pytest.mark.parametrize("lie", [False, True], ids=["honest", "lying-directory"])
async def test_a_zip_bomb_inside_a_docx_fails_with_its_reason(
    client: httpx.AsyncClient, probe: Probe, lie: bool
) -> None:
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    document = await upload(client, "bomb.docx", bombs.docx_bomb(lie=lie), mime)
    reason = await failed_with_reason(client, document["doc_id"])
    assert reason, reason


async def test_invalid_utf8_in_a_text_file_is_processed_or_fails_with_its_reason(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    data = b"caf\xe9 cr\xe8me \xff\xfe\xfd broken \xc3\x28 bytes " * 50
    document = await upload(client, "broken.txt", data, "text/plain")
    done = await settled(client, document["doc_id"])
    assert done["status"] == "processed" or done.get("error"), done


async def test_names_equal_after_unicode_normalisation_are_one_name(
    client: httpx.AsyncClient, probe: Probe
) -> None:
    composed, decomposed = "caf\u00e9.txt", "cafe\u0301.txt"
    assert composed != decomposed
    assert unicodedata.normalize("NFC", decomposed) == composed
    first = await upload(client, composed, b"the first text about a cafe")
    second = await upload(client, decomposed, b"the second text about a cafe")
    same = await upload(client, decomposed, b"the first text about a cafe")
    # One spelling of the name; two documents (the bytes differ); the same bytes a duplicate.
    assert first["name"] == second["name"] == composed
    assert first["doc_id"] != second["doc_id"]
    assert same["duplicate"] is True
    assert same["doc_id"] == first["doc_id"]
    for document in (first, second):
        assert (await settled(client, document["doc_id"]))["status"] == "processed"
