"""How a ragapi document is named inside LightRAG, and back.

LightRAG's document id is our ``doc_id`` verbatim (a redelivered job finds its
earlier attempt). Its ``file_path`` is what citations carry, and LightRAG
refuses a second document with the same ``file_path``; two uploads may share a
name, so the doc_id rides along: ``"report.pdf (doc_123)"``. Content lists
are parsed from a file of that name plus ``.textpack`` (see :mod:`.multimodal`).
"""

from __future__ import annotations

_CHUNK_SEPARATOR = "-chunk-"
_PACKED = ".textpack"


def source_of(doc_id: str, name: str) -> str:
    """The ``file_path`` LightRAG stores for one document."""
    return f"{name} ({doc_id})"


def split_source(file_path: str, chunk_id: str = "") -> tuple[str, str]:
    """``(doc_id, name)`` from a stored ``file_path`` (chunk id as a fallback)."""
    if file_path.endswith(f"){_PACKED}"):
        file_path = file_path.removesuffix(_PACKED)
    name, sep, rest = file_path.rpartition(" (")
    if sep and rest.endswith(")"):
        return rest[:-1], name
    doc_id = chunk_id.rpartition(_CHUNK_SEPARATOR)[0] or chunk_id
    return doc_id, file_path
