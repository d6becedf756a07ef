"""RAG-Anything content lists rendered as the text LightRAG chunks and extracts from.

Tables become markdown (HTML tables are kept as they are: LightRAG's table
markup understands both), equations LaTeX blocks, images their VLM description
when the tenant has a ``vlm`` endpoint, else their caption. Each block is
labelled with its kind and page so that the extraction LLM makes graph nodes of
them and citations can point at the page. Why not LightRAG's own multimodal
parser pipeline: docs/decisions/0200-lightrag-native-multimodal.md.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

#: ``(image bytes, mime type, caption) -> description``
Describer = Callable[[bytes, str, str], Awaitable[str]]

VLM_PROMPT = (
    "Describe this image from a document for a search index: what it shows, every "
    "readable text, number and label, and what it means. Caption: {caption}"
)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(part) for part in value)
    return str(value or "").strip()


def _page(item: dict[str, Any]) -> str:
    page = item.get("page_idx")
    return f" (page {int(page) + 1})" if isinstance(page, int) else ""


def render_item(item: dict[str, Any]) -> str:
    """One content-list item as a text block ("" when it carries nothing)."""
    kind = item.get("type")
    if kind == "text":
        return _text(item.get("text"))
    if kind == "table":
        caption, body = _text(item.get("table_caption")), _text(item.get("table_body"))
        return f"[Table{_page(item)}] {caption}\n\n{body}".strip() if body or caption else ""
    if kind == "equation":
        latex, caption = _text(item.get("latex") or item.get("text")), _text(item.get("caption"))
        return f"[Equation{_page(item)}] {caption}\n\n$$\n{latex}\n$$".strip() if latex else ""
    if kind == "image":
        description = _text(item.get("description")) or _text(item.get("image_caption"))
        return f"[Image{_page(item)}] {description}" if description else ""
    return _text(item.get("text"))


def render(items: Sequence[dict[str, Any]]) -> str:
    """The whole document, blocks separated by blank lines."""
    return "\n\n".join(block for block in map(render_item, items) if block)


def _mime(path: str) -> str:
    lower = path.lower()
    if lower.endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    if lower.endswith(".webp"):
        return "image/webp"
    return "image/png"


async def describe_images(
    describer: Describer | None, items: list[dict[str, Any]], assets: dict[str, bytes]
) -> list[dict[str, Any]]:
    """Items with a ``description`` added to each image whose bytes are at hand."""
    if describer is None:
        return items

    async def one(item: dict[str, Any]) -> dict[str, Any]:
        data = assets.get(str(item.get("img_path") or ""))
        if item.get("type") != "image" or not data:
            return item
        caption = _text(item.get("image_caption"))
        description = await describer(data, _mime(str(item["img_path"])), caption)
        return {**item, "description": f"{caption} {description}".strip()}

    return list(await asyncio.gather(*(one(item) for item in items)))


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def vlm_prompt(caption: str) -> str:
    return VLM_PROMPT.format(caption=caption or "none")
