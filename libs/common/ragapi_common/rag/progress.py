"""How far LightRAG has got with one document, read from its own status (nothing written).

A 100 MB text is ~24,000 chunks and, with an LLM, ~47,000 extraction calls:
minutes to hours in ``indexing``. LightRAG reports each extracted chunk in its
workspace's pipeline status (``Chunk 1234 of 24000 extracted 3 Ent + 2 Rel
<doc_id>-chunk-1233``); the chunk id tells which document the line is about,
since one pipeline run indexes several documents of a tenant at once.
"""

from __future__ import annotations

import re

from ._lightrag import shared_storage
from .api import TenantRag
from .tenant import LightRagTenant

_EXTRACTED = re.compile(r"^Chunk (\d+) of (\d+) extracted .*\s(\S+)-chunk-\d+\s*$")


async def indexing_progress(tenant: TenantRag, doc_id: str) -> str | None:
    """``"1,234 of 24,000 chunks extracted"``, ``"24,000 chunks"``, or None (not yet known)."""
    if not isinstance(tenant, LightRagTenant):
        return None
    rag = tenant.rag
    status = await shared_storage.get_namespace_data("pipeline_status", workspace=rag.workspace)
    match = _EXTRACTED.match(str(status.get("latest_message") or ""))
    if match is not None and match.group(3) == doc_id:
        done, total = int(match.group(1)), int(match.group(2))
        return f"{done:,} of {total:,} chunks extracted"
    record = await rag.doc_status.get_by_id(doc_id)
    chunks = int((record or {}).get("chunks_count") or 0)
    return f"{chunks:,} chunks" if chunks else None
