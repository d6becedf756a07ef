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

# Rerank runs only where a tenant configures a reranker (``enable_rerank`` is
# passed per query); without this LightRAG warns on every query of the others.
_PROCESS_ENV = {
    "RERANK_BY_DEFAULT": "false",
    "EMBEDDING_FUNC_MAX_ASYNC": "4",
}
for _name, _value in _PROCESS_ENV.items():
    os.environ.setdefault(_name, _value)

from lightrag import LightRAG, QueryParam  # noqa: E402
from lightrag.base import DocStatus  # noqa: E402
from lightrag.kg import shared_storage  # noqa: E402
from lightrag.operate import kg_query, naive_query  # noqa: E402
from lightrag.utils import EmbeddingFunc, TiktokenTokenizer, Tokenizer, TokenSpan  # noqa: E402

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

__all__ = [
    "STORAGES",
    "DocStatus",
    "EmbeddingFunc",
    "LightRAG",
    "QueryParam",
    "TiktokenTokenizer",
    "TokenSpan",
    "Tokenizer",
    "kg_query",
    "naive_query",
    "shared_storage",
]
