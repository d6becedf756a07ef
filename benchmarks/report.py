"""The comparison's JSON as a markdown table and PNG charts (QPS and p99 against concurrency).

python -m benchmarks.report benchmarks/results/compare.json   # rewrites .md and .png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

SYSTEM_STYLE = {
    "ragapi": ("tab:blue", "o"),
    "lightrag cache on": ("tab:orange", "s"),
    "lightrag cache off": ("tab:red", "^"),
}


def _ingest_rows(result: dict[str, Any]) -> list[str]:
    rows = [
        "| system | documents | seconds | docs/s | CPU-s per doc | with NATS+Redis | RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for system, ing in result["ingest"].items():
        rows.append(
            f"| {system} | {ing['documents']} | {ing['seconds']} | {ing['docs_per_s']} | "
            f"{ing['cpu_s_per_doc']} | {ing['tree_cpu_s_per_doc']} | {ing['rss_mb']} |"
        )
    return rows


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def _query_rows(result: dict[str, Any]) -> list[str]:
    rows = [
        "| system | mode | C | QPS | p50 ms | p95 ms | p99 ms | CPU ms/q | with NATS+Redis "
        "| errors | load 1m |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in result["cells"]:
        cpu = c["server_cpu_ms_per_query"]
        tree = c.get("server_tree_cpu_ms_per_query", cpu)
        # A window shorter than the median answer saw too few answers to be steady.
        short = " (!)" if c["p50_ms"] / 1000 > c["seconds"] else ""
        rows.append(
            f"| {c['system']} | {c['mode']} | {c['clients']}{short} | {c['qps']} | {c['p50_ms']} | "
            f"{c['p95_ms']} | {c['p99_ms']} | {_or_dash(cpu)} | {_or_dash(tree)} | "
            f"{c['errors']} | {c['load_1m'][0]}-{c['load_1m'][1]} |"
        )
    return rows


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    head = [
        f"Run {meta['started']} on {meta['cpus']} cores; load average (1 min) "
        f"{meta['load_1m_at_start']} at start, {meta['load_1m_at_end']} at end. "
        f"{meta['corpus']['documents']} documents, fake LLM {meta['latency_s']} s per call, "
        f"{meta['duration_s']} s per cell, LLM concurrency {meta['llm_concurrency']}.",
        "",
    ]
    rss = [
        f"{system} {mb['main_mb']} MB"
        + (f" (+ {mb['other_children_mb']} MB NATS and Redis)" if mb["other_children_mb"] else "")
        for system, mb in result.get("memory", {}).items()
    ]
    body = [
        *head,
        *_ingest_rows(result),
        "",
        *_query_rows(result),
        "",
        "(!): the cell's window was shorter than its median answer: few answers ended in it, so"
        " its QPS and CPU per query are rough; a longer `--duration` steadies them.",
        "",
        f"RSS after the queries: {'; '.join(rss)}.",
        "",
    ]
    return "\n".join(body)


def plot(result: dict[str, Any], path: Path) -> None:
    """One PNG: QPS (top) and p99 (bottom) against concurrency, a column per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(c["mode"] for c in result["cells"]))
    fig, axes = plt.subplots(2, len(modes), figsize=(5 * len(modes), 7), squeeze=False)
    for col, mode in enumerate(modes):
        for system in dict.fromkeys(c["system"] for c in result["cells"]):
            cells = [c for c in result["cells"] if c["system"] == system and c["mode"] == mode]
            cells.sort(key=lambda c: c["clients"])
            color, marker = SYSTEM_STYLE.get(system, ("tab:gray", "x"))
            xs = [c["clients"] for c in cells]
            for row, key in enumerate(("qps", "p99_ms")):
                ys = [c[key] if key == "qps" else c[key] / 1000 for c in cells]
                axes[row][col].plot(xs, ys, color=color, marker=marker, label=system)
        levels = sorted({c["clients"] for c in result["cells"]})
        for row, label in enumerate(("queries / s", "p99 latency, s")):
            ax = axes[row][col]
            ax.set_xscale("log", base=2)
            ax.set_xticks(levels, [str(n) for n in levels])
            ax.minorticks_off()
            ax.set_xlabel("concurrent clients (closed loop)")
            ax.set_ylabel(label)
            ax.set_title(f"{mode}: {label}")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small")
    meta = result["meta"]
    fig.suptitle(
        f"{meta['corpus']['documents']} docs, fake LLM {meta['latency_s']} s, "
        f"{meta['cpus']} cores, load {meta['load_1m_at_start']}-{meta['load_1m_at_end']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(result: dict[str, Any], json_path: Path) -> tuple[Path, Path]:
    """``json_path`` with ``.md`` and ``.png`` beside it."""
    md, png = json_path.with_suffix(".md"), json_path.with_suffix(".png")
    md.write_text(markdown(result), encoding="utf-8")
    plot(result, png)
    return md, png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path)
    path = parser.parse_args().json
    for written in write(json.loads(path.read_text(encoding="utf-8")), path):
        print(written)


if __name__ == "__main__":
    main()
