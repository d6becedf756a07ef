"""Forgetting one workspace's share of LightRAG's process-wide in-memory state.

``lightrag.kg.shared_storage`` keeps module-level dicts keyed by
``"<workspace>:<namespace>"``: the JSON KV data itself, "already loaded" flags,
update flags, a per-process namespace cache, the pipeline status, ingress and
scan-job registries. A finalized instance leaves all of it behind, so a new
instance for the same workspace would skip loading its files and see the stale
memory. LightRAG has no per-workspace teardown; this is it.
"""

from __future__ import annotations

from typing import Any

from ._lightrag import shared_storage

_REGISTRIES = (
    "_shared_dicts",
    "_init_flags",
    "_update_flags",
    "_namespace_data_cache",
    "_pipeline_ingress_local",
    "_scan_job_store_local",
)


def reset_workspace_state(workspace: str) -> int:
    """Drop every shared entry of ``workspace``; returns how many were dropped.

    Call only once no instance of the workspace is running (after
    ``finalize_storages``). Synchronous and await-free on purpose: nothing can
    interleave between the scan and the deletes.
    """
    prefix = f"{workspace}:"
    dropped = 0
    for name in _REGISTRIES:
        registry: dict[str, Any] | None = getattr(shared_storage, name, None)
        if not registry:
            continue
        for key in [key for key in registry if str(key).startswith(prefix)]:
            del registry[key]
            dropped += 1
    return dropped
