"""The local graph's batch reads, one graph look-up per batch instead of one per item.

A mix query reads the nodes and degrees of its ~40 entities, the edges of
each, then the properties and degrees of every one of those edges (hundreds
on the benchmark corpus). ``NetworkXStorage`` inherits LightRAG's default
batch methods, which await the per-item method for each id, and each of
those enters the storage's lock and checks the commit gate
(``_get_graph``): two context switches of :class:`~.readers.ReadersPass`
and a gate check per edge. Here each batch takes the graph once and reads
every item from it with the per-item methods' own expressions (same copies,
same defaults); between two awaits the graph is a whole state (see
:mod:`.readers`), so a batch sees one state rather than possibly several.

The chunk records a query reads (``JsonKVStorage.get_by_ids``, ~40 a mix
query, twice) are returned as deep copies, so a caller cannot alter the
stored row; ``copy.deepcopy`` of those JSON records cost ~4 % of a mix query.
:func:`json_copy` makes the same copy of JSON data (dicts, lists, scalars)
without deepcopy's memo, and defers to it for anything else.
"""

from __future__ import annotations

import copy
from typing import Any

#: The storage class whose inherited per-item batches these replace.
STORAGE = "NetworkXStorage"
#: The storage class whose ``get_by_ids`` is given cheaper copies.
KV_STORAGE = "JsonKVStorage"
_SCALARS = (str, int, float, bool, type(None))


async def _graph(storage: Any) -> Any:
    return await storage._get_graph()


def _get_nodes(storage: Any) -> Any:
    async def get_nodes_batch(node_ids: list[str]) -> dict[str, dict[str, Any]]:
        graph = await _graph(storage)
        found = {}
        for node_id in node_ids:
            node = graph.nodes.get(node_id)
            if node is not None:
                found[node_id] = dict(node)
        return found

    return get_nodes_batch


def _degree(graph: Any, node_id: str) -> int:
    return int(graph.degree(node_id)) if graph.has_node(node_id) else 0


def _node_degrees(storage: Any) -> Any:
    async def node_degrees_batch(node_ids: list[str]) -> dict[str, int]:
        graph = await _graph(storage)
        return {node_id: _degree(graph, node_id) for node_id in node_ids}

    return node_degrees_batch


def _edge_degrees(storage: Any) -> Any:
    async def edge_degrees_batch(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        graph = await _graph(storage)
        return {(src, tgt): _degree(graph, src) + _degree(graph, tgt) for src, tgt in pairs}

    return edge_degrees_batch


def _get_edges(storage: Any) -> Any:
    async def get_edges_batch(pairs: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        graph = await _graph(storage)
        found = {}
        for pair in pairs:
            key = (pair["src"], pair["tgt"])
            edge = graph.edges.get(key)
            if edge is not None:
                found[key] = dict(edge)
        return found

    return get_edges_batch


def _nodes_edges(storage: Any) -> Any:
    async def get_nodes_edges_batch(node_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        graph = await _graph(storage)
        return {
            node_id: list(graph.edges(node_id)) if graph.has_node(node_id) else []
            for node_id in node_ids
        }

    return get_nodes_edges_batch


BATCHES = {
    "get_nodes_batch": _get_nodes,
    "node_degrees_batch": _node_degrees,
    "edge_degrees_batch": _edge_degrees,
    "get_edges_batch": _get_edges,
    "get_nodes_edges_batch": _nodes_edges,
}


def json_copy(value: Any) -> Any:
    """``copy.deepcopy(value)`` for JSON data, without the memo of shared references."""
    kind = type(value)
    # Scalars are taken as they are without a call each: most of a record's values.
    if kind is dict:
        return {
            key: item if type(item) in _SCALARS else json_copy(item) for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _SCALARS else json_copy(item) for item in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


def _kv_get_by_ids(storage: Any) -> Any:
    """``JsonKVStorage.get_by_ids`` (1.5.7) with :func:`json_copy` for ``copy.deepcopy``."""

    async def get_by_ids(ids: list[str]) -> list[dict[str, Any] | None]:
        async with storage._storage_lock:
            results: list[dict[str, Any] | None] = []
            for record_id in ids:
                data = storage._data.get(record_id, None)
                if not data:
                    results.append(None)
                    continue
                result = json_copy(data)
                result.setdefault("create_time", 0)
                result.setdefault("update_time", 0)
                result["_id"] = record_id
                results.append(result)
            return results

    return get_by_ids


def install_kv(storage: Any) -> None:
    """Give a ``JsonKVStorage`` instance :func:`json_copy` reads (others are left alone)."""
    if type(storage).__name__ == KV_STORAGE:
        storage.get_by_ids = _kv_get_by_ids(storage)


def install(storage: Any) -> None:
    """Give a ``NetworkXStorage`` instance one-look-up batch reads (others are left alone)."""
    if type(storage).__name__ != STORAGE:
        return
    for name, make in BATCHES.items():
        # An instance attribute shadows the inherited method for this storage only.
        setattr(storage, name, make(storage))
