"""Content lists through LightRAG's native parser and multimodal analysis.

The content list's markdown and images are bundled as a ``.textpack``, staged
for the run that parses it (see :mod:`.staging`), and enqueued as
``pending_parse`` for the ``native`` engine. LightRAG names that document
``doc-<md5(file name)>`` and stores the file name as its ``file_path``, so:

- the file name carries our doc_id and the upload's name,
  ``"report.pdf (doc_123).textpack"`` (see :mod:`.sources` for the way back);
- the enqueue's ``track_id`` is ``ragapi:<doc_id>``: delete and redelivery find
  LightRAG's document from our doc_id alone.

A document whose analysis answers LightRAG rejects is indexed again without
analysis, and the report says so (docs/decisions/0200-lightrag-native-multimodal.md).
"""

from __future__ import annotations

import asyncio
import glob
import io
import re
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragapi_common.errors import RagapiError
from ragapi_common.models import LlmClient
from ragapi_common.tenancy import Effective

from ._lightrag import (
    PARSED_DIR_NAME,
    DocStatus,
    LightRAG,
    compute_mdhash_id,
    normalize_document_file_path,
)
from .content import Markdown
from .functions import LlmFunction
from .runs import PipelineRun, guarded
from .sources import source_of
from .staging import staged

SUFFIX = ".textpack"
#: ``t`` tables, ``e`` equations (the LLM); ``i`` images (the VLM).
ANALYSIS_FLAGS = "tei"
_NAME_BYTES = 120
#: How LightRAG's analysis errors start: ``table/tb-…: missing or invalid field 'name'``.
_ANALYSIS_ITEM = re.compile(r"^(tables?|equations?|drawings?)/")


def track_id(doc_id: str) -> str:
    return f"ragapi:{doc_id}"


def file_name(doc_id: str, name: str) -> str:
    """The ``.textpack`` basename: no directories, no parser hints, bounded length."""
    safe = "".join(c for c in name if c.isprintable() and c not in "/\\")
    safe = safe.replace("[", "(").replace("]", ")")
    # Bytes, not characters: a file name component holds 255 bytes, and LightRAG
    # derives longer names from this one (``<name>.parsed``, ``.blocks.jsonl``).
    safe = safe.encode()[:_NAME_BYTES].decode(errors="ignore").strip(" .")
    return f"{source_of(doc_id, safe or 'document')}{SUFFIX}"


def lightrag_id(name: str) -> str:
    """LightRAG's id of a ``pending_parse`` document with this file name."""
    return str(compute_mdhash_id(normalize_document_file_path(name), prefix="doc-"))


def process_options(llm: bool, vlm: bool) -> str:
    """Tables and equations need the LLM, images the VLM; no LLM: chunks and vectors only."""
    if not llm:
        return "!"
    return "te" + ("i" if vlm else "")


def without_analysis(options: str) -> str:
    return "".join(flag for flag in options if flag not in ANALYSIS_FLAGS)


def _zip(doc: Markdown) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("text.md", doc.text)
        for path, data in doc.images.items():
            bundle.writestr(path, data)
    return buffer.getvalue()


def _remove(directory: Path, name: str) -> None:
    """What an earlier version left in the tenant's dir: the source and its sidecars."""
    parsed = directory / PARSED_DIR_NAME
    for path in (directory / name, parsed / name):
        path.unlink(missing_ok=True)
    if parsed.is_dir():
        for derived in parsed.glob(f"{glob.escape(name)}.parsed*"):
            shutil.rmtree(derived, ignore_errors=True)


def input_dir(rag: LightRAG) -> Path:
    """Where earlier versions staged this workspace's sources (before :mod:`.staging`)."""
    return Path(rag.working_dir) / str(rag.workspace)


def rejected_analysis(status: dict[str, Any]) -> bool:
    """Whether LightRAG failed the document over an analysis answer it could not use.

    Not when the model call itself failed (``"VLM call failed"``, ``"EXTRACT call
    failed"``): that is worth retrying with analysis, so the job fails and is redelivered.
    """
    message = str(status.get("error_msg") or "")
    return (
        status.get("status") == DocStatus.FAILED
        and _ANALYSIS_ITEM.match(message) is not None
        and "call failed" not in message
        and "cancelled" not in message
    )


async def _status(rag: LightRAG, lightrag_doc_id: str) -> dict[str, Any]:
    return await rag.doc_status.get_by_id(lightrag_doc_id) or {}


async def _run(rag: LightRAG, doc_id: str, name: str, doc: Markdown, options: str) -> None:
    async with staged(rag, name, await asyncio.to_thread(_zip, doc)):
        await rag.apipeline_enqueue_documents(
            "", file_paths=[name], track_id=track_id(doc_id), docs_format="pending_parse",
            parse_engine="native", process_options=options,
        )  # fmt: skip
        # Cancelled (shutdown), the run is stopped through LightRAG's own cancellation.
        await PipelineRun(rag, name="lightrag-pipeline-content").wait()


async def insert(
    rag: LightRAG, doc_id: str, name: str, doc: Markdown, options: str
) -> tuple[str, list[str]]:
    """Index ``doc`` once; LightRAG's document id and the warnings of a fallback.

    A processed earlier attempt (a redelivered job) is kept as it is.
    """
    source = file_name(doc_id, name)
    lightrag_doc_id = lightrag_id(source)
    if (await _status(rag, lightrag_doc_id)).get("status") == DocStatus.PROCESSED:
        return lightrag_doc_id, []
    await _clear(rag, doc_id)
    await _run(rag, doc_id, source, doc, options)
    status = await _status(rag, lightrag_doc_id)
    plain = without_analysis(options)
    if plain == options or not rejected_analysis(status):
        return lightrag_doc_id, []
    # One rejected analysis answer fails the whole document in LightRAG 1.5.7:
    # index the text, tables and equations without analysis rather than lose it.
    warning = f"multimodal analysis failed, indexed without it: {status.get('error_msg')}"
    await _clear(rag, doc_id)
    await _run(rag, doc_id, source, doc, plain)
    return lightrag_doc_id, [warning]


async def _clear(rag: LightRAG, doc_id: str) -> None:
    """Remove what an earlier attempt left (failed, half-processed) before indexing."""
    failures = await delete(rag, doc_id)
    if failures:
        raise RagapiError(f"replacing document {doc_id} failed: {'; '.join(failures)}")


async def delete(rag: LightRAG, doc_id: str) -> list[str]:
    """Remove every LightRAG document enqueued for ``doc_id``; their failures, if any."""
    documents = await rag.doc_status.get_docs_by_track_id(track_id(doc_id))
    failures = []
    for lightrag_doc_id, status in documents.items():
        result = await rag.adelete_by_doc_id(lightrag_doc_id, delete_llm_cache=True)
        if result.status not in ("success", "not_found"):
            failures.append(f"{lightrag_doc_id}: {result.message}")
        name = str(getattr(status, "file_path", "") or "")
        if name.endswith(SUFFIX):
            await asyncio.to_thread(_remove, input_dir(rag), Path(name).name)
    return failures


def vlm_function(client: LlmClient, tenant_id: str, effective: Effective) -> LlmFunction:
    """LightRAG's ``vlm`` role: its prompt and ``image_inputs`` as OpenAI content parts."""

    async def complete(
        prompt: str,
        system_prompt: str | None = None,
        image_inputs: Sequence[dict[str, Any]] | None = None,
        response_format: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        **_ignored: Any,
    ) -> str:
        parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
        for image in image_inputs or ():
            url = f"data:{image.get('mime_type') or 'image/png'};base64,{image['base64']}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        messages: list[dict[str, Any]] = []
        if system_prompt:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": parts})
        extra = {"response_format": response_format} if response_format else None
        return await guarded(client.complete(
            tenant_id, effective.vlm, effective.llm_limits, messages,
            max_tokens=max_tokens, extra_body=extra,
        ))  # fmt: skip

    return complete


def vlm_settings(client: LlmClient, tenant_id: str, effective: Effective) -> dict[str, Any]:
    """LightRAG constructor arguments for the tenant's VLM (none without one)."""
    if not effective.vlm.configured:
        return {}
    return {
        "role_llm_configs": {"vlm": {"func": vlm_function(client, tenant_id, effective)}},
        "vlm_process_enable": True,
    }
