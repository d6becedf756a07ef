"""The one import site of lightrag, with the process-wide settings it reads.

LightRAG reads several knobs from the environment when its modules are first
imported (query defaults, concurrency defaults) and picks storage backends by
class name. Everything ragapi needs of that is decided here, once, before the
first ``import lightrag``; every other module of this package imports LightRAG
names from here.
"""

from __future__ import annotations

import logging
import os
import sys

# Rerank runs only where a tenant configures a reranker (``enable_rerank`` is
# passed per query); without this LightRAG warns on every query of the others.
_PROCESS_ENV = {
    "RERANK_BY_DEFAULT": "false",
    "EMBEDDING_FUNC_MAX_ASYNC": "4",
    # Content lists bundle their images; a document must never make the parser
    # fetch URLs it names.
    "NATIVE_MD_IMAGE_DOWNLOAD_ENABLED": "false",
}
for _name, _value in _PROCESS_ENV.items():
    os.environ.setdefault(_name, _value)

# pypinyin costs 55 MB of RSS (measured, a fresh process) and LightRAG imports it
# only to sort doc-status listings by file path, which ragapi never asks for (its
# document list comes from Redis). A None entry makes LightRAG's guarded import
# fail, so it falls back to plain sorting; its "not installed" warning is dropped.
sys.modules.setdefault("pypinyin", None)  # type: ignore[arg-type]


def _not_about_pinyin(record: logging.LogRecord) -> bool:
    return "pypinyin" not in str(record.msg)


logging.getLogger("lightrag").addFilter(_not_about_pinyin)

from lightrag import LightRAG, QueryParam  # noqa: E402
from lightrag import operate as lightrag_operate  # noqa: E402
from lightrag import utils as lightrag_utils  # noqa: E402
from lightrag.base import BaseVectorStorage, DocStatus  # noqa: E402
from lightrag.constants import DEFAULT_PROCESSING_PRIORITY, PARSED_DIR_NAME  # noqa: E402
from lightrag.exceptions import IndexFlushError, PipelineCancelledException  # noqa: E402
from lightrag.kg import STORAGE_IMPLEMENTATIONS, shared_storage  # noqa: E402
from lightrag.kg import STORAGES as _LIGHTRAG_STORAGES  # noqa: E402
from lightrag.operate import kg_query, naive_query  # noqa: E402
from lightrag.utils import (  # noqa: E402
    EmbeddingFunc,
    TiktokenTokenizer,
    TokenBudgetError,
    Tokenizer,
    TokenSpan,
    compute_mdhash_id,
    generate_reference_list_from_chunks,
    render_chunks_context_text,
    run_in_tokenizer_executor,
    truncate_list_by_token_size,
)
from lightrag.utils_pipeline import normalize_document_file_path  # noqa: E402

logging.getLogger("lightrag").removeFilter(_not_about_pinyin)

# LightRAG logs every pipeline step at INFO; ragapi logs outcomes itself.
for _logger in ("lightrag", "nano-vectordb"):
    logging.getLogger(_logger).setLevel(logging.WARNING)


#: Storage class names per ``RAGAPI_STORAGE_PROFILE``.
STORAGES: dict[str, dict[str, str]] = {
    "local": {
        "kv_storage": "JsonKVStorage",
        "vector_storage": "NanoVectorDBStorage",
        "graph_storage": "NetworkXStorage",
        "doc_status_storage": "JsonDocStatusStorage",
    },
    # The graph on plain tables (no Apache AGE); vectors need pgvector.
    "postgres": {
        "kv_storage": "PGKVStorage",
        "vector_storage": "PGVectorStorage",
        "graph_storage": "PGTableGraphStorage",
        "doc_status_storage": "PGDocStatusStorage",
    },
}


def register_vector_storage(name: str, module: str) -> None:
    """Let LightRAG build vector storage class ``name`` of ``module`` (an absolute import path).

    LightRAG accepts only the storage names it lists and imports each from its
    registry; a storage of ragapi's (.qdrant_storage) is added to both.
    """
    names = STORAGE_IMPLEMENTATIONS["VECTOR_STORAGE"]["implementations"]
    if name not in names:
        names.append(name)
    _LIGHTRAG_STORAGES[name] = module


__all__ = [
    "DEFAULT_PROCESSING_PRIORITY",
    "PARSED_DIR_NAME",
    "STORAGES",
    "BaseVectorStorage",
    "DocStatus",
    "EmbeddingFunc",
    "IndexFlushError",
    "LightRAG",
    "PipelineCancelledException",
    "QueryParam",
    "TiktokenTokenizer",
    "TokenBudgetError",
    "TokenSpan",
    "Tokenizer",
    "compute_mdhash_id",
    "generate_reference_list_from_chunks",
    "kg_query",
    "lightrag_operate",
    "lightrag_utils",
    "naive_query",
    "normalize_document_file_path",
    "register_vector_storage",
    "render_chunks_context_text",
    "run_in_tokenizer_executor",
    "shared_storage",
    "truncate_list_by_token_size",
]
